"""AWS's JSON 1.0 protocol for a service botocore models with it (CloudWatch: `POST /`,
`X-Amz-Target: GraniteServiceVersion20100801.<Operation>`, `Content-Type:
application/x-amz-json-1.0`). boto3 and the AWS CLI pick it for CloudWatch today: its model lists
`smithy-rpc-v2-cbor`, `json` and `query`, and botocore prefers JSON.

The body is read and checked by the operation's input shape, the service method answers a dict
(timestamps as epoch seconds, which is how this protocol sends them), and errors are
`{"__type": "<error shape>", "message"}` with the status the error carries. A service that was a
query service (`awsQueryCompatible`) also says its query error code in `x-amzn-query-error:
Code;Sender`, which is what clients report as the code (`ResourceNotFound`, not the shape name).
"""

from __future__ import annotations

import json
import logging
import uuid

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from emulator.service import ServiceError

from . import shapes
from .query import _snake, model
from .wire import MAX_DEPTH, _too_deep, without_nulls

log = logging.getLogger(__name__)


def target_prefix(service: str) -> str:
    return model(service).metadata["targetPrefix"] + "."


def _error_shapes(service: str) -> dict[str, str]:
    """Query error code -> the error shape's name (`InvalidFormat` -> `InvalidFormatFault`)."""
    found = {}
    for name in model(service).shape_names:
        shape = model(service).shape_for(name)
        if shape.metadata.get("exception"):
            found[shape.metadata.get("error", {}).get("code", name)] = name
    return found


def error_response(service: str, code: str, message: str, status: int = 400) -> Response:
    headers = {"x-amzn-RequestId": str(uuid.uuid4())}
    if "awsQueryCompatible" in model(service).metadata:
        headers["x-amzn-query-error"] = f"{code};{'Sender' if status < 500 else 'Receiver'}"
    body = {"__type": _error_shapes(service).get(code, code), "message": message}
    return Response(json.dumps(body), status_code=status, headers=headers,
                    media_type=f"application/x-amz-json-{model(service).metadata.get('jsonVersion', '1.0')}")


async def handle(raw: bytes, target: str, service: str, backend, operations: tuple[str, ...]) -> Response:
    """Answer one JSON 1.0 request for `service` with `backend`'s method of the operation."""
    operation = target[len(target_prefix(service)):]
    if operation not in operations:
        known = operation in model(service).operation_names
        return error_response(service, "UnknownOperationException", f"Operation {operation} is not supported by "
                              "pipeline-emulator" if known else f"Unknown operation {operation}")
    try:
        params = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        return error_response(service, "SerializationException", f"Request body is not valid JSON: {error}")
    if not isinstance(params, dict):
        return error_response(service, "SerializationException", "Request body must be a JSON object")
    if _too_deep(params):  # before any recursive walk over it could exhaust the stack
        return error_response(service, "SerializationException", f"Request body is nested deeper than {MAX_DEPTH} levels")
    params = without_nulls(params)  # AWS reads a null member as an absent one
    op = model(service).operation_model(operation)
    if op.input_shape is not None:
        violations = shapes.validate_value(op.input_shape, params)
        if violations:
            return error_response(service, "ValidationError", shapes.first_violation_message(violations))
    try:
        body = await run_in_threadpool(getattr(backend, _snake(operation)), params)
    except ServiceError as error:
        return error_response(service, error.code, error.message, error.status)
    except Exception:  # a bug of ours: say so in AWS's words, keep serving
        log.exception("%s failed", operation)
        return error_response(service, "InternalFailure", f"{operation} failed inside pipeline-emulator", 500)
    return Response(json.dumps(without_nulls(body)), headers={"x-amzn-RequestId": str(uuid.uuid4())},
                    media_type=f"application/x-amz-json-{model(service).metadata.get('jsonVersion', '1.0')}")
