"""The local Lambda service: finds a function by any name Lambda accepts, answers its
configuration, and invokes it in a container of its runtime's image.

One service for every caller: the Invoke action of a pipeline, the Lambda API (`aws lambda
invoke`), and the deploys that make functions. The runner builds it (it owns the Docker client);
the API is handed it.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from emulator.runner.lambda_images import ensure_runtime_image, image_entry
from emulator.runner.lambda_invoke import Invocation, InvocationResult, invoke
from emulator.runner.containers import EngineUnavailable, list_containers

from .functions import PAYLOAD_LIMIT, FunctionConfig, folder_digest, parse_identifier
from .http import Endpoints
from .warm import WarmPool

log = logging.getLogger(__name__)

LOG_TAIL_BYTES = 4096  # Lambda's LogType=Tail answers the last 4 KB of the log
EVENT_QUEUE = 100  # InvocationType=Event invocations waiting or running at once


def _tree_stamp(folder: Path) -> tuple[float, int, int]:
    """(newest mtime, files, bytes) of a code folder: changes when any file in it does (an edit in
    place changes no folder's mtime), so warm environments never run code that was replaced."""
    newest, count, size = 0.0, 0, 0
    try:
        for path in folder.rglob("*"):
            info = path.lstat()
            newest, count, size = max(newest, info.st_mtime), count + 1, size + info.st_size
    except OSError:
        pass
    return newest, count, size


class FunctionNotFound(Exception):
    def __init__(self, arn: str) -> None:
        super().__init__(f"Function not found: {arn}")  # Lambda's own wording


@dataclass(frozen=True)
class Answer:
    """One invocation's outcome as Lambda's Invoke answers it."""

    payload: bytes
    function_error: str | None  # "Unhandled" when the function failed, as Lambda says
    log_tail: str  # the last LOG_TAIL_BYTES of its log, base64-encoded as X-Amz-Log-Result has it
    result: InvocationResult

    @property
    def log_tail_text(self) -> str:
        return base64.b64decode(self.log_tail).decode("utf-8", "replace")


class Lambdas:
    def __init__(self, *, client: Callable[[], object], declared: Callable[[], dict], deployed: Callable[[], Iterable[FunctionConfig]],
                 environment: Callable[[], dict[str, str]], region: str, daemon_id: str,
                 network: Callable[[], str | None] | None = None) -> None:
        self._client = client
        self._declared = declared  # name -> definitions.models.Function of the pipelines folder
        self._deployed = deployed
        self._environment = environment
        self.region = region
        self.daemon_id = daemon_id
        self._digests: dict[tuple[str, tuple], tuple[str, int]] = {}
        # Warm execution environments for the API's invocations (and rules' and targets').
        self.pool = WarmPool(client, idle_seconds=float(os.environ.get("PIPEMU_LAMBDA_IDLE_SECONDS", "600")),
                             concurrency=int(os.environ.get("PIPEMU_LAMBDA_CONCURRENCY", "10")), network=network)
        self.endpoints = Endpoints(self._over_http)  # function URLs and HTTP APIs of stacks
        # Warm environments are reached on ports the engine publishes on its own loopback: only
        # an engine on this machine (a unix socket) has them where the daemon is.
        host = os.environ.get("DOCKER_HOST", "")
        self.warm = not host or host.startswith("unix://") or network is not None
        self._queued = threading.BoundedSemaphore(EVENT_QUEUE)

    def _over_http(self, name: str, event: dict) -> tuple[object, str | None]:
        try:
            answer = self.call(self.find(name), event)
        except FunctionNotFound as missing:
            log.warning("an endpoint names %s", missing)
            return None, "Unhandled"
        return json.loads(answer.payload), answer.function_error

    def restore_endpoints(self, records: Iterable[dict]) -> list[dict]:
        """Serve again the endpoints of the stacks a previous daemon deployed (their ports kept
        where they are free); the records whose endpoints had to move, updated to say where."""
        moved = []
        for record in records:
            changed = False
            for resource in record.get("Resources") or []:
                endpoint = resource.get("Endpoint")
                if endpoint:
                    port = self.endpoints.open(record["StackName"], resource["LogicalResourceId"], endpoint["routes"],
                                               endpoint["payload"], endpoint.get("port"))
                    if port != endpoint.get("port"):
                        old = f"http://127.0.0.1:{endpoint.get('port')}/"
                        endpoint["port"], changed = port, True
                        resource["PhysicalResourceId"] = f"http://127.0.0.1:{port}/"
                        for output in record.get("Outputs") or []:
                            output["OutputValue"] = output["OutputValue"].replace(old, resource["PhysicalResourceId"])
            if changed:
                moved.append(record)
        return moved

    # -- finding ------------------------------------------------------------------------------

    def functions(self) -> dict[str, FunctionConfig]:
        """Every function: those of the pipelines folder, then those stacks made."""
        found = {name: self._from_declaration(name, fn) for name, fn in (self._declared() or {}).items()}
        for fn in self._deployed():
            found.setdefault(fn.name, fn)
        return found

    def find(self, identifier: str) -> FunctionConfig:
        parsed = parse_identifier(identifier)
        name = parsed[0] if parsed else identifier
        declared = (self._declared() or {}).get(name)  # only this one's folder is looked at
        fn = self._from_declaration(name, declared) if declared is not None else next(
            (f for f in self._deployed() if f.name == name), None)
        if fn is None:
            raise FunctionNotFound(f"arn:aws:lambda:{self.region}:123456789012:function:{name}")
        return fn

    def _from_declaration(self, name: str, fn) -> FunctionConfig:
        code = Path(fn.code)
        stamp = _tree_stamp(code)
        key = (str(code), stamp)
        if key not in self._digests:  # hashing a folder on every call would be wasteful; a stat walk is not
            self._digests[key] = folder_digest(code)
        sha, size = self._digests[key]
        modified = datetime.fromtimestamp(stamp[0], timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        return FunctionConfig(name=name, runtime=fn.runtime, handler=fn.handler, code_dir=code,
                              environment=dict(fn.environment), timeout=fn.timeout, memory_size=fn.memorySize,
                              image=fn.image, code_sha256=sha, code_size=size, last_modified=modified)

    # -- invoking -----------------------------------------------------------------------------

    def _invocation(self, fn: FunctionConfig, event, request_id: str, log_line, *, container: str | None = None,
                    labels: dict[str, str] | None = None, network: str | None = None) -> Invocation | InvocationResult:
        """What to run for one invocation of `fn`, or the failure that stops it before it runs.
        `log_line` hears which image (and runtime version) runs it."""
        runtime, handler = fn.runs_on, fn.handler
        try:
            if runtime is None:  # an image function: its image holds its code and names its handler
                runtime, handler = image_entry(self._client(), fn.image, fn.handler)
                image = fn.image
            else:
                image = fn.image or ensure_runtime_image(self._client(), runtime, log=log_line)
        except (RuntimeError, ValueError) as exc:
            return InvocationResult(False, None, "Runtime.ImageNotFound", str(exc))
        except Exception as exc:  # no engine, or it failed: a result, never an exception
            return InvocationResult(False, None, "Runtime.Unknown", f"Docker: {exc}")
        arn = fn.arn(self.region)
        return Invocation(
            name=container or f"pipemu-fn-{fn.name[:40]}-{request_id[:8]}",
            image=image, runtime=runtime, handler=handler or "", code_dir=Path(fn.code_dir) if fn.code_dir else None,
            event=event,
            context={"function_name": fn.name, "function_version": "$LATEST", "invoked_function_arn": arn,
                     "memory_limit_in_mb": fn.memory_size, "aws_request_id": request_id,
                     "log_group_name": f"/aws/lambda/{fn.name}", "log_stream_name": request_id,
                     "deadline_ms": int((time.time() + fn.timeout) * 1000)},
            environment={**self._environment(), **fn.environment},
            labels={"pipemu.daemon": self.daemon_id, "pipemu.function": fn.name, "pipemu.code": fn.code_sha256,
                    **(labels or {})},
            timeout_seconds=fn.timeout, memory_mb=fn.memory_size, network=network,
        )

    def invoke(self, fn: FunctionConfig, event, *, log_line: Callable[[str], None] = lambda line: None,
               request_id: str | None = None, container: str | None = None, labels: dict[str, str] | None = None,
               network: str | None = None, cancel: threading.Event | None = None,
               keep_container: bool = False) -> InvocationResult:
        """One invocation in a container of its own, named `container`: what a pipeline's Invoke
        action runs (a restarted daemon re-attaches to that container instead of invoking the
        function twice). Every failure is a result, never raised."""
        request_id = request_id or str(uuid.uuid4())
        planned = self._invocation(fn, event, request_id, log_line, container=container, labels=labels, network=network)
        if isinstance(planned, InvocationResult):
            return planned
        return invoke(self._client(), planned, log_line, cancel, keep_container=keep_container)

    def call(self, fn: FunctionConfig, event) -> Answer:
        """Invoke as the Lambda API's RequestResponse does: the event in, the answer out."""
        lines: list[str] = []
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        planned = self._invocation(fn, event, request_id, lambda line: log.info("%s: %s", fn.name, line))
        if isinstance(planned, InvocationResult):
            result = planned
        elif self.warm:
            result = self.pool.invoke(planned, lines.append)
        else:  # an engine on another machine: its published ports are not ours to reach
            result = invoke(self._client(), planned, lines.append)
        log.info("invoked %s in %.0f ms: %s", fn.name, (time.monotonic() - started) * 1000,
                 "ok" if result.succeeded else result.error_type)
        tail = ("\n".join(lines) + "\n").encode()[-LOG_TAIL_BYTES:]
        if result.succeeded:
            body = json.dumps(result.result).encode()
            if len(body) > PAYLOAD_LIMIT:
                result = InvocationResult(False, None, "Function.ResponseSizeTooLarge",
                                          f"Response payload size ({len(body)} bytes) exceeded maximum allowed "
                                          f"payload size ({PAYLOAD_LIMIT} bytes).")
            else:
                return Answer(body, None, base64.b64encode(tail).decode(), result)
        error = {"errorMessage": result.error_message or "", "errorType": result.error_type or "Error"}
        if result.stack_trace:
            error["stackTrace"] = list(result.stack_trace)
        error["requestId"] = request_id
        return Answer(json.dumps(error).encode(), "Unhandled", base64.b64encode(tail).decode(), result)

    def call_later(self, fn: FunctionConfig, event) -> bool:
        """Invoke as InvocationType=Event does: queued, the caller does not wait. False when
        EVENT_QUEUE invocations wait already (the API answers 429, as Lambda when throttled)."""
        if not self._queued.acquire(blocking=False):
            return False

        def run() -> None:
            try:
                self.call(fn, event)
            except Exception:  # the caller is gone: the daemon's log is where this can go
                log.exception("queued invocation of %s failed", fn.name)
            finally:
                self._queued.release()

        threading.Thread(target=run, name=f"lambda-event-{fn.name}", daemon=True).start()
        return True

    def close(self) -> None:
        """The daemon stops: warm environments go (a new start makes new ones), endpoints close."""
        self.endpoints.close_all()
        self.pool.close()

    def reap(self) -> list[str]:
        """Remove invocation containers of this daemon that no action owns (left by a crash)."""
        removed = []
        try:
            for c in list_containers(self._client(), {"label": [f"pipemu.daemon={self.daemon_id}", "pipemu.function"]}):
                if "pipemu.action-execution" not in c.labels:
                    c.remove(force=True)
                    removed.append(c.name)
        except EngineUnavailable:
            pass
        return removed
