"""Lambda's REST-JSON API, for what tests call: Invoke, GetFunction, GetFunctionConfiguration and
ListFunctions under `/2015-03-31/functions`, answered from the local Lambda service.

Errors as Lambda answers them: the code in the `X-Amzn-ErrorType` header and the body
`{"Type": "User", "Message": ...}` (botocore reads both), e.g. 404 ResourceNotFoundException
"Function not found: arn:aws:lambda:...:function:NAME".
"""

from __future__ import annotations

import json
import re
import uuid

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator.lambdas.functions import parse_identifier
from emulator.lambdas.service import PAYLOAD_LIMIT, FunctionNotFound, Lambdas

from .auth import Access
from .wire import guarded_body

PREFIX = "/2015-03-31/functions"
INVOKE_THREADS = 100  # synchronous invocations running at once, apart from the other APIs' threads
STATUS = {"ResourceNotFoundException": 404, "TooManyRequestsException": 429, "InvalidParameterValueException": 400, "RequestTooLargeException": 413,
          "InvalidRequestContentException": 400, "AccessDeniedException": 403, "ServiceException": 500}


def error(code: str, message: str, status: int | None = None) -> Response:
    status = status or STATUS.get(code, 400)
    return JSONResponse({"Type": "User" if status < 500 else "Service", "Message": message}, status_code=status,
                        headers={"X-Amzn-ErrorType": code, "x-amzn-RequestId": str(uuid.uuid4())})


def routes(lambdas: Lambdas, access: Access | None) -> list[Route]:
    limiters: list = []

    def _limiter():
        """The threads invocations run in (made on first use, in the event loop that uses them)."""
        if not limiters:
            limiters.append(anyio.CapacityLimiter(INVOKE_THREADS))
        return limiters[0]

    def find(request: Request):
        identifier = request.path_params["name"]
        parsed = parse_identifier(identifier)
        if parsed is None:
            return None, error("InvalidParameterValueException",
                               f"1 validation error detected: Value '{identifier}' at 'functionName' failed to satisfy "
                               "constraint: Member must satisfy regular expression pattern: "
                               "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
                               "(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?")
        qualifier = request.query_params.get("Qualifier") or parsed[1]
        try:
            fn = lambdas.find(parsed[0])
        except FunctionNotFound as missing:
            return None, error("ResourceNotFoundException", str(missing))
        if qualifier not in (None, "$LATEST"):  # pipemu keeps no published versions or aliases
            return None, error("ResourceNotFoundException", f"Function not found: {fn.arn(lambdas.region)}:{qualifier}")
        return fn, None

    async def invoke(request: Request) -> Response:
        raw, refused = await guarded_body(request, access, PAYLOAD_LIMIT, _refusal)
        if refused is not None:
            return refused
        fn, failed = find(request)
        if failed is not None:
            return failed
        kind = request.headers.get("x-amz-invocation-type", "RequestResponse")
        if kind not in ("RequestResponse", "Event", "DryRun"):
            return error("InvalidParameterValueException", f"Unsupported invocation type {kind}")
        try:
            event = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError) as exc:
            return error("InvalidRequestContentException", f"Could not parse request body into json: {exc}")
        headers = {"X-Amz-Executed-Version": "$LATEST", "x-amzn-RequestId": str(uuid.uuid4())}
        if kind == "DryRun":  # Lambda checks the function and the caller's rights, and runs nothing
            return Response(status_code=204, headers=headers)
        if kind == "Event":
            if not lambdas.call_later(fn, event):
                return error("TooManyRequestsException", "Rate Exceeded.", 429)
            return Response(status_code=202, headers=headers)
        # A thread of their own: a function that takes its time (or calls back into the daemon)
        # must not hold the threads the other APIs answer with.
        answer = await anyio.to_thread.run_sync(lambdas.call, fn, event, limiter=_limiter())
        if answer.result.error_type == "TooManyRequestsException":  # Lambda throttles with 429
            return error("TooManyRequestsException", "Rate Exceeded.", 429)
        if answer.function_error:
            headers["X-Amz-Function-Error"] = answer.function_error
        if request.headers.get("x-amz-log-type") == "Tail":
            headers["X-Amz-Log-Result"] = answer.log_tail
        return Response(answer.payload, status_code=200, media_type="application/json", headers=headers)

    async def checked(request: Request) -> Response | None:
        _, refused = await guarded_body(request, access, error=_refusal)
        return refused

    async def get_function(request: Request) -> Response:
        if (refused := await checked(request)) is not None:
            return refused
        fn, failed = find(request)
        if failed is not None:
            return failed
        return JSONResponse({"Configuration": fn.configuration(lambdas.region),
                             "Code": {"RepositoryType": "S3",
                                      "Location": f"file://{fn.code_dir}" if fn.code_dir else ""}
                             if not fn.image else {"RepositoryType": "ECR", "ImageUri": fn.image},
                             "Tags": {}})

    async def get_configuration(request: Request) -> Response:
        if (refused := await checked(request)) is not None:
            return refused
        fn, failed = find(request)
        return failed if failed is not None else JSONResponse(fn.configuration(lambdas.region))

    async def list_functions(request: Request) -> Response:
        if (refused := await checked(request)) is not None:
            return refused
        items = sorted(lambdas.functions().values(), key=lambda f: f.name)
        marker = request.query_params.get("Marker")
        size = request.query_params.get("MaxItems", "50")
        if not size.isdigit() or not 1 <= int(size) <= 10000:
            return error("InvalidParameterValueException", f"MaxItems {size} must be between 1 and 10000")
        start = int(marker) if marker and marker.isdigit() else 0
        page = items[start:start + int(size)]
        body = {"Functions": [f.configuration(lambdas.region) for f in page]}
        if start + int(size) < len(items):
            body["NextMarker"] = str(start + int(size))
        return JSONResponse(body)

    return [
        Route(f"{PREFIX}/{{name}}/invocations", invoke, methods=["POST"]),
        Route(f"{PREFIX}/{{name}}/configuration", get_configuration, methods=["GET"]),
        Route(f"{PREFIX}/", list_functions, methods=["GET"]),
        Route(PREFIX, list_functions, methods=["GET"]),
        Route(f"{PREFIX}/{{name}}", get_function, methods=["GET"]),
    ]


def fallback() -> list[Route]:
    """Lambda's other operations (URLs' configuration, aliases, layers, ...: paths under a dated
    prefix) get a Lambda-shaped error naming what is not supported, not a bare 404."""
    async def unsupported(request: Request) -> Response:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", request.path_params["version"]):
            return Response("Not Found", status_code=404, media_type="text/plain")
        return error("InvalidParameterValueException",
                     f"{request.method} {request.url.path} is a Lambda operation pipeline-emulator does not support; "
                     "it answers Invoke, GetFunction, GetFunctionConfiguration and ListFunctions")

    return [Route("/{version}/{rest:path}", unsupported, methods=["GET", "POST", "PUT", "DELETE", "PATCH"])]


def _refusal(code: str, message: str, status: int = 400) -> Response:
    # Lambda's model names the too-large body RequestTooLargeException.
    return error("RequestTooLargeException" if code == "RequestEntityTooLargeException" else code, message, status)

