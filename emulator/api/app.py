"""The daemon's HTTP application: one endpoint for the AWS APIs users call in tests, as their
clients send them: CodePipeline (JSON 1.1, `POST /` with `X-Amz-Target`), CloudFormation (the
query protocol, `POST /` with a form body), CloudWatch's alarms (a form whose Action is
CloudWatch's, or JSON 1.0 with `X-Amz-Target: GraniteServiceVersion20100801.*`) and Lambda
(REST-JSON under `/2015-03-31/`); CodePipeline also in Smithy RPC v2 CBOR (`POST
/service/CodePipeline_20150709/operation/<Operation>`, api/cbor.py); `GET /health`, the /pipemu
endpoints (logs, change events, topic deliveries) and the dashboard."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator.service import CodePipeline
from emulator.service.cloudformation import OPERATIONS as CLOUDFORMATION_OPERATIONS, CloudFormation
from emulator.service.cloudwatch import OPERATIONS as CLOUDWATCH_OPERATIONS, CloudWatch

from . import awsjson, cbor, extensions, lambda_api, query
from .ui import routes as dashboard_routes
from .auth import Access
from .wire import CLOUDWATCH_TARGET, guarded_body, handle, unsigned_refusal
from . import webhooks  # the webhooks' own endpoint (unsigned)


def create_app(service: CodePipeline, secrets: dict[str, str] | None = None, access: Access | None = None) -> Starlette:
    """`access` says who must sign with which keys (api/auth.py); `secrets` (access key id ->
    secret key) alone: every request must be SigV4-signed with one of them."""
    if access is None:
        access = Access(configured=secrets)

    runner = getattr(service, "runner", None)
    stacks = getattr(runner, "stacks", None)
    cloudformation = CloudFormation(stacks) if stacks is not None else None
    lambdas = getattr(runner, "lambdas", None)
    alarms = getattr(runner, "alarms", None)
    topics = getattr(runner, "topics", None)
    cloudwatch = CloudWatch(alarms, getattr(service, "region", "us-east-1")) if alarms is not None else None

    def cloudwatch_error(code: str, message: str, status: int = 400) -> Response:
        return awsjson.error_response("cloudwatch", code, message, status)

    async def api(request: Request) -> Response:
        form = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        target = request.headers.get("x-amz-target")
        if form and target is None and (cloudformation is not None or cloudwatch is not None):
            raw, refused = await guarded_body(request, access, error=query.error_xml)
            if refused is not None:
                return refused
            if query.service_of_form(raw, request.url.query) == "cloudwatch" and cloudwatch is not None:
                return await query.handle(raw, request, "cloudwatch", cloudwatch, CLOUDWATCH_OPERATIONS)
            if cloudformation is None:
                return query.error_xml("InvalidAction", "CloudFormation is not served by this daemon")
            return await query.handle(raw, request, "cloudformation", cloudformation, CLOUDFORMATION_OPERATIONS)
        if target is not None and target.startswith(CLOUDWATCH_TARGET) and cloudwatch is not None:
            raw, refused = await guarded_body(request, access, error=cloudwatch_error)
            if refused is not None:
                return refused
            return await awsjson.handle(raw, target, "cloudwatch", cloudwatch, CLOUDWATCH_OPERATIONS)
        return await handle(request, service, access)

    async def api_cbor(request: Request) -> Response:
        return await cbor.handle(request, service, access)

    async def health(request: Request) -> Response:
        if unsigned_refusal(request, access) is not None:
            return JSONResponse({"status": "ok"})  # liveness for anyone; what it knows, only to signers
        with service.lock:
            pipelines = len(service.engine.pipelines)
            errors = [str(e) for e in service.definition_errors]
        return JSONResponse({"status": "ok", "pipelines": pipelines, "definitionErrors": errors,
                             "definitionWarnings": service.warnings(),
                             # pipemu serve --simulate: nobody should take its runs for real ones
                             "simulated": bool(getattr(service.runner, "simulate_all", False))})

    async def action_logs(request: Request) -> Response:
        return unsigned_refusal(request, access) or await extensions.logs(request, service)

    async def change_events(request: Request) -> Response:
        return unsigned_refusal(request, access) or await extensions.events(request, service)

    async def event_deliveries(request: Request) -> Response:
        return unsigned_refusal(request, access) or await extensions.deliveries(request, service)
    async def topic_deliveries(request: Request) -> Response:
        # The topic stand-ins' latest deliveries (emulator/topics), oldest first: what happened
        # to each notification (`?topic=NAME-or-ARN` for one topic). Not SNS's API: pipemu's own.
        refused = unsigned_refusal(request, access)
        if refused is not None:
            return refused
        found = topics.recent(request.query_params.get("topic")) if topics is not None else []
        return JSONResponse({"deliveries": found})
    async def webhook(request: Request) -> Response:
        # Not signed: a webhook's own authentication guards it (api/webhooks.py).
        return await webhooks.trigger(request, service)

    async def pull_request_events(request: Request) -> Response:
        return await extensions.pull_requests(request, service, access)

    return Starlette(routes=[
        Route("/", api, methods=["POST"]),
        Route("/service/{service}/operation/{operation}", api_cbor, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/pipemu/logs/{action_execution_id}", action_logs, methods=["GET"]),
        Route("/pipemu/events", change_events, methods=["GET"]),
        Route("/pipemu/deliveries", event_deliveries, methods=["GET"]),
        Route("/pipemu/topics/deliveries", topic_deliveries, methods=["GET"]),
        Route("/pipemu/pull-requests", pull_request_events, methods=["GET", "POST"]),
        Route("/webhooks/trigger", webhook, methods=["POST"]),
        *(lambda_api.routes(lambdas, access) if lambdas is not None else []),
        *dashboard_routes,  # GET /ui: the web dashboard
        *(lambda_api.fallback() if lambdas is not None else []),  # last: it takes any dated path
    ])
