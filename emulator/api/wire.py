"""AWS's JSON 1.1 protocol: `POST /` with `X-Amz-Target: CodePipeline_20150709.<Operation>`,
and what every protocol of the CodePipeline API shares (`SUPPORTED`, `unsupported`,
`call_operation`, `guarded_body`; Smithy RPC v2 CBOR, api/cbor.py, uses them too).

Reads the request, checks it against the service model's input shape, calls the service method
of the operation, and writes the answer; every error is an HTTP 400 (or the status the error
carries) with `{"__type": "<AWS exception>", "message": "..."}`, never a 5xx for bad input.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from email.utils import formatdate

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from emulator.service import CodePipeline, ServiceError, StateNotWritable

from . import auth, query, shapes

log = logging.getLogger(__name__)

TARGET_PREFIX = "CodePipeline_20150709."
CONTENT_TYPE = "application/x-amz-json-1.1"
CLOUDWATCH_TARGET = "GraniteServiceVersion20100801."  # CloudWatch's JSON 1.0 (api/awsjson.py)

# The operations we answer. Every other operation of the service model gets a clear error.
SUPPORTED = (
    "ListPipelines",
    "GetPipeline",
    "GetPipelineState",
    "StartPipelineExecution",
    "GetPipelineExecution",
    "ListPipelineExecutions",
    "PutApprovalResult",
    "StopPipelineExecution",
    "RetryStageExecution",
    "DisableStageTransition",
    "EnableStageTransition",
    "ListActionExecutions",
    "CreatePipeline",
    "UpdatePipeline",
    "DeletePipeline",
    "ListTagsForResource",
    "TagResource",
    "UntagResource",
    "GetJobDetails",
    "PutJobSuccessResult",
    "PutJobFailureResult",
    "RollbackStage",
    "OverrideStageCondition",
    "ListRuleExecutions",
    "ListRuleTypes",
    "CreateCustomActionType",
    "DeleteCustomActionType",
    "ListActionTypes",
    "GetActionType",
    "UpdateActionType",
    "PollForJobs",
    "AcknowledgeJob",
    "PollForThirdPartyJobs",
    "AcknowledgeThirdPartyJob",
    "GetThirdPartyJobDetails",
    "PutThirdPartyJobSuccessResult",
    "PutThirdPartyJobFailureResult",
    "PutActionRevision",
    "ListDeployActionExecutionTargets",
    "PutWebhook",
    "ListWebhooks",
    "DeleteWebhook",
    "RegisterWebhookWithThirdParty",
    "DeregisterWebhookWithThirdParty",
)

# Errors any operation of a JSON 1.1 service may answer besides its modeled ones (the protocol's
# and the authentication layer's, as AWS answers them).
COMMON_ERRORS = frozenset({
    "ValidationException", "SerializationException", "UnknownOperationException", "AccessDeniedException",
    "InvalidSignatureException", "IncompleteSignatureException", "MissingAuthenticationTokenException",
    "UnrecognizedClientException", "InvalidClientTokenId", "SignatureDoesNotMatch", "InternalFailure",
    "ThrottlingException", "RequestEntityTooLargeException", "ServiceUnavailable",
})
# A service error whose code the operation does not model becomes the modeled code that means
# the same there (else ValidationException), so that clients catching the modeled exceptions
# catch ours. Where AWS is known to answer otherwise, it is said here.
_UNMODELED = {
    ("StopPipelineExecution", "PipelineExecutionNotFoundException"): "PipelineExecutionNotStoppableException",
    ("RetryStageExecution", "PipelineExecutionNotFoundException"): "StageNotRetryableException",
    # An execution that is not there is not the latest in the stage either.
    ("OverrideStageCondition", "PipelineExecutionNotFoundException"): "NotLatestPipelineExecutionException",
}
# Request bodies larger than this are refused by their Content-Length, before they are read or
# authenticated (a declaration at AWS's quotas stays far below it).
MAX_BODY = 4 * 1024 * 1024

# Operations whose service method records who called (lastUpdatedBy, lastChangedBy, trigger).
RECORDS_CALLER = {"PutApprovalResult", "DisableStageTransition", "EnableStageTransition", "StartPipelineExecution",
                  "RollbackStage", "OverrideStageCondition"}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type=CONTENT_TYPE,
                    headers={"Date": formatdate(usegmt=True)})


def error_response(code: str, message: str, status: int = 400) -> Response:
    return _json({"__type": code, "message": message}, status)


def without_nulls(value):
    """AWS reads a null member as an absent one."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def caller_of(request: Request) -> str:
    """Who called, for `lastUpdatedBy`: the access key of the SigV4 Authorization header."""
    match = re.search(r"Credential=([^/,\s]+)/", request.headers.get("authorization", ""))
    user = match.group(1) if match else "anonymous"
    return f"arn:aws:iam::123456789012:user/{user}"


