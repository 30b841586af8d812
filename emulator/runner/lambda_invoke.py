"""Run one Lambda invocation in a Docker container: code and event copied in, result copied out.

Host folders are never bind-mounted: the function code goes to /var/task and the runtime shim
(`lambda_bootstrap/`) plus invocation.json to /var/runtime through the container's stdin
(streaming.py; put_archive for an image that cannot unpack them itself), and the shim's
/var/runtime/result.json comes back with get_archive. A container is named after the invocation,
so a restarted daemon re-attaches to it instead of invoking the function a second time.
"""

from __future__ import annotations

import collections
import io
import json
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import docker.errors

from .build_outputs import archive
from .artifact_files import input_member
from .containers import EngineUnavailable, ENGINE_DOWN, existing, unavailable_message, follow, remove, root_owned, started_at
from . import streaming
from .images import image_exists

TASK_ROOT = "/var/task"
RUNTIME_DIR = "/var/runtime"
RESULT_PATH = f"{RUNTIME_DIR}/result.json"
BOOTSTRAP_DIR = Path(__file__).with_name("lambda_bootstrap")
_TAIL_LINES = 20   # log lines kept for the message of a crash


@dataclass(frozen=True)
class Invocation:
    name: str            # container name (unique per invocation; the re-attach key)
    image: str
    runtime: str
    handler: str
    code_dir: Path | None  # host folder with the function code (None: an image function's is in its image)
    event: dict
    context: dict        # function_name, function_version, ..., deadline_ms (the caller fills it)
    environment: dict[str, str]    # AWS_* and user variables; Lambda's own are added if unset
    labels: dict[str, str]
    timeout_seconds: float
    memory_mb: int = 512
    network: str | None = None     # a docker network to join (besides reaching the host)


@dataclass(frozen=True)
class InvocationResult:
    succeeded: bool        # the handler returned (ok): NOT whether the CodePipeline job succeeded
    result: object | None
    error_type: str | None
    error_message: str | None
    stack_trace: tuple = ()  # the handler's, as Lambda answers it in an error payload


