"""Which Host headers the daemon answers, and headers every answer carries.

DNS rebinding: a page on `evil.example` whose name is made to resolve to 127.0.0.1 reaches the
daemon from a reader's browser with `Host: evil.example` (same-origin for the browser, so no
Origin check helps). The daemon therefore answers only host names it knows: `localhost`, the
name its own containers use (`host.docker.internal`, or the name of its container endpoint),
and the names given with `--allowed-host` / PIPEMU_ALLOWED_HOSTS. An IP literal is always
answered: rebinding needs a name. Others get 421 Misdirected Request, before anything else runs.

Every answer also says `X-Content-Type-Options: nosniff` (no answer is to be read as another type).
"""

from __future__ import annotations

import ipaddress
import json
from typing import Iterable

ALWAYS = frozenset({"localhost", "host.docker.internal"})


def host_name(header: str) -> str:
    """`Host` header -> the bare name or address, lower case (`[::1]:7788` -> `::1`)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostAllowList:
    """ASGI middleware: refuses unknown Host names (421) and adds `nosniff` to every answer."""

    def __init__(self, app, names: Iterable[str] = ()) -> None:
        self.app = app
        self.names = ALWAYS | {n.strip().lower() for n in names if n and n.strip()}

    def allowed(self, header: str) -> bool:
        name = host_name(header)
        return name in self.names or name.endswith(".localhost") or _is_address(name)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        if not self.allowed(host):
            body = json.dumps({"__type": "MisdirectedRequestException",
                               "message": f"Host '{host}' is not one this daemon answers (start it with "
                                          "--allowed-host NAME to add one)"}).encode()
            await send({"type": "http.response.start", "status": 421, "headers": [
                (b"content-type", b"application/x-amz-json-1.1"), (b"content-length", str(len(body)).encode()),
                (b"x-content-type-options", b"nosniff")]})
            await send({"type": "http.response.body", "body": body})
            return

        async def with_nosniff(message) -> None:
            if message["type"] == "http.response.start":
                existing = [h for h in message.get("headers", []) if h[0].lower() != b"x-content-type-options"]
                message = {**message, "headers": [*existing, (b"x-content-type-options", b"nosniff")]}
            await send(message)

        await self.app(scope, receive, with_nosniff)