# No input of the service nests deeper than about 12 levels; deeper JSON is refused before any
# recursive walk over it (validation, null removal) could exhaust the stack.
MAX_DEPTH = 64


def _too_deep(value) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


class _TooLarge(Exception):
    pass


async def _body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request's body, read only up to `limit` (a body without Content-Length is cut there)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def modeled_code(operation: str, code: str) -> str:
    """`code` if the operation may answer it, else the modeled code that stands for it."""
    if code in COMMON_ERRORS or code in shapes.modeled_errors(operation):
        return code
    return _UNMODELED.get((operation, code), "ValidationException")


def signed_url(request: Request) -> str:
    """The URL as the client signed it: the path still percent-encoded (`request.url` decodes it,
    and a Lambda ARN in the path, `arn%3Aaws%3A...`, would then fail the signature)."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string") or b""
    host = request.headers.get("host", "localhost")
    return f"{request.url.scheme}://{host}{raw_path.decode('latin-1')}" + (f"?{query.decode('latin-1')}" if query else "")


def _service_of(request: Request, raw: bytes = b"") -> str:
    """The service a request to this route is signed for (its credential scope's service): a
    form is for the service whose operation its Action names (CloudWatch signs as `monitoring`)."""
    if re.match(r"/20\d\d-\d\d-\d\d/", request.url.path):  # Lambda's REST paths are dated
        return "lambda"
    if request.headers.get("x-amz-target", "").startswith(CLOUDWATCH_TARGET):
        return "monitoring"
    form = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    if request.method == "POST" and form and "x-amz-target" not in request.headers:
        query_string = (request.scope.get("query_string") or b"").decode("latin-1")
        return "monitoring" if query.service_of_form(raw, query_string) == "cloudwatch" else "cloudformation"
    return "codepipeline"  # the API, and pipemu's own endpoints (signed as the CLI and dashboard do)


def unsigned_refusal(request: Request, access: auth.Access | None, raw: bytes | None = b"",
                     error=error_response) -> Response | None:
    """The error answer for a request that must be signed (by who sends it: `access`) and is not
    signed rightly; None when it may go on. With `raw` None, only what needs no body is checked
    (a request that must be signed and is not is refused before its body is read)."""
    repeated = auth.repeated_header(request.scope.get("headers") or [])
    if repeated:
        return error("IncompleteSignatureException", f"The header {repeated} appears more than once", 400)
    keys = access.keys_for(request.client.host if request.client else None) if access else None
    if keys is None:
        return None
    if raw is None:
        if "authorization" not in request.headers:
            return error("MissingAuthenticationTokenException", "Missing Authentication Token", 400)
        return None
    try:
        auth.verify(request.method, signed_url(request), {k.lower(): v for k, v in request.headers.items()},
                    raw, keys, service=_service_of(request, raw))
    except auth.AuthError as failure:
        return error(failure.code, failure.message, 400)
    return None


async def guarded_body(request: Request, access: auth.Access | None, limit: int = MAX_BODY,
                       error=error_response) -> tuple[bytes, Response | None]:
    """The request's body once the checks every protocol shares have passed (same origin, size,
    signature), else the error answer (written by `error`, the protocol's own form)."""
    origin = request.headers.get("origin")
    if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host"):
        # A page of another site may not drive the daemon (the dashboard is same-origin; AWS
        # clients send no Origin at all).
        return b"", error("AccessDeniedException", f"Cross-origin request from {origin} refused", 403)
    length = request.headers.get("content-length", "0")
    if not length.isdigit():
        return b"", error("SerializationException", f"Content-Length {length!r} is not a number", 400)
    too_large = ("RequestEntityTooLargeException", f"The request body is larger than {limit} bytes", 413)
    if int(length) > limit:  # before reading it, and before checking who sends it
        return b"", error(*too_large)
    early = unsigned_refusal(request, access, None, error)  # an unsigned stranger's body is never read
    if early is not None:
        return b"", early
    try:
        raw = await _body(request, limit)
    except _TooLarge:
        return b"", error(*too_large)
    return raw, unsigned_refusal(request, access, raw, error)


@dataclass(frozen=True)
class Failure:
    """An error answer before it is written in a protocol's form: the AWS code, its message and
    the HTTP status."""
    code: str
    message: str
    status: int = 400


def unsupported(operation: str) -> Failure | None:
    """Why `operation` is not answered (None when it is): the same words over every protocol."""
    if operation in SUPPORTED:
        return None
    if operation in shapes.operation_names():
        return Failure("UnknownOperationException", f"Operation {operation} is not supported by pipeline-emulator")
    return Failure("UnknownOperationException", f"Unknown operation {operation}")


async def call_operation(request: Request, service: CodePipeline, operation: str, params) -> dict | Failure:
    """The protocol-independent part of answering a supported operation: `params` is the decoded
    request body in the JSON form (timestamps as epoch seconds, blobs as base64), checked against
    the operation's input shape and given to the service method; its answer (JSON form too), or
    the Failure to write. Every protocol of the CodePipeline API (JSON 1.1 here, RPC v2 CBOR in
    api/cbor.py) calls this, so that they cannot drift apart."""
    if not isinstance(params, dict):
        return Failure("SerializationException", "Request body must be a JSON object")
    if _too_deep(params):
        return Failure("SerializationException", f"Request body is nested deeper than {MAX_DEPTH} levels")
    violations = shapes.validate_input(operation, params)
    params = without_nulls(params)  # AWS reads a null member as an absent one
    if violations:
        return Failure("ValidationException", shapes.first_violation_message(violations))
    method = getattr(service, _snake(operation))
    try:
        if operation in RECORDS_CALLER:
            params = {**params, "_caller": caller_of(request)}
        return await run_in_threadpool(method, params)
    except ServiceError as error:
        return Failure(modeled_code(operation, error.code), error.message, error.status)
    except StateNotWritable as error:  # nothing was saved, nothing changed: the client may retry later
        return Failure("ServiceUnavailable", str(error), 503)
    except Exception:  # a bug of ours: say so in AWS's words, keep serving
        log.exception("%s failed", operation)
        return Failure("InternalFailure", f"{operation} failed inside pipeline-emulator", 500)


async def handle(request: Request, service: CodePipeline, access: auth.Access | None = None) -> Response:
    """One JSON 1.1 request (`X-Amz-Target: CodePipeline_20150709.<Operation>`)."""
    raw, refused = await guarded_body(request, access)
    if refused is not None:
        return refused
    target = request.headers.get("x-amz-target", "")
    if not target.startswith(TARGET_PREFIX):
        return error_response("UnknownOperationException", f"Unknown target '{target}'")
    operation = target[len(TARGET_PREFIX) :]
    refusal = unsupported(operation)
    if refusal is not None:
        return error_response(refusal.code, refusal.message, refusal.status)
    try:
        params = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        return error_response("SerializationException", f"Request body is not valid JSON: {exc}")
    except RecursionError:
        return error_response("SerializationException", "Request body is nested too deeply")
    answer = await call_operation(request, service, operation, params)
    if isinstance(answer, Failure):
        return error_response(answer.code, answer.message, answer.status)
    return _json(answer)
