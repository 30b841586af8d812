"""Inputs streamed into a container through its stdin, instead of `put_archive`.

`put_archive` makes the engine unpack the tar itself (it starts a helper process and walks the
container's file system): measured here, ~50 ms per container, an eighth of a no-op build. A
container whose image has `tar` and runs as root can unpack its inputs itself: its command
becomes `tar -xf - -C / && exec <the real command>`, and the daemon writes the same tar to its
stdin right after starting it. Nothing is bind-mounted, so a remote engine works the same.

Whether an image can is probed once per image name and shell, for the daemon's life (a
container that asks `command -v tar` and `id -u`); an image that cannot gets `put_archive`, as
before. If the daemon dies while it writes,
the tar ends early and the container exits with INCOMPLETE before running anything: a restarted
daemon that finds such a container starts the action afresh (never half an input).
"""

from __future__ import annotations

import logging
import socket
import threading

import docker.errors

from .containers import daemon_label

log = logging.getLogger(__name__)

INCOMPLETE = 86  # the exit status of a container whose inputs did not arrive whole
MARKER = "/.pipemu-inputs-whole"  # written once they did
PROBE_LABEL = "pipemu.probe"
_PROBE = 'command -v tar >/dev/null 2>&1 && [ "$(id -u)" = 0 ]'
_probed: dict[tuple[str, str], bool] = {}  # (image, shell) -> can it unpack its own inputs
_lock = threading.Lock()


def can_stream(client, image: str, shell: str = "sh", labels: dict[str, str] | None = None) -> bool:
    """Whether containers of `image` can unpack a tar from stdin into / (probed once per image
    and shell; an image not here yet cannot, until it is). The probe carries the daemon's label of
    `labels` (the action's): a daemon killed while one runs leaves it behind, and its next start (or `pipemu
    down`) finds it by them and removes it (ActionRunner.reap)."""
    with _lock:
        if (image, shell) in _probed:
            return _probed[(image, shell)]
    # Made, started, awaited and removed here rather than with containers.run(remove=True): that
    # leaves the container behind when it cannot start (an image without `shell`: exit 127).
    probe = None
    try:
        probe = client.containers.create(image, [shell, "-c", _PROBE], entrypoint=[], network_mode="none",
                                         labels={**daemon_label(labels or {}), PROBE_LABEL: "tar"})
        probe.start()
        able = probe.wait()["StatusCode"] == 0
        if not able:
            log.info("image %s unpacks no tar itself (no tar, or not root): its inputs go in with put_archive", image)
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.DockerException as exc:  # no such shell
        log.info("image %s cannot run %s (%s): its inputs go in with put_archive", image, shell, exc)
        able = False
    finally:
        if probe is not None:
            try:
                probe.remove(force=True)
            except docker.errors.DockerException:
                pass  # gone already; or the engine went away (a restarted daemon's reap removes it)
    with _lock:
        _probed[(image, shell)] = able
    return able


def command(shell: str, then: list[str]) -> list[str]:
    """The container's command: unpack stdin into /, then `then` (exec'd: it keeps PID 1)."""
    # tar stops at the archive's end marker; the command itself reads no stdin (/dev/null, as
    # a container without one), so a build step that reads stdin does not wait for more.
    # The marker tells a restarted daemon the inputs were whole, whatever the command exits with.
    return [shell, "-c", f'tar -xf - -C / || exit {INCOMPLETE}; : > {MARKER}; exec "$@" </dev/null',
            "pipemu-inputs", *then]


def cut_short(container) -> bool:
    """Whether `container` (found after a restart) stopped before its inputs were whole: created
    and never started, or exited INCOMPLETE without the marker. Nothing of its work ran."""
    if container.status == "created":
        return True
    if container.status != "exited" or container.attrs["State"].get("ExitCode") != INCOMPLETE:
        return False
    try:
        container.get_archive(MARKER)
    except docker.errors.NotFound:
        return True
    return False  # the command itself exited 86: its work ran


def create_kwargs() -> dict:
    """What containers.create needs for a stdin the daemon writes to (not `detach`: a detached
    container's stdin never sees the end of what was written)."""
    return {"stdin_open": True}


def start_with(client, container, data) -> None:
    """Start `container` and write the tar `data` (a file object) to its stdin, then close it."""
    attached = client.api.attach_socket(container.id, params={"stdin": 1, "stream": 1})
    raw = getattr(attached, "_sock", attached)
    try:
        container.start()
        while chunk := data.read(1 << 16):
            raw.sendall(chunk)
        try:
            raw.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    finally:
        attached.close()
