"""AWS-style pagination: `maxResults` and an opaque `nextToken`."""

from __future__ import annotations

import base64
from itertools import islice
from typing import Iterable

from .errors import ServiceError


def page(items: list, params: dict, default_size: int = 100) -> tuple[list, str | None]:
    """One page of `items` and the token of the next (here: the offset, base64-encoded)."""
    return page_of(items, params, default_size, total=len(items))


def page_of(items: Iterable, params: dict, default_size: int = 100,
            total: int | None = None) -> tuple[list, str | None]:
    """page() of an iterable, read only as far as the page goes: the first page of a history of
    100k executions costs what its 100 cost (a list of them all took ~5 ms). With `total` known,
    a token past the end is refused; without it (a filtered history) it gives an empty page."""
    start = 0
    token = params.get("nextToken")
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise ServiceError("InvalidNextTokenException", "The next token is not valid") from None
        if start < 0 or (total is not None and start > total):
            raise ServiceError("InvalidNextTokenException", "The next token is not valid")
    size = params.get("maxResults") or default_size
    chunk = list(islice(items, start, start + size + 1))  # one more: is there a next page?
    more = len(chunk) > size
    return chunk[:size], base64.urlsafe_b64encode(str(start + size).encode()).decode() if more else None


def execution_filter(params: dict) -> tuple[str | None, bool]:
    """ListActionExecutions' and ListRuleExecutions' filter: (the execution asked for, whether
    only each action's or rule's latest run in it is wanted: `latestInPipelineExecution` with
    startTimeRange Latest)."""
    found = params.get("filter") or {}
    latest = found.get("latestInPipelineExecution")
    if latest:
        return latest["pipelineExecutionId"], latest["startTimeRange"] == "Latest"
    return found.get("pipelineExecutionId"), False


def latest_runs(details: list[dict], name: str) -> list[dict]:
    """The newest of each (stage, `name`) among `details` (newest first)."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for detail in details:
        key = (detail["stageName"], detail[name])
        if key not in seen:
            seen.add(key)
            kept.append(detail)
    return kept