class _Failure(Exception):
    """An invocation failure known before or after the container runs."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type


def _fail(error_type: str, message: str) -> InvocationResult:
    return InvocationResult(False, None, error_type, message)


# ---------------------------------------------------------------- preparing

def _is_node(runtime: str) -> bool:
    return runtime.startswith("nodejs")


def shim(runtime: str) -> tuple[str, list[str]]:
    name = "bootstrap.js" if _is_node(runtime) else "bootstrap.py"
    interpreter = "node" if _is_node(runtime) else "python3"
    return name, [interpreter, f"{RUNTIME_DIR}/{name}"]


def environment(inv: Invocation) -> dict[str, str]:
    ctx = inv.context or {}
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": str(ctx.get("function_name", "")),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(inv.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": str(ctx.get("function_version") or "$LATEST"),
        "AWS_LAMBDA_LOG_GROUP_NAME": str(ctx.get("log_group_name", "")),
        "AWS_LAMBDA_LOG_STREAM_NAME": str(ctx.get("log_stream_name", "")),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{inv.runtime}",
        "LAMBDA_TASK_ROOT": TASK_ROOT,
        "LAMBDA_RUNTIME_DIR": RUNTIME_DIR,
        "TZ": ":UTC",
        "_HANDLER": inv.handler,
    }
    if not _is_node(inv.runtime):
        env["PYTHONUNBUFFERED"] = "1"  # log lines as they come, as Lambda's runtime does
    env.update({k: str(v) for k, v in (inv.environment or {}).items()})  # the caller's win
    # Lambda sets both; boto3 reads AWS_DEFAULT_REGION, the JS SDK AWS_REGION.
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        env.setdefault("AWS_REGION", region)
        env.setdefault("AWS_DEFAULT_REGION", region)
    return env


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = root_owned(tarfile.TarInfo(name))
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
    tar.addfile(info)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = root_owned(tarfile.TarInfo(name))
    info.size, info.mode, info.mtime = len(data), mode, int(time.time())
    tar.addfile(info, io.BytesIO(data))


def input_tar(inv: Invocation, with_invocation: bool = True):
    """A tar (on disk: code can be large) extracting at / into /var/task and /var/runtime (the
    code, the shim and, for a one-shot invocation, invocation.json)."""
    shim_name, _ = shim(inv.runtime)
    invocation = {"handler": inv.handler, "event": inv.event, "context": inv.context}
    fh = tempfile.TemporaryFile()
    with tarfile.open(fileobj=fh, mode="w") as tar:
        _add_dir(tar, "var")
        if inv.code_dir is not None:
            tar.add(str(inv.code_dir), arcname=TASK_ROOT.lstrip("/"), filter=input_member)
        _add_dir(tar, RUNTIME_DIR.lstrip("/"))
        _add_bytes(tar, f"{RUNTIME_DIR.lstrip('/')}/{shim_name}",
                   (BOOTSTRAP_DIR / shim_name).read_bytes(), 0o755)
        if with_invocation:
            _add_bytes(tar, f"{RUNTIME_DIR.lstrip('/')}/invocation.json", json.dumps(invocation).encode())
    fh.seek(0)
    return fh


def _create(client, inv: Invocation):
    """The invocation's container, and its inputs still to stream in (None: they went in with
    put_archive, for an image that cannot unpack them itself; see streaming.py)."""
    if inv.code_dir is not None and not Path(inv.code_dir).is_dir():
        raise _Failure("Runtime.InvalidCode", f"function code folder {inv.code_dir} not found")
    if not image_exists(client, inv.image):
        raise _Failure("Runtime.ImageNotFound",
                       f"Lambda runtime image {inv.image} is not available locally (build it "
                       "with emulator.runner.lambda_images.ensure_runtime_image)")
    _, command = shim(inv.runtime)
    labels = {"pipemu.runner": "lambda", **inv.labels}
    kwargs = {}
    if inv.network:
        kwargs["network"] = inv.network
    stream = streaming.can_stream(client, inv.image, labels=labels)
    if stream:
        command = streaming.command("sh", command)
        kwargs.update(streaming.create_kwargs())
    else:
        kwargs["detach"] = True
    container = client.containers.create(
        inv.image, entrypoint=command, command=[], name=inv.name, labels=labels,
        environment=environment(inv), working_dir=TASK_ROOT,
        mem_limit=f"{int(inv.memory_mb)}m", memswap_limit=f"{int(inv.memory_mb)}m",
        nano_cpus=1_000_000_000, privileged=False, security_opt=["no-new-privileges"],
        # Lets the function reach the emulator's API (AWS_ENDPOINT_URL) on the host.
        extra_hosts={"host.docker.internal": "host-gateway"}, **kwargs,
    )
    try:
        data = input_tar(inv)
        if stream:
            return container, data
        with data:
            container.put_archive("/", data)
    except BaseException:
        remove(container)
        raise
    return container, None


# ---------------------------------------------------------------- running

def _stop_reason(inv: Invocation, why: str) -> _Failure:
    if why == "cancel":
        return _Failure("Cancelled", "Invocation cancelled")
    request_id = (inv.context or {}).get("aws_request_id", "")
    stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    return _Failure("Sandbox.Timedout",  # Lambda's own wording
                    f"{stamp[:-6]}Z {request_id} Task timed out after {inv.timeout_seconds:.2f} seconds")


# ---------------------------------------------------------------- collecting

# Lambda's 6 MB response quota, with room for the shim's JSON around the result: a result.json
# past this is never read (its size is in the archive's header).
RESULT_LIMIT = 12 * 1024 * 1024 + 64 * 1024


def _read_result(container) -> dict | None:
    """The shim's result.json, or None if it wrote none; read as it streams, never past the quota."""
    try:
        with archive(container, RESULT_PATH) as tar:
            for member in tar:
                if not member.isfile():
                    continue
                if member.size > RESULT_LIMIT:
                    return {"ok": False, "errorType": "Function.ResponseSizeTooLarge",  # Lambda's wording
                            "errorMessage": f"Response payload size ({member.size} bytes) exceeded maximum "
                                            "allowed payload size (6291456 bytes)."}
                raw = tar.extractfile(member).read()
                try:
                    data = json.loads(raw.decode("utf-8", "replace"))
                except ValueError:
                    return None
                return data if isinstance(data, dict) else None
    except docker.errors.NotFound:
        return None
    return None


