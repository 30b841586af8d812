"""Container chores shared by the runners (builds, Lambda invocations, stacks): reading a log
stream line by line, when a container started, killing, removing, finding one by name, and tar
members owned by root."""

from __future__ import annotations

import queue
import re
import tarfile
from datetime import datetime, timezone

import docker.errors


def pump_logs(container, lines: queue.Queue) -> None:
    """Reads the container's log (stdout+stderr) into `lines`, one line per item; None ends."""
    try:
        pending = b""
        for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                lines.put(raw.decode("utf-8", "replace").rstrip("\r"))
        if pending:
            lines.put(pending.decode("utf-8", "replace").rstrip("\r"))
    except Exception as exc:  # the engine went away: the status poll below decides the outcome
        lines.put(f"[pipemu] log stream ended: {exc}")
    finally:
        lines.put(None)


def remove(container) -> None:
    try:
        container.remove(force=True)
    except (docker.errors.DockerException, OSError):
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


def existing(client, name: str):
    try:
        return client.containers.get(name)
    except docker.errors.NotFound:
        return None


def root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info
