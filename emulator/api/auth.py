"""SigV4 checking: the signature is recomputed with botocore's own signer over exactly the
headers the client signed, and compared; `Access` says which requests must be signed, and with
which keys (the daemon's own, given to its containers; the user's, when configured).
"""

from __future__ import annotations

import datetime
import hmac
import ipaddress
import re

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[^,]+),\s*Signature=(?P<signature>[0-9a-f]+)"
)
MAX_SKEW = datetime.timedelta(minutes=15)  # as AWS


class AuthError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def verify(method: str, url: str, headers: dict[str, str], body: bytes, secrets: dict[str, str],
           now: datetime.datetime | None = None) -> str:
    """The access key id of a correctly signed request; AuthError (AWS's code) otherwise.
    `headers` are lower-cased names."""
    authorization = headers.get("authorization")
    if not authorization:
        raise AuthError("MissingAuthenticationTokenException", "Missing Authentication Token")
    match = _AUTHORIZATION.fullmatch(authorization.strip())
    if match is None:
        raise AuthError("IncompleteSignatureException", "Authorization header is not a valid AWS4-HMAC-SHA256 signature")
    secret = secrets.get(match["key"])
    if secret is None:
        raise AuthError("UnrecognizedClientException", "The security token included in the request is invalid.")
    stamp = headers.get("x-amz-date", "")
    try:
        signed_at = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        raise AuthError("IncompleteSignatureException", "X-Amz-Date is missing or malformed") from None
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if abs(now - signed_at) > MAX_SKEW:
        raise AuthError("InvalidSignatureException", f"Signature expired: {stamp} is now earlier than the allowed skew")
    signed = match["signed"].split(";")
    missing = [h for h in signed if h not in headers and h != "host"]  # the signer derives host from the URL
    if missing:
        raise AuthError("IncompleteSignatureException", f"Signed header(s) missing: {', '.join(missing)}")
    request = AWSRequest(method=method, url=url, data=body, headers={h: headers[h] for h in signed if h in headers})
    request.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(match["key"], secret), match["service"], match["region"])
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, match["signature"]):
        raise AuthError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
        )
    return match["key"]


class Access:
    """Who must sign, and with which keys.

    - `own`: the daemon's own keys, given to every container it starts (daemon/credentials.py).
    - `configured`: the keys of `--access-key/--secret-key`, for its users.
    - `host_addresses`: the host's own addresses on Docker's networks (the gateways): a request
      from one of them, or from loopback, comes from this machine's users, not from a container.

    Without configured keys, requests from the host are open (as other local emulators are) and
    every other request must be signed with the daemon's own keys: a container that pipemu did not
    start has none. With configured keys, every request must be signed, with either.
    """

    def __init__(self, own: dict[str, str] | None = None, configured: dict[str, str] | None = None,
                 host_addresses=()) -> None:
        self.own = dict(own or {})
        self.configured = dict(configured or {})
        # A set, or a function giving the current one (networks joined later add theirs).
        self._host_addresses = host_addresses if callable(host_addresses) else frozenset(host_addresses)

    @property
    def host_addresses(self):
        found = self._host_addresses
        return found() if callable(found) else found

    def from_host(self, peer: str | None) -> bool:
        try:
            address = ipaddress.ip_address(peer or "")
        except ValueError:
            return False
        if getattr(address, "ipv4_mapped", None):
            address = address.ipv4_mapped
        return address.is_loopback or str(address) in self.host_addresses

    def keys_for(self, peer: str | None) -> dict[str, str] | None:
        """The keys a request from `peer` must be signed with; None: it need not be signed."""
        if self.configured:
            return {**self.own, **self.configured}
        if not self.own or self.from_host(peer):
            return None
        return dict(self.own)
