"""CloudFormation stacks stood in for by long-lived service containers, replaced blue/green.

A stack runs as one container on the bridge network of its environment
(`pipemu-<daemon>-<network>`), where it answers by the alias `<stack>`. As in codebuild.py, host
folders are never bind-mounted: the artifact goes in with put_archive (image mode) or is the build
context of a Dockerfile (dockerfile mode), so a remote engine works the same.

Replacement: the new container starts beside the old one (both carry the alias meanwhile); the
old one is removed only once the new one is healthy. A new container that never turns healthy is
removed, the old one keeps serving, and the deploy fails with the new container's last log lines.

Host ports: two containers cannot publish the same port, so with `host_port` and an old container
the deploy goes in two steps. (1) A *candidate* is started unpublished and without the alias, and
health-checked by its container name: a bad version is found while the old one still serves the
host port. (2) The candidate is removed, the old container is stopped (not removed), and a
published replacement of the same image and configuration is started and health-checked. If the
replacement fails (or the deploy is stopped) it is removed and the old container is started again
and takes the port back. The host port is therefore unserved for the few seconds of step (2).

Health: `command` is Docker's own healthcheck (State.Health.Status); `path` is an HTTP GET by a
short-lived probe container on the same network (busybox `wget`); a port without a health spec is
a TCP connect by the same kind of probe; neither is "running for one second without exiting".
Failures during `start_period` do not count. A `command` given as a string runs with /bin/sh -c.
A `host_port` without a `port` publishes the same port number of the container.

Once healthy, a stack gets the restart policy `unless-stopped`, so it comes back with the engine.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import tarfile
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

import docker.errors

from .codebuild import _ensure_image, _Failure  # same rules as builds
from .containers import list_containers, remove as _remove

MEM_LIMIT = "512m"
NANO_CPUS = 1_000_000_000
_POLL = 0.1
_TAIL = 20
_DROPPED_LABELS = ("pipemu.action-execution",)  # stacks outlive the action that deployed them

_locks: dict[tuple[str, str, str], threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclass(frozen=True)
class HealthSpec:
    command: list[str] | str | None = None
    path: str | None = None
    interval: float = 1.0
    retries: int = 30
    start_period: float = 0.0


@dataclass(frozen=True)
class StackJob:
    stack: str
    network: str
    daemon_id: str
    image: str | None
    dockerfile: str | None
    artifact: Path | None
    command: list[str] | str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    port: int | None = None
    host_port: int | None = None
    health: HealthSpec | None = None
    workdir: str = "/app"
    labels: dict[str, str] = field(default_factory=dict)
    timeout_seconds: float = 600
    probe_image: str = "pipemu/busybox:latest"
    # The name it answers by on its network; by default `stack` (an ECS service stand-in answers
    # by its service's name while `stack` tells services of two clusters apart).
    alias: str | None = None


def declared_job(declared, **fields) -> StackJob:
    """The StackJob of a declared stack or ECS service stand-in (both say `command`, `port`,
    `hostPort` and `healthCheck` alike); `fields` give the rest (name, network, image, ...)."""
    health = declared.healthCheck
    return StackJob(command=declared.command, port=declared.port, host_port=declared.hostPort,
                    health=HealthSpec(health.command, health.path, health.interval, health.retries,
                                      health.startPeriod) if health else None, **fields)


@dataclass(frozen=True)
class DeployResult:
    succeeded: bool
    message: str
    outputs: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------- names, networks, listing

def _clean(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", text)


def network_name(daemon_id: str, network: str) -> str:
    return _clean(f"pipemu-{daemon_id}-{network}")


def _network(client, name: str):
    for net in client.networks.list(names=[name]):  # `names` matches substrings
        if net.name == name:
            return net
    return None


def ensure_network(client, daemon_id: str, network: str) -> str:
    """Create the environment's bridge network if missing (labelled); return its name."""
    name = network_name(daemon_id, network)
    with _locks_guard:
        if _network(client, name) is None:
            try:
                client.networks.create(name, driver="bridge", check_duplicate=True, labels={
                    "pipemu.daemon": daemon_id, "pipemu.kind": "network", "pipemu.network": network})
            except docker.errors.APIError:
                if _network(client, name) is None:  # not a lost race with another process
                    raise
    return name


