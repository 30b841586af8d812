"""AWS-style pagination: `maxResults` and an opaque `nextToken`."""

from __future__ import annotations

import base64

from .errors import ServiceError


def page(items: list, params: dict, default_size: int = 100) -> tuple[list, str | None]:
    """One page of `items` and the token of the next (here: the offset, base64-encoded)."""
    start = 0
    token = params.get("nextToken")
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise ServiceError("InvalidNextTokenException", "The next token is not valid") from None
        if start < 0 or start > len(items):
            raise ServiceError("InvalidNextTokenException", "The next token is not valid")
    size = params.get("maxResults") or default_size
    chunk = items[start : start + size]
    more = start + size < len(items)
    return chunk, base64.urlsafe_b64encode(str(start + size).encode()).decode() if more else None
