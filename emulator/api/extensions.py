"""pipemu's own read-only endpoints beside AWS's API (which has no such calls): the logs of an
action execution, and a stream of change notices for live views (CLI --watch, the dashboard).

`GET /pipemu/logs/{actionExecutionId}?after=N&wait=S` -> {"lines": [{"seq", "at", "text"}],
"status": "InProgress"|..., "pipelineName", "pipelineExecutionId", "stageName", "actionName"};
with `wait`, it holds the request up to S seconds until a line after N arrives or the action ends.
`GET /pipemu/events` -> server-sent events, `data: {"changes": N}` whenever the state moves (an
alarm stand-in set included: N is the pipelines' counter, which an alarm does not move). With
`?aws=true` the same stream also carries CodePipeline's EventBridge events as `event: aws` (data:
the event as EventBridge delivers it, `id:` its id) and each rule's delivery result as
`event: delivery`; without it the stream is as before, so consumers that read every `data:` line
as a change notice keep working.
`GET /pipemu/deliveries` -> {"events": [recent AWS events], "deliveries": [recent delivery
results: time, rule, target, eventId, detailType, pipeline, state, status ok|failed, reason]}.
"""

from __future__ import annotations

import asyncio
import json
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from emulator.service import CodePipeline

HEARTBEAT_SECONDS = 15  # keeps proxies from closing a quiet stream; only while a client listens


def _action(service: CodePipeline, action_execution_id: str) -> dict | None:
    found = service.find_action_run(action_execution_id)
    if found is None:
        return None
    pipeline, execution, run = found
    return {"pipelineName": pipeline, "pipelineExecutionId": execution.execution_id,
            "stageName": run.stage, "actionName": run.name, "status": run.status}


async def logs(request: Request, service: CodePipeline) -> Response:
    action_execution_id = request.path_params["action_execution_id"]
    try:
        after = int(request.query_params.get("after", "0"))
        wait = min(float(request.query_params.get("wait", "0")), 60.0)
    except ValueError:
        return JSONResponse({"__type": "ValidationException", "message": "after and wait must be numbers"}, 400)
    deadline = time.monotonic() + wait
    while True:
        about = _action(service, action_execution_id)
        if about is None:
            return JSONResponse({"__type": "ActionExecutionNotFoundException",
                                 "message": f"Action execution '{action_execution_id}' not found"}, 400)
        rows = service.store.logs(action_execution_id, after)
        if rows or about["status"] != "InProgress" or time.monotonic() >= deadline:
            lines = [{"seq": seq, "at": at, "text": text} for seq, at, text in rows]
            return JSONResponse({**about, "lines": lines})
        await asyncio.sleep(0.25)  # only while a client follows a running action


async def events(request: Request, service: CodePipeline) -> Response:
    loop = asyncio.get_running_loop()
    items: asyncio.Queue = asyncio.Queue()  # None: the state moved; ("aws"|"delivery", dict)

    def listener(changes: int = 0) -> None:  # called from any thread
        loop.call_soon_threadsafe(items.put_nowait, None)

    def on_event(event: dict) -> None:
        loop.call_soon_threadsafe(items.put_nowait, ("aws", event))

    def on_delivery(record: dict) -> None:
        loop.call_soon_threadsafe(items.put_nowait, ("delivery", record))

    alarms = getattr(getattr(service, "runner", None), "alarms", None)
    listening = [(service.listeners, listener)] + ([(alarms.listeners, listener)] if alarms is not None else [])
    bus = getattr(service, "events", None)
    if request.query_params.get("aws", "").lower() == "true" and hasattr(bus, "listeners"):
        listening += [(bus.listeners, on_event), (bus.delivery_listeners, on_delivery)]

    async def stream():
        for listeners, callback in listening:
            listeners.append(callback)
        try:
            yield f"data: {json.dumps({'changes': service.changes})}\n\n"
            while not await request.is_disconnected():
                try:
                    batch = [await asyncio.wait_for(items.get(), HEARTBEAT_SECONDS)]
                except asyncio.TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                while not items.empty():  # change notices that came together are one notice
                    batch.append(items.get_nowait())
                for item in batch:
                    if item is not None:
                        name, body = item
                        named = f"id: {body['id']}\n" if name == "aws" else ""
                        yield f"event: {name}\n{named}data: {json.dumps(body)}\n\n"
                if None in batch:
                    yield f"data: {json.dumps({'changes': service.changes})}\n\n"
        finally:
            for listeners, callback in listening:
                listeners.remove(callback)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def deliveries(request: Request, service: CodePipeline) -> Response:
    bus = getattr(service, "events", None)
    if not hasattr(bus, "deliveries"):
        return JSONResponse({"events": [], "deliveries": []})
    return JSONResponse({"events": bus.recent_events(), "deliveries": bus.deliveries()})


async def pull_requests(request: Request, service: CodePipeline, access) -> Response:
    """`POST /pipemu/pull-requests` {"event": "OPEN"|"UPDATED"|"CLOSED", "repository", ...}: a
    local pull request opened, updated or closed, matched against every pipeline's pullRequest
    triggers (emulator/daemon/pull_requests.py); `GET` lists the pull requests kept. Signed, as
    every /pipemu endpoint (`pipemu pr` signs)."""
    from .wire import guarded_body, unsigned_refusal

    if request.method == "GET":
        refused = unsigned_refusal(request, access)
        raw = b""
    else:
        raw, refused = await guarded_body(request, access)
    if refused is not None:
        return refused
    pulls = getattr(service, "pull_requests", None)
    if pulls is None:
        return JSONResponse({"__type": "ValidationException", "message": "pull requests are not served here"}, 400)
    if request.method == "GET":
        return JSONResponse({"pullRequests": pulls.list(request.query_params.get("repository"))})
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        return JSONResponse({"__type": "SerializationException", "message": "the body is not JSON"}, 400)
    if not isinstance(body, dict):
        return JSONResponse({"__type": "SerializationException", "message": "the body must be a JSON object"}, 400)
    from starlette.concurrency import run_in_threadpool

    from emulator.service import ServiceError, StateNotWritable

    try:
        return JSONResponse(await run_in_threadpool(pulls.event, body))
    except ServiceError as error:
        return JSONResponse({"__type": error.code, "message": error.message}, error.status)
    except StateNotWritable as error:  # nothing kept: the client may try again later, as the API says
        return JSONResponse({"__type": "ServiceUnavailable", "message": str(error)}, 503)