def remove_idle_networks(client, daemon_id: str) -> list[str]:
    """Remove this daemon's networks that nothing is attached to (Docker has room for only a
    few dozen networks with its default address pools); returns their names."""
    removed = []
    for net in client.networks.list(filters={"label": f"pipemu.daemon={daemon_id}"}):
        try:
            net.reload()
            if not net.attrs.get("Containers"):
                net.remove()
                removed.append(net.name)
        except docker.errors.APIError:
            pass  # in use meanwhile, or already gone
    return removed


def remove_everything(client, daemon_id: str) -> tuple[list[str], list[str]]:
    """`pipemu down`: every container (deployed stacks, leftover actions) and network of a daemon
    that is not running; returns the names removed (containers, networks)."""
    containers = []
    for container in list_containers(client, {"label": f"pipemu.daemon={daemon_id}"}):
        _remove(container)
        containers.append(container.name)
    return containers, remove_idle_networks(client, daemon_id)


def remove_network(client, daemon_id: str, network: str) -> bool:
    """Remove the environment's network if it exists and nothing is attached; True if removed."""
    net = _network(client, network_name(daemon_id, network))
    try:
        if net is not None:
            net.remove()
            return True
    except docker.errors.APIError:
        pass
    return False


def stack_containers(client, daemon_id: str, stack: str | None = None,
                     network: str | None = None) -> list:
    """The stack containers of a daemon (stopped ones included: clean-up wants them too)."""
    labels = [f"pipemu.daemon={daemon_id}", "pipemu.kind=stack"]
    if stack is not None:
        labels.append(f"pipemu.stack={stack}")
    if network is not None:
        labels.append(f"pipemu.network={network}")
    return list_containers(client, {"label": labels})


def _lock(job: StackJob) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault((job.daemon_id, job.network, job.stack), threading.Lock())


# ---------------------------------------------------------------- images

