"""Container chores shared by the runners (builds, Lambda invocations, stacks): following a
container to its end (log lines, cancel, timeout, riding out an engine restart), when a container
started, killing, removing, finding one by name, and tar members owned by root."""

from __future__ import annotations

import os
import queue
import re
import tarfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import docker.errors
import requests.exceptions

_POLL = 0.1  # seconds between checks of cancel and timeout while a container runs
# How long a running action waits for an engine that stopped answering (dockerd restarting)
# before it fails: a restart takes a few seconds, a crashed engine may take a person to notice.
ENGINE_GRACE = 60.0

# What the Docker SDK raises when the engine is not there (socket refused or gone mid-stream),
# as opposed to an engine that answered with an error (docker.errors.APIError).
ENGINE_DOWN = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
               ConnectionError, FileNotFoundError)


class EngineUnavailable(Exception):
    """The Docker engine did not answer; the text says for how long and what failed."""


def engine_down(exc: BaseException) -> bool:
    return isinstance(exc, (EngineUnavailable, *ENGINE_DOWN))


def unavailable_message(exc: BaseException) -> str:
    """'Docker engine unavailable at <where>: <why>' for an action's failure."""
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    return f"Docker engine unavailable at {where}: {_reason(exc)}"


def _reason(exc: BaseException) -> str:
    # requests wraps urllib3 which wraps the OSError that says it plainly ("Connection refused").
    seen, todo = set(), [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        todo += [a for a in getattr(current, "args", ()) if isinstance(a, BaseException)]
        todo += [c for c in (current.__cause__, current.__context__) if c is not None]
    return _short(exc)


# A log line longer than this is split (as CodeBuild's logs split long lines): a 20 MB output
# without a newline stays a readable log of 64 KiB lines, and reading it stays linear.
MAX_LINE = 64 * 1024


def pump_logs(container, lines: queue.Queue, since: float | None = None) -> None:
    """Reads the container's log (stdout+stderr) into `lines`, one line per item; None ends."""
    try:
        pending = bytearray()
        extra = {"since": int(since)} if since is not None else {}
        def split_long() -> None:
            while len(pending) > MAX_LINE:
                lines.put(pending[:MAX_LINE].decode("utf-8", "replace"))
                del pending[:MAX_LINE]

        for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True, **extra):
            first, *rest = chunk.split(b"\n")  # only the new bytes are searched for newlines
            pending += first
            for part in rest:
                split_long()
                lines.put(pending.decode("utf-8", "replace").rstrip("\r"))
                pending[:] = part
            split_long()
        if pending:
            lines.put(pending.decode("utf-8", "replace").rstrip("\r"))
    except Exception as exc:  # the engine went away: the status poll below decides the outcome
        lines.put(f"[pipemu] log stream ended: {exc}")
    finally:
        lines.put(None)


@dataclass(frozen=True)
class Followed:
    code: int                    # the container's exit status
    stopped: object | None       # the caller's reason when we killed it (cancel, timeout)
    engine_restarted: bool       # the engine went away while the container ran


def follow(container, *, timeout_seconds: float, started: float, on_line: Callable[[str], None],
           cancel: threading.Event | None, stop_reason: Callable[[str], object],
           grace: float = ENGINE_GRACE) -> Followed:
    """Stream the container's log lines to `on_line` (on this thread) until it stops.

    On cancel or after `timeout_seconds` (counted from `started`, a wall-clock time: a re-attach
    keeps the first start) the container is killed and `stop_reason("cancel" | "timeout")` is
    what we return as `stopped`. If the engine stops answering, we wait up to `grace` seconds for
    it: a container that outlived the restart (live-restore) is followed on; one the restart
    stopped returns its exit status with `engine_restarted`; no engine by then raises
    EngineUnavailable.
    """
    deadline = time.monotonic() + timeout_seconds - (time.time() - started)
    stopped: object | None = None
    restarted = False
    drain_until = None
    lines = _pump(container)
    stream_open = True
    while True:
        if stream_open:
            try:
                item = lines.get(timeout=_POLL)
                if item is None:
                    stream_open = False
                else:
                    on_line(item)
            except queue.Empty:
                pass
        else:
            # The log stream ended, normally with the container: its exit status, or a missing
            # engine (the stream broke because dockerd stopped).
            try:
                code = _exit_status(container, max(1.0, deadline - time.monotonic()) if stopped is None else 30)
            except Exception as exc:
                if not engine_down(exc):
                    raise
                on_line(f"[pipemu] the Docker engine stopped answering ({_short(exc)}); "
                        f"waiting up to {grace:g} s for it")
                restarted, lost_at = True, time.time()
                state = _ride_out(container, grace, cancel)
                if state.get("Status") not in ("exited", "dead"):  # live-restore kept it: follow on
                    on_line(f"[pipemu] the Docker engine is back; the container is {state.get('Status')}")
                    lines, stream_open = _pump(container, since=lost_at), True
                    continue
                code = int(state.get("ExitCode", -1))
                on_line(f"[pipemu] the Docker engine is back; the container had stopped (status {code})")
            if code is not None:
                return Followed(code, stopped, restarted)
        if stopped is None:
            if cancel is not None and cancel.is_set():
                stopped = stop_reason("cancel")
            elif time.monotonic() > deadline:
                stopped = stop_reason("timeout")
            if stopped is not None:
                on_line(f"[pipemu] {stopped}")
                kill(container)
                drain_until = time.monotonic() + 10
        elif stream_open and drain_until is not None and time.monotonic() > drain_until:
            stream_open = False  # a log stream that hangs after the kill must not hold us


