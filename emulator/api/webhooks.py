"""The webhooks' own endpoint: `POST /webhooks/trigger?t=<token>&v=1`, what a webhook's URL
(PutWebhook, ListWebhooks) points at, as AWS's `https://<region>.webhooks.aws/trigger` does.

Not SigV4-signed: GitHub or any other system calls it, and the webhook's own authentication
(GITHUB_HMAC, IP) protects it (service/webhooks.py). An UNAUTHENTICATED webhook starts its
pipeline for anyone who can reach the daemon and knows its URL, as on AWS.
"""

from __future__ import annotations

import json
from email.utils import formatdate

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from emulator.service import StateNotWritable, ServiceError
from emulator.service.webhooks import WebhookRefused

from .wire import _TooLarge, _body

MAX_PAYLOAD = 25 * 1024 * 1024  # GitHub caps the payloads it sends at 25 MB


def _answer(status: int, body: dict) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json",
                    headers={"Date": formatdate(usegmt=True)})


async def trigger(request: Request, service) -> Response:
    token = request.query_params.get("t")
    if not token:
        return _answer(404, {"message": "Webhook not found"})
    try:
        raw = await _body(request, MAX_PAYLOAD)
    except _TooLarge:
        return _answer(413, {"message": f"The payload is larger than {MAX_PAYLOAD} bytes"})
    address = request.client.host if request.client else None
    try:
        started = await run_in_threadpool(service.webhook_called, token, raw, request.headers, address)
    except WebhookRefused as refused:
        return _answer(refused.status, {"message": refused.message})
    except ServiceError as error:  # the engine refused the start (e.g. the pipeline is being deleted)
        return _answer(409, {"message": error.message})
    except StateNotWritable as error:
        return _answer(503, {"message": str(error)})
    return _answer(200, started)
