"""The daemon's HTTP application: one endpoint for the three AWS APIs users call in tests, as
their clients send them: CodePipeline (JSON 1.1, `POST /` with `X-Amz-Target`), CloudFormation
(the query protocol, `POST /` with a form body) and Lambda (REST-JSON under `/2015-03-31/`);
`GET /health`, the /pipemu endpoints and the dashboard."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator.service import CodePipeline
from emulator.service.cloudformation import OPERATIONS as CLOUDFORMATION_OPERATIONS, CloudFormation

from . import extensions, lambda_api, query
from .ui import routes as dashboard_routes
from .auth import Access
from .wire import guarded_body, handle, unsigned_refusal


def create_app(service: CodePipeline, secrets: dict[str, str] | None = None, access: Access | None = None) -> Starlette:
    """`access` says who must sign with which keys (api/auth.py); `secrets` (access key id ->
    secret key) alone: every request must be SigV4-signed with one of them."""
    if access is None:
        access = Access(configured=secrets)

    runner = getattr(service, "runner", None)
    stacks = getattr(runner, "stacks", None)
    cloudformation = CloudFormation(stacks) if stacks is not None else None
    lambdas = getattr(runner, "lambdas", None)

    async def api(request: Request) -> Response:
        form = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        if form and "x-amz-target" not in request.headers and cloudformation is not None:
            raw, refused = await guarded_body(request, access, error=query.error_xml)
            if refused is not None:
                return refused
            return await query.handle(raw, request, "cloudformation", cloudformation, CLOUDFORMATION_OPERATIONS)
        return await handle(request, service, access)

    async def health(request: Request) -> Response:
        if unsigned_refusal(request, access) is not None:
            return JSONResponse({"status": "ok"})  # liveness for anyone; what it knows, only to signers
        with service.lock:
            pipelines = len(service.engine.pipelines)
            errors = [str(e) for e in service.definition_errors]
        return JSONResponse({"status": "ok", "pipelines": pipelines, "definitionErrors": errors,
                             "definitionWarnings": service.warnings()})

    async def action_logs(request: Request) -> Response:
        return unsigned_refusal(request, access) or await extensions.logs(request, service)

    async def change_events(request: Request) -> Response:
        return unsigned_refusal(request, access) or await extensions.events(request, service)

    return Starlette(routes=[
        Route("/", api, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/pipemu/logs/{action_execution_id}", action_logs, methods=["GET"]),
        Route("/pipemu/events", change_events, methods=["GET"]),
        *(lambda_api.routes(lambdas, access) if lambdas is not None else []),
        *dashboard_routes,  # GET /ui: the web dashboard
        *(lambda_api.fallback() if lambdas is not None else []),  # last: it takes any dated path
    ])