def _exit_status(container, timeout: float) -> int | None:
    """The exit status once the container stops (waiting up to `timeout`), None if it still runs."""
    try:
        return int(container.wait(timeout=timeout).get("StatusCode", -1))
    except Exception as exc:
        if engine_down(exc):
            raise
    state = _state(container)  # the wait timed out (or failed): ask, and let the loop go on
    if state.get("Status") in ("exited", "dead"):
        return int(state.get("ExitCode", -1))
    return None


def _pump(container, since: float | None = None) -> queue.Queue:
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=pump_logs, args=(container, lines, since), daemon=True,
                     name=f"logs-{container.name}").start()
    return lines


def _state(container) -> dict:
    container.reload()
    return container.attrs.get("State", {})


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 160 else text[:157] + "..."


def _drop_connections(container) -> None:
    api = getattr(getattr(container, "client", None), "api", None)
    if api is not None:
        api.close()  # a requests Session: closes its pooled connections, stays usable


def _ride_out(container, grace: float, cancel: threading.Event | None) -> dict:
    """Wait for the engine to answer again and return the container's state then."""
    give_up = time.monotonic() + grace
    last: BaseException | None = None
    # A dockerd that is stopping removes its socket first but still answers on connections it
    # has: drop ours, so the engine counts as back only when a new connection gets an answer.
    _drop_connections(container)
    while time.monotonic() < give_up:
        try:
            return _state(container)
        except docker.errors.NotFound:
            raise EngineUnavailable("the container was gone when the Docker engine came back") from None
        except Exception as exc:
            if not engine_down(exc) and not isinstance(exc, docker.errors.APIError):
                raise
            last = exc  # an APIError here is an engine still starting ("shutting down", 500)
        if cancel is not None and cancel.is_set():
            break
        time.sleep(0.5)
    raise EngineUnavailable(f"the Docker engine did not answer for {grace:g} s ({_short(last)})")


def remove(container) -> None:
    try:
        container.remove(force=True)
    except (docker.errors.DockerException, *ENGINE_DOWN, OSError):
        pass


def started_at(container) -> float | None:
    raw = container.attrs.get("State", {}).get("StartedAt", "")
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?", raw or "")
    if not m or raw.startswith("0001"):
        return None
    frac = float(m.group(2) or 0)
    return datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=timezone.utc).timestamp() + frac


def kill(container) -> None:
    try:
        container.kill()
    except docker.errors.APIError:
        pass


def remove_named(client, name: str) -> bool:
    """Remove the container `name` if it is there; False when the engine could not be asked."""
    try:
        container = existing(client, name)
        if container is not None:
            container.remove(force=True)
        return True
    except docker.errors.NotFound:
        return True
    except (docker.errors.DockerException, *ENGINE_DOWN):
        return False


def create(client, image: str, command: list[str], **kwargs):
    """`client.containers.create` without the inspect it does after creating: a container just
    made needs none (start, logs, wait and remove use its id), and that call costs ~3 ms of an
    action's start. Raises as create does (ImageNotFound, a 409 APIError for a name in use)."""
    from docker.models.containers import _create_container_args  # docker-py's own kwargs mapping

    args = _create_container_args({**kwargs, "image": image, "command": command, "version": client.api._version})
    made = client.api.create_container(**args)
    return client.containers.prepare_model({"Id": made["Id"], "Name": f"/{kwargs.get('name', '')}"})


def existing(client, name: str):
    try:
        return client.containers.get(name)
    except docker.errors.NotFound:
        return None


def daemon_label(labels: dict[str, str]) -> dict[str, str]:
    """Only the daemon's label of an action's labels: for what outlives the action (a build
    cache's volume, an image probe), found later by the daemon, never by the action."""
    return {k: v for k, v in labels.items() if k == "pipemu.daemon"}


def list_containers(client, filters: dict | None = None) -> list:
    """Every container matching `filters` (stopped ones too), as `containers.list(all=True)`
    without its race: that lists, then inspects each, and raises NotFound when one is removed in
    between (another action's container going away). A container gone by its inspect is skipped."""
    import docker.errors

    found = []
    for summary in client.api.containers(all=True, filters=filters or {}):
        try:
            found.append(client.containers.get(summary["Id"]))
        except docker.errors.NotFound:
            continue
    return found


def root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info
