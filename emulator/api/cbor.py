"""Smithy RPC v2 CBOR for the CodePipeline API: `POST /service/CodePipeline_20150709/operation/<Operation>`
with `smithy-protocol: rpc-v2-cbor` and CBOR bodies (https://smithy.io/2.0/additional-specs/protocols/smithy-rpc-v2.html).

botocore's model lists this protocol first for CodePipeline (`protocols: ["smithy-rpc-v2-cbor",
"json"]`); clients that prefer it (botocore with its priority changed, other SDKs) send it.
Everything but the wire is wire.py's, shared with JSON 1.1: the guards (origin, size, SigV4 as
`codepipeline`), the operation list, validation against the input shape, the service call and
the mapping of its errors.

The wire, as botocore's RpcV2CBORSerializer/RpcV2CBORParser and the spec have it:
- a request's body is one CBOR map (or nothing, for an operation without input); timestamps are
  tag 1 (epoch seconds, integer or float), blobs byte strings. They are turned into the JSON form
  the service and the validator read (epoch seconds, base64 text), driven by the input shape.
- an answer is a CBOR map written by the output shape (timestamps as tag 1, blobs as byte
  strings); an operation with no output shape answers an empty body.
- an error is a CBOR map `{"__type": "<namespace>#<Error>", "message"}` with the status the error
  carries; clients keep what follows `#`.
- every answer carries `smithy-protocol: rpc-v2-cbor`. CodePipeline's model is not
  `awsQueryCompatible`, so no `x-amzn-query-error` header is sent (clients read `__type`).
- routing errors (a missing or other `smithy-protocol`, an `X-Amz-Target` header, which the spec
  forbids in this protocol, an operation the service does not have or we do not answer) are 404
  as Smithy's own server framework answers them (smithy-rs's RpcV2CborRouter); unlike it, we send
  a body naming UnknownOperationException, so that clients report a code rather than "404".
- a Content-Type other than application/cbor on a body is 415, an Accept that excludes CBOR 406,
  a body that is not CBOR 400 SerializationException.

cbor2 (PyPI, maintained under the agronholm org, C-accelerated) does the CBOR itself: a decoder
that bounds nesting and handles every major type correctly is not ours to write.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import math
import re
import uuid

import botocore.model
import cbor2
from starlette.requests import Request
from starlette.responses import Response

from emulator.service import CodePipeline

from . import auth, shapes
from .wire import MAX_DEPTH, TARGET_PREFIX, Failure, call_operation, guarded_body, unsupported, without_nulls

CONTENT_TYPE = "application/cbor"
PROTOCOL = "rpc-v2-cbor"
SERVICE_NAME = TARGET_PREFIX.rstrip(".")  # `CodePipeline_20150709`, the path's service segment
# The service's Smithy namespace, for the absolute shape IDs errors are named by (`__type`).
NAMESPACE = "com.amazonaws.codepipeline"
# The service segment may be the shape's name or its absolute ID with `#` as `.` (the spec says
# servers should accept both).
_SERVICE_SEGMENT = re.compile(rf"(?:{re.escape(NAMESPACE)}\.)?{SERVICE_NAME}")


def _headers() -> dict[str, str]:
    return {"smithy-protocol": PROTOCOL, "x-amzn-RequestId": str(uuid.uuid4())}


def error_response(code: str, message: str, status: int = 400) -> Response:
    body = cbor2.dumps({"__type": f"{NAMESPACE}#{code}", "message": message})
    return Response(body, status_code=status, media_type=CONTENT_TYPE, headers=_headers())


def _failure(failure: Failure) -> Response:
    return error_response(failure.code, failure.message, failure.status)


# ---------------------------------------------------------------- CBOR <-> the JSON form

def _epoch(value: datetime.datetime) -> float | int:
    if value.tzinfo is None:  # tag 1 is UTC; a naive value can only come from tag 0 without zone
        value = value.replace(tzinfo=datetime.timezone.utc)
    seconds = value.timestamp()
    return int(seconds) if seconds.is_integer() else seconds


def to_json_form(shape: botocore.model.Shape | None, value):
    """A decoded CBOR value in the form the JSON protocol carries it: timestamps (tag 1, decoded
    as datetimes) become epoch seconds, byte strings of blob members base64 text. What does not
    fit its shape is left as it is, for the input validation to name."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {key: to_json_form(shape.members.get(key) if isinstance(key, str) else None, item)
                for key, item in value.items()}
    if kind == "list" and isinstance(value, list):
        return [to_json_form(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: to_json_form(shape.value, item) for key, item in value.items()}
    if kind == "timestamp" and isinstance(value, datetime.datetime):
        return _epoch(value)
    if kind == "blob" and isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    return value


def _to_tag1(value):
    """A timestamp of the service's answer (epoch seconds; an ISO text or datetime accepted too)
    as CBOR tag 1, which is how this protocol carries timestamps."""
    if isinstance(value, datetime.datetime):
        value = _epoch(value)
    elif isinstance(value, str):
        text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
        try:
            value = _epoch(datetime.datetime.fromisoformat(text))
        except ValueError:
            return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return cbor2.CBORTag(1, value)


def to_cbor_form(shape: botocore.model.Shape | None, value):
    """The service's answer (JSON form) ready for cbor2, driven by the output shape: timestamps
    as tag 1, blobs as byte strings, null members left out (as AWS does)."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {key: to_cbor_form(shape.members.get(key), item) for key, item in value.items() if item is not None}
    if kind == "list" and isinstance(value, list):
        return [to_cbor_form(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: to_cbor_form(shape.value, item) for key, item in value.items() if item is not None}
    if kind == "timestamp" and not isinstance(value, bool) and isinstance(value, (int, float, str, datetime.datetime)):
        if isinstance(value, float) and not math.isfinite(value):
            return value
        return _to_tag1(value)
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return value
    return value


def decode(raw: bytes):
    """The request body's value; a Failure when it is not one well-formed CBOR data item."""
    if not raw:
        return {}  # an operation without input may send no body at all
    try:
        return cbor2.loads(raw, max_depth=MAX_DEPTH)
    except RecursionError:
        return Failure("SerializationException", "Request body is nested too deeply")
    except Exception as error:  # CBORDecodeError and whatever a hostile item makes a tag decoder raise
        return Failure("SerializationException", f"Request body is not valid CBOR: {error}")


def encode(operation: str, body: dict) -> bytes:
    shape = shapes.service_model().operation_model(operation).output_shape
    if shape is None:
        return b""
    return cbor2.dumps(to_cbor_form(shape, without_nulls(body)))


# ---------------------------------------------------------------- the route

def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _accepts_cbor(accept: str | None) -> bool:
    if not accept:
        return True
    kinds = {_media_type(part) for part in accept.split(",")}
    return bool(kinds & {CONTENT_TYPE, "application/*", "*/*"})


def _routing_refusal(request: Request, service_segment: str, operation: str) -> Failure | None:
    if request.headers.get("smithy-protocol") != PROTOCOL:
        found = request.headers.get("smithy-protocol")
        return Failure("UnknownOperationException", "The smithy-protocol header must be rpc-v2-cbor"
                       + (f", not {found!r}" if found is not None else " and is missing"), 404)
    if "x-amz-target" in request.headers or "x-amzn-target" in request.headers:
        return Failure("UnknownOperationException", "An rpc-v2-cbor request must not carry X-Amz-Target", 404)
    if not _SERVICE_SEGMENT.fullmatch(service_segment):
        return Failure("UnknownOperationException", f"Unknown service {service_segment}", 404)
    refusal = unsupported(operation)
    if refusal is not None:
        return Failure(refusal.code, refusal.message, 404)
    return None


async def handle(request: Request, service: CodePipeline, access: auth.Access | None = None) -> Response:
    """One RPC v2 CBOR request to `/service/{service}/operation/{operation}`."""
    raw, refused = await guarded_body(request, access, error=error_response)
    if refused is not None:
        return refused
    operation = request.path_params.get("operation", "")
    refusal = _routing_refusal(request, request.path_params.get("service", ""), operation)
    if refusal is not None:
        return _failure(refusal)
    content_type = request.headers.get("content-type")
    if raw and _media_type(content_type or "") != CONTENT_TYPE:
        return error_response("UnsupportedMediaTypeException",
                              f"Content-Type must be {CONTENT_TYPE}, not {content_type!r}", 415)
    if not _accepts_cbor(request.headers.get("accept")):
        return error_response("NotAcceptableException", f"This protocol answers only {CONTENT_TYPE}", 406)
    params = decode(raw)
    if isinstance(params, Failure):
        return _failure(params)
    if not isinstance(params, dict):
        return error_response("SerializationException", "Request body must be a CBOR map")
    params = to_json_form(shapes.service_model().operation_model(operation).input_shape, params)
    answer = await call_operation(request, service, operation, params)
    if isinstance(answer, Failure):
        return _failure(answer)
    body = encode(operation, answer)
    if not body:
        return Response(b"", headers=_headers())
    return Response(body, media_type=CONTENT_TYPE, headers=_headers())