def _crash(container, code: int, tail: collections.deque, inv: Invocation,
           engine_restarted: bool) -> InvocationResult:
    request_id = (inv.context or {}).get("aws_request_id", "")
    container.reload()  # the attributes are those of its creation until then
    if container.attrs.get("State", {}).get("OOMKilled"):
        error_type = "Runtime.OutOfMemory"
        reason = f"Runtime exited with error: signal: killed (out of memory, {inv.memory_mb} MB)"
    elif code == 0:
        error_type, reason = "Runtime.ExitError", "Runtime exited without providing a result"
    else:
        error_type, reason = "Runtime.ExitError", f"Runtime exited with error: exit status {code}"
    if engine_restarted:
        reason += " (the Docker engine restarted while the function ran)"
    last = "\n".join(list(tail)[-10:])
    message = f"RequestId: {request_id} Error: {reason}"
    if last:
        message += f"\nLast log lines:\n{last}"
    return _fail(error_type, message)


def _outcome(data: dict) -> InvocationResult:
    if data.get("ok"):
        return InvocationResult(True, data.get("result"), None, None)
    trace = data.get("stackTrace")
    return InvocationResult(False, None, str(data.get("errorType") or "Error"),
                            str(data.get("errorMessage") or ""),
                            tuple(str(t) for t in trace) if isinstance(trace, list) else ())


# ---------------------------------------------------------------- the entry point

def invoke(client, inv: Invocation, log: Callable[[str], None],
           cancel: threading.Event | None = None, keep_container: bool = False) -> InvocationResult:
    """Run (or re-attach to) the invocation `inv`; every failure is a result, never an exception.

    If the caller is interrupted (KeyboardInterrupt, SystemExit: the daemon is going down) the
    container is left running, so the next invoke with the same name re-attaches to it. With
    `keep_container` the caller removes the container itself (containers.remove_named) once it has
    recorded the result: a crash before that re-attaches to the exited container instead of
    invoking the function a second time.
    """
    container = None
    keep = keep_container
    tail: collections.deque = collections.deque(maxlen=_TAIL_LINES)
    try:
        container = existing(client, inv.name)
        if container is not None and streaming.cut_short(container):
            # Died before its inputs were whole (between create and start, or while they
            # streamed in): nothing of the function ran, so start afresh.
            remove(container)
            container = None
        if container is None:
            container, data = _create(client, inv)
            if data is None:
                container.start()
            else:
                with data:
                    streaming.start_with(client, container, data)
            started = time.time()
        else:
            log(f"[pipemu] re-attaching to container {inv.name} ({container.status})")
            started = started_at(container) or time.time()
        def on_line(line: str) -> None:
            tail.append(line)
            log(line)

        followed = follow(container, timeout_seconds=inv.timeout_seconds, started=started, on_line=on_line,
                          cancel=cancel, stop_reason=lambda why: _stop_reason(inv, why))
        code, stopped = followed.code, followed.stopped
        if stopped is not None:
            return _fail(stopped.error_type, str(stopped))
        data = _read_result(container)
        if data is None:
            return _crash(container, code, tail, inv, followed.engine_restarted)
        return _outcome(data)
    except _Failure as exc:
        return _fail(exc.error_type, str(exc))
    except (EngineUnavailable, *ENGINE_DOWN) as exc:
        return _fail("Docker.Error", unavailable_message(exc))
    except (docker.errors.DockerException, OSError) as exc:
        return _fail("Docker.Error", f"Docker error: {exc}")
    except Exception:
        raise
    except BaseException:
        keep = True  # the daemon is stopping: leave the function running for a re-attach
        raise
    finally:
        if container is not None and not keep:
            remove(container)


__all__ = ["Invocation", "InvocationResult", "environment", "input_tar", "invoke", "shim", "RUNTIME_DIR",
           "TASK_ROOT"]
