"""SigV4 checking, when credentials are configured: the signature is recomputed with botocore's
own signer over exactly the headers the client signed, and compared.

Without configured credentials every request is accepted (the default, as a local twin should).
"""

from __future__ import annotations

import datetime
import hmac
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
