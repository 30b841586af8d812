"""The daemon's HTTP application: the CodePipeline endpoint at `POST /` and `GET /health`."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator.service import CodePipeline

from . import extensions
from .ui import routes as dashboard_routes
from .wire import handle


def create_app(service: CodePipeline, secrets: dict[str, str] | None = None) -> Starlette:
    """`secrets` (access key id -> secret key): when given, requests must be SigV4-signed with one."""

    async def api(request: Request) -> Response:
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
        *dashboard_routes,  # GET /ui: the web dashboard
    ])