def _readable(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mode |= 0o755 if info.isdir() else 0o644
    return info


def _artifact_hash(folder: Path, dockerfile: str) -> str:
    digest = hashlib.sha256(dockerfile.encode() + b"\0")
    for path in sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        if path.is_symlink():
            digest.update(b"l" + os.readlink(path).encode())
        else:
            digest.update(b"x" if os.access(path, os.X_OK) else b"f")
            with open(path, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _tar(folder: Path | None, workdir: str = "/"):
    """A tar (on disk) of `folder`'s contents, placed under `workdir` when extracted at /."""
    fh = tempfile.TemporaryFile()
    base = PurePosixPath(workdir).as_posix().strip("/")
    with tarfile.open(fileobj=fh, mode="w") as tar:
        if folder is not None:
            if base:
                tar.add(str(folder), arcname=base, filter=_readable)
            else:
                for child in sorted(folder.iterdir()):
                    tar.add(str(child), arcname=child.name, filter=_readable)
    fh.seek(0)
    return fh


def _build(client, job: StackJob, log) -> str:
    rel = (job.dockerfile or "").strip()
    parts = PurePosixPath(rel).parts
    if job.artifact is None or not Path(job.artifact).is_dir():
        raise _Failure("dockerfile mode needs an input artifact, and the deploy has none")
    if not rel or PurePosixPath(rel).is_absolute() or ".." in parts \
            or not Path(job.artifact, *parts).is_file():
        raise _Failure(f"Dockerfile {rel} not found in the input artifact")
    repo = re.sub(r"[^a-z0-9._-]+", "-", job.stack.lower()).strip("-._") or "stack"
    tag = f"pipemu-stack/{repo}:{_artifact_hash(Path(job.artifact), rel)}"
    try:
        client.images.get(tag)
        log(f"[pipemu] reusing image {tag}")
        return tag
    except docker.errors.ImageNotFound:
        pass
    log(f"[pipemu] building image {tag} from {rel}")
    with _tar(Path(job.artifact)) as context:
        for chunk in client.api.build(fileobj=context, custom_context=True, tag=tag, dockerfile=rel,
                                      rm=True, forcerm=True, decode=True,
                                      labels={"pipemu.daemon": job.daemon_id,
                                              "pipemu.stack": job.stack}):
            if "error" in chunk:
                raise _Failure(f"Docker build of {rel} failed: {chunk['error'].strip()}")
            for line in str(chunk.get("stream", "")).splitlines():
                if line.strip():
                    log(line)
    return tag


# ---------------------------------------------------------------- containers

def _tail(container) -> str:
    try:
        return container.logs(tail=_TAIL).decode("utf-8", "replace").rstrip()
    except docker.errors.DockerException:
        return ""


def _labels(job: StackJob) -> dict[str, str]:
    labels = {k: v for k, v in job.labels.items() if k not in _DROPPED_LABELS}
    labels.update({"pipemu.daemon": job.daemon_id, "pipemu.kind": "stack",
                   "pipemu.stack": job.stack, "pipemu.network": job.network})
    if job.port:
        labels["pipemu.port"] = str(job.port)
    if job.host_port:
        labels["pipemu.host-port"] = str(job.host_port)
    return labels


def _healthcheck(health: HealthSpec | None) -> dict | None:
    if health is None or health.command is None:
        return None
    test = ["CMD-SHELL", health.command] if isinstance(health.command, str) \
        else ["CMD", *health.command]
    check = {"test": test, "interval": max(int(health.interval * 1e9), 1_000_000),
             "timeout": 10_000_000_000, "retries": health.retries}
    if health.start_period > 0:
        check["start_period"] = max(int(health.start_period * 1e9), 1_000_000)
    return check


def _create(client, job: StackJob, image: str, net: str, publish: bool, alias: bool):
    name = _clean(f"pipemu-{job.daemon_id}-{job.network}-{job.stack}-{uuid.uuid4().hex[:8]}")
    command = ["/bin/sh", "-c", job.command] if isinstance(job.command, str) else job.command
    ports = None
    if publish and job.host_port:
        ports = {f"{job.port or job.host_port}/tcp": ("127.0.0.1", job.host_port)}
    container = client.containers.create(
        image, command=command, name=name, labels=_labels(job), environment=dict(job.environment),
        working_dir=job.workdir, detach=True, ports=ports, healthcheck=_healthcheck(job.health),
        extra_hosts={"host.docker.internal": "host-gateway"}, privileged=False,
        mem_limit=MEM_LIMIT, nano_cpus=NANO_CPUS, network=net, init=True,  # signals, zombies
        networking_config={net: client.api.create_endpoint_config(
            aliases=[job.alias or job.stack] if alias else [])},
    )
    try:
        if job.image is not None and job.artifact is not None:
            with _tar(Path(job.artifact), job.workdir) as data:
                container.put_archive("/", data)
        container.start()
    except BaseException:
        _remove(container)
        raise
    return container


class _Pump:
    """Streams a container's output into a queue, drained on the caller's thread."""

    def __init__(self, container):
        self.lines: queue.Queue = queue.Queue()
        self.stream = container.logs(stream=True, follow=True)
        threading.Thread(target=self._run, daemon=True, name=f"stack-logs-{container.name}").start()

    def _run(self) -> None:
        pending = b""
        try:
            for chunk in self.stream:
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for raw in complete:
                    self.lines.put(raw.decode("utf-8", "replace").rstrip("\r"))
        except Exception:
            pass  # closed, or the container went away
        if pending:
            self.lines.put(pending.decode("utf-8", "replace").rstrip("\r"))

    def drain(self, log) -> None:
        while True:
            try:
                log(self.lines.get_nowait())
            except queue.Empty:
                return

    def close(self) -> None:
        try:
            self.stream.close()
        except Exception:
            pass


def _probe(client, job: StackJob, net: str, target: str) -> tuple[bool, str]:
    """One HTTP (path) or TCP probe of `target` from a short-lived container on `net`."""
    port = job.port or 80
    if job.health is not None and job.health.path is not None:
        path = job.health.path if job.health.path.startswith("/") else "/" + job.health.path
        script = f"timeout 10 wget -q -O /dev/null 'http://{target}:{port}{path}'"
    else:
        script = (f"nc -z -w 2 {target} {port} 2>/dev/null || "
                  f"timeout 3 nc -w 2 {target} {port} </dev/null >/dev/null")
    probe = client.containers.create(
        job.probe_image, command=["/bin/sh", "-c", script], network=net, detach=True,
        labels={"pipemu.daemon": job.daemon_id, "pipemu.kind": "probe", "pipemu.stack": job.stack},
        mem_limit="64m")
    try:
        probe.start()
        code = probe.wait(timeout=15).get("StatusCode", 1)
        output = probe.logs().decode("utf-8", "replace").strip()
        return code == 0, output or f"exit status {code}"
    except Exception as exc:  # the wait timed out (requests raises its own errors)
        return False, f"probe failed: {exc}"
    finally:
        _remove(probe)


def _wait_healthy(client, container, job: StackJob, net: str, log, cancel, deadline) -> None:
    """Returns once `container` is healthy; raises _Failure with the reason otherwise."""
    health = job.health
    mode = "command" if health and health.command is not None else \
        "probe" if (health and health.path is not None) or job.port else "running"
    interval = health.interval if health else 1.0
    retries = health.retries if health else 30
    start_period = health.start_period if health else 0.0
    started = time.monotonic()
    next_probe, failures = started, 0
    pump = _Pump(container)
    try:
        while True:
            pump.drain(log)
            if cancel is not None and cancel.is_set():
                raise _Failure("Deploy stopped")
            if time.monotonic() > deadline:
                raise _Failure(f"timed out after {job.timeout_seconds:g} seconds")
            container.reload()
            state = container.attrs.get("State", {})
            if state.get("Status") in ("exited", "dead"):
                oom = " (out of memory)" if state.get("OOMKilled") else ""
                raise _Failure(f"the container exited with status {state.get('ExitCode')}{oom}")
            if mode == "command":
                status = (state.get("Health") or {}).get("Status")
                if status == "healthy":
                    return
                if status == "unhealthy":
                    runs = (state.get("Health") or {}).get("Log") or [{}]
                    last = str(runs[-1].get("Output", "")).strip()
                    raise _Failure(f"health check command failed {retries} times"
                                   + (f": {last}" if last else ""))
            elif mode == "probe":
                if time.monotonic() >= next_probe:
                    next_probe = time.monotonic() + interval
                    ok, output = _probe(client, job, net, container.name)
                    if ok:
                        return
                    if time.monotonic() - started >= start_period:
                        failures += 1
                        log(f"[pipemu] health check {failures}/{retries} failed: {output}")
                    if failures >= retries:
                        raise _Failure(f"health check failed {failures} times: {output}")
            elif time.monotonic() - started >= 1.0:
                return
            time.sleep(_POLL)
    finally:
        pump.drain(log)
        pump.close()


def _start_healthy(client, job, image, net, log, cancel, deadline, publish, alias):
    """Create, start and health-check a container; on failure it is removed and _Failure says why."""
    if cancel is not None and cancel.is_set():
        raise _Failure("Deploy stopped")
    container, healthy = None, False
    try:
        container = _create(client, job, image, net, publish, alias)
        log(f"[pipemu] started {container.name}; waiting for it to be healthy")
        _wait_healthy(client, container, job, net, log, cancel, deadline)
        log(f"[pipemu] {container.name} is healthy")
        healthy = True
        return container
    except (_Failure, docker.errors.DockerException) as exc:
        if str(exc) == "Deploy stopped":
            raise
        tail = _tail(container) if container is not None else ""
        reason = str(exc) if isinstance(exc, _Failure) else f"Docker error: {exc}"
        raise _Failure(f"Stack {job.stack}: the new container did not turn healthy: {reason}"
                       + (f"\nLast log lines:\n{tail}" if tail else "")) from None
    finally:
        if container is not None and not healthy:
            _remove(container)  # failed, stopped or interrupted: the old version keeps serving


# ---------------------------------------------------------------- the entry points

def deploy(client, job: StackJob, log: Callable[[str], None],
           cancel: threading.Event | None = None) -> DeployResult:
    """Deploy (or replace, blue/green) the stack `job`; every failure is a DeployResult."""
    deadline = time.monotonic() + job.timeout_seconds
    t0 = time.monotonic()
    try:
        with _lock(job):
            if (job.image is None) == (job.dockerfile is None):
                raise _Failure("a stack needs exactly one of image or dockerfile")
            net = ensure_network(client, job.daemon_id, job.network)
            if job.image is not None:
                _ensure_image(client, job.image)
                image = job.image
            else:
                image = _build(client, job, log)
            probes = job.health is None or job.health.command is None
            if probes and (job.port or (job.health and job.health.path)):
                _ensure_image(client, job.probe_image)
            old = stack_containers(client, job.daemon_id, job.stack, job.network)
            if old:
                log(f"[pipemu] replacing {', '.join(c.name for c in old)}")
            if job.host_port and any(c.status == "running" for c in old):
                candidate = _start_healthy(client, job, image, net, log, cancel, deadline,
                                           publish=False, alias=False)
                _remove(candidate)
                stopped = [c for c in old if c.status == "running"]
                for c in stopped:
                    log(f"[pipemu] stopping {c.name} to free host port {job.host_port}")
                    c.stop(timeout=5)
                try:
                    new = _start_healthy(client, job, image, net, log, cancel, deadline,
                                         publish=True, alias=True)
                except BaseException:
                    for c in stopped:
                        log(f"[pipemu] restarting {c.name}")
                        try:
                            c.start()
                        except docker.errors.DockerException as exc:
                            log(f"[pipemu] could not restart {c.name}: {exc}")
                    raise
            else:
                new = _start_healthy(client, job, image, net, log, cancel, deadline,
                                     publish=bool(job.host_port), alias=True)
            for c in old:
                log(f"[pipemu] removing {c.name}")
                _remove(c)
            try:
                new.update(restart_policy={"Name": "unless-stopped"})
            except docker.errors.DockerException:
                pass
            outputs = {"StackName": job.stack, "ContainerId": new.id, "ContainerName": new.name,
                       "NetworkName": net, "Image": image}
            if job.port:
                outputs["ServiceUrl"] = f"http://{job.stack}:{job.port}"
            if job.host_port:
                outputs["HostUrl"] = f"http://127.0.0.1:{job.host_port}"
            message = f"Stack {job.stack} deployed as {new.name} in {time.monotonic() - t0:.1f}s"
            log(f"[pipemu] {message}")
            return DeployResult(True, message, outputs)
    except _Failure as exc:
        log(f"[pipemu] {exc}")
        return DeployResult(False, str(exc), {})
    except docker.errors.DockerException as exc:
        log(f"[pipemu] Docker error: {exc}")
        return DeployResult(False, f"Docker error: {exc}", {})


def delete(client, daemon_id: str, stack: str, network: str, log) -> DeployResult:
    """ActionMode DELETE_ONLY: remove the stack's containers; a missing stack is a success."""
    try:
        found = stack_containers(client, daemon_id, stack, network)
        for c in found:
            log(f"[pipemu] removing {c.name}")
            _remove(c)
        message = f"Stack {stack} deleted" if found else f"Stack {stack} does not exist"
        log(f"[pipemu] {message}")
        return DeployResult(True, message, {"StackName": stack})
    except docker.errors.DockerException as exc:
        return DeployResult(False, f"Docker error: {exc}", {})


__all__ = ["DeployResult", "HealthSpec", "StackJob", "delete", "deploy", "ensure_network",
           "network_name", "remove_everything", "remove_network", "stack_containers"]
