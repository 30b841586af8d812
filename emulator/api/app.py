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
from .wire import guarded_body, handle


def create_app(service: CodePipeline, secrets: dict[str, str] | None = None) -> Starlette:
    """`secrets` (access key id -> secret key): when given, requests must be SigV4-signed with one."""

    runner = getattr(service, "runner", None)
    stacks = getattr(runner, "stacks", None)
    cloudformation = CloudFormation(stacks) if stacks is not None else None
    lambdas = getattr(runner, "lambdas", None)

    async def api(request: Request) -> Response:
        form = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        if form and "x-amz-target" not in request.headers and cloudformation is not None:
            raw, refused = await guarded_body(request, secrets, error=query.error_xml)
            if refused is not None:
                return refused
            return await query.handle(raw, request, "cloudformation", cloudformation, CLOUDFORMATION_OPERATIONS)
        return await handle(request, service, secrets)

    async def health(request: Request) -> Response:
        with service.lock:
            pipelines = len(service.engine.pipelines)
            errors = [str(e) for e in service.definition_errors]
        return JSONResponse({"status": "ok", "pipelines": pipelines, "definitionErrors": errors,
                             "definitionWarnings": service.warnings()})

    async def action_logs(request: Request) -> Response:
        return await extensions.logs(request, service)

    async def change_events(request: Request) -> Response:
        return await extensions.events(request, service)

    return Starlette(routes=[
        Route("/", api, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/pipemu/logs/{action_execution_id}", action_logs, methods=["GET"]),
        Route("/pipemu/events", change_events, methods=["GET"]),
        *(lambda_api.routes(lambdas, secrets) if lambdas is not None else []),
        *dashboard_routes,  # GET /ui: the web dashboard
        *(lambda_api.fallback() if lambdas is not None else []),  # last: it takes any dated path
    ])
