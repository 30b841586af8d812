"""`pipemu serve`: wire the store, service, runner and API together and serve until stopped.

Start-up order matters: replay the state folder first (executions, approvals, tokens), then
load the pipelines folder (a changed definition becomes a new pipelineVersion), then carry out
what was in progress, then answer requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
import logging
import os
import time
from datetime import datetime, timedelta
from typing import Callable
import socket
import sqlite3
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import uvicorn

from emulator.api.app import create_app
from emulator.api.auth import Access
from emulator.api.hosts import HostAllowList
from emulator.definitions import load_folder
from emulator.events import EventBus
from emulator.events.targets import FunctionSender, HttpSender, PipelineSender, TopicSender
from emulator.runner.actions import ActionRunner
from emulator.service import CodePipeline
from emulator.service.timers import Timers
from emulator.store import Store

from . import container
from .credentials import own_credentials
from .folder_watch import FolderWatcher
from .lock import lock_state_folder
from .pull_requests import PullRequests
from .triggers import Triggers

log = logging.getLogger("pipemu")


def daemon_id(state_dir: Path) -> str:
    """This state folder's id, kept in the folder: labels its containers, so that a restarted
    daemon finds its own (and never touches another daemon's)."""
    path = state_dir / "daemon-id"
    if not path.exists():
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            handle.write(f"pipemu-{uuid.uuid4().hex[:12]}\n")
    return path.read_text().strip()


def _starter(service: CodePipeline) -> Callable[[dict], dict]:
    """StartPipelineExecution for the CodePipeline invoke action, with the checks an API request
    gets (botocore's shapes: variable names, value lengths), so that the action is refused in the
    words a call would be."""
    from emulator.api import shapes
    from emulator.service.errors import validation

    def start(params: dict) -> dict:
        violations = shapes.validate_input("StartPipelineExecution",
                                           {k: v for k, v in params.items() if not k.startswith("_")})
        if violations:
            raise validation(shapes.first_violation_message(violations))
        return service.start_pipeline_execution(params)

    return start


def build_service(pipelines_dir: Path, state_dir: Path, container_endpoint: str | None = None,
                  on_network: Callable[[str], None] | None = None,
                  credentials: tuple[str, str] | None = None) -> tuple[CodePipeline, Timers]:
    store = Store(state_dir)
    moved = schedule_clock()  # PIPEMU_SCHEDULE_CLOCK_START: the engine's clock too
    clock = (lambda: moved().timestamp()) if moved else time.time
    timers = Timers(clock)
    service_box: list[CodePipeline] = []

    def write_log(action_execution_id: str, line: str) -> None:
        try:
            store.append_log(action_execution_id, line, service_box[0].now())
        except sqlite3.ProgrammingError:
            pass  # the store closed while the daemon stops; the container's output stays in Docker

    region = os.environ.get("AWS_REGION", "us-east-1")
    runner = ActionRunner(
        state_dir,
        resources=lambda: service_box[0].resources,
        write_log=write_log,
        daemon_id=daemon_id(state_dir),
        api_endpoint=container_endpoint,
        region=region,
        on_network=on_network,
        credentials=credentials,
    )
    runner.keep_failed = os.environ.get("PIPEMU_KEEP_FAILED", "").lower() in ("1", "true", "yes")
    # pipemu's own simulated mode (runner/simulate.py): container actions end without Docker.
    runner.simulate_all = os.environ.get("PIPEMU_SIMULATE", "").lower() in ("1", "true", "yes")
    if runner.simulate_all:
        log.warning("simulated mode (--simulate): builds, Commands and deploys start no container; "
                    "they succeed after a short wait")
    retention = int(os.environ.get("PIPEMU_ARTIFACT_RETENTION", "20"))
    service = CodePipeline(store, runner, region=region, timers=timers, artifact_retention=retention, clock=clock)
    runner.clock = clock  # rules that wait (CloudWatchAlarm's WaitTime) count on the engine's clock
    runner.start_pipeline = _starter(service)  # the CodePipeline invoke action
    service_box.append(service)
    service.events = event_bus(service, runner, region)
    folder = load_folder(pipelines_dir)
    for error in folder.errors:
        log.error("%s", error)
    for warning in folder.warnings:
        log.warning("%s", warning)
    # Resources first, so that actions resumed by restore() find their projects and repositories.
    service.resources = folder
    replayed = service.restore()
    declared = service.load_definitions(folder)
    log.info("restored %d events; declared %s", replayed, ", ".join(declared) or "nothing new")
    return service, timers


def event_bus(service: CodePipeline, runner: ActionRunner, region: str) -> EventBus:
    """The default bus: CodePipeline's events to the folder's rules' targets. SNS topics are
    looked up when an event is delivered (`runner.topics`, where the daemon has topic stand-ins)."""
    return EventBus({
        "function": FunctionSender(lambda: runner.lambdas),
        "pipeline": PipelineSender(service.start_by_trigger, region),
        "topic": TopicSender(lambda: getattr(runner, "topics", None), region),
        "url": HttpSender(),
    })


def bridge_gateway() -> str | None:
    """The host's address on Docker's default bridge, where containers reach the host
    (`host.docker.internal` with host-gateway); None without a local engine."""
    try:
        import docker

        client = docker.from_env(timeout=5)
        config = client.networks.get("bridge").attrs["IPAM"]["Config"]
        for entry in config:
            if "Gateway" in entry:
                return entry["Gateway"]
            if "Subnet" in entry:  # engines that leave the gateway out use the subnet's first host
                return str(next(ipaddress.ip_network(entry["Subnet"]).hosts()))
        return None
    except Exception:  # no engine, or a remote one: containers cannot reach us this way
        return None


def host_addresses() -> set[str]:
    """The host's own addresses on the engine's networks (each network's gateway): a request from
    one of them comes from this machine (a published port's proxy, a user on the bridge address),
    not from a container. Empty without a local engine."""
    if not os.environ.get("DOCKER_HOST", "unix://").startswith("unix://"):
        return set()  # a remote engine's gateways are addresses of another machine
    try:
        import docker

        networks = docker.from_env(timeout=5).networks.list(filters={"driver": "bridge"})  # not macvlan's router
        return set().union(*(container.gateways(n.attrs) for n in networks))
    except Exception:  # no engine: only loopback is the host
        return set()


def listening_sockets(host: str, port: int) -> list[socket.socket]:
    """The API's sockets: `host`, and when that is loopback, also the Docker bridge gateway, so
    that the daemon stays private to this machine yet the containers it starts reach it."""
    hosts = [host]
    if host in ("127.0.0.1", "localhost"):
        gateway = bridge_gateway()
        if gateway:
            hosts.append(gateway)
    sockets = []
    for address in hosts:
        # IPPROTO_TCP explicitly: asyncio turns Nagle off (TCP_NODELAY) only on accepted sockets
        # whose protocol says TCP; without it every answer waited ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM,
                             socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError as exc:
            sock.close()
            if address == host:
                raise
            log.warning("not listening on %s:%d (%s): containers cannot reach the API", address, port, exc)
            continue
        sock.listen(128)
        sock.set_inheritable(True)
        sockets.append(sock)
    return sockets


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM/SIGINT once it has stopped, which would kill the process before
    the daemon closes its state; here the signal only asks for the graceful stop."""

    async def main_loop(self) -> None:
        # uvicorn wakes ten times a second (to refresh its Date header and notice a stop): an
        # idle daemon must not. Our responses carry their own Date; a stop wakes this loop.
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        await self.on_tick(0)
        while not self.should_exit:
            await self._wake.wait()
            self._wake.clear()

    def handle_exit(self, sig, frame) -> None:
        super().handle_exit(sig, frame)
        if getattr(self, "_loop", None) is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    @contextlib.contextmanager
    def capture_signals(self):
        signals = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in signals}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def schedule_clock() -> Callable[[], datetime] | None:
    """PIPEMU_SCHEDULE_CLOCK_START=2026-11-27T00:59:55Z starts the daemon's clock at that moment
    (running at real speed): the schedules' and the engine's (execution times, DeploymentWindow
    rules), so a test or a trainer can see the nightly release fire, or a window open, now."""
    start = os.environ.get("PIPEMU_SCHEDULE_CLOCK_START")
    if not start:
        return None
    origin = datetime.fromisoformat(start.replace("Z", "+00:00"))
    began = time.monotonic()
    return lambda: origin + timedelta(seconds=time.monotonic() - began)


def serve(pipelines_dir: Path, state_dir: Path, host: str, port: int,
          credentials: tuple[str, str] | None = None, allowed_hosts: list[str] = ()) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(state_dir, 0o700)  # before anything is written in it: keys, tokens, logs
    lock = lock_state_folder(state_dir)
    sockets = listening_sockets(host, port)
    port = sockets[0].getsockname()[1]
    joiner = container.network_joiner(port, daemon_id(state_dir))  # None unless we run in a container
    container_endpoint = (os.environ.get("PIPEMU_CONTAINER_ENDPOINT") or (joiner and joiner.endpoint)
                          or f"http://host.docker.internal:{port}")
    own = own_credentials(state_dir)  # given to every container the daemon starts
    service, timers = build_service(pipelines_dir, state_dir, container_endpoint, on_network=joiner, credentials=own)
    triggers = Triggers(service, schedule_clock())
    # Links that people open (an approval message's approvalReviewLink): where this machine
    # reaches the daemon, or PIPEMU_PUBLIC_URL when it is published elsewhere (a container's port).
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else (f"[{host}]" if ":" in host else host)
    service.runner.topics.base_url = (os.environ.get("PIPEMU_PUBLIC_URL") or f"http://{shown}:{port}").rstrip("/")
    service.runner.host_endpoint = f"http://{shown}:{port}"  # in-process Lambdas (runner/simulate.py) call here
    service.pull_requests = PullRequests(service, state_dir)  # `pipemu pr` (POST /pipemu/pull-requests)
    # Webhook URLs are given to other systems: the same public address as the approval links.
    service.webhook_endpoint = service.runner.topics.base_url

    said = {str(w) for w in service.resources.warnings}  # warnings logged at start

    def reload() -> None:
        folder = load_folder(pipelines_dir)
        declared = service.load_definitions(folder)
        service.runner.alarms.notify()  # an alarm's declared initial state may have changed
        problems = triggers.refresh(folder)
        with service.lock:
            service.definition_errors.extend(problems)
        for error in [*folder.errors, *problems]:
            log.error("%s", error)
        current = {str(w) for w in folder.warnings}
        for warning in sorted(current - said):  # new ones only: the others were said before
            log.warning("%s", warning)
        said.clear()
        said.update(current)
        if declared:
            log.info("reloaded: %s", ", ".join(declared))

    watcher = FolderWatcher(pipelines_dir, reload)
    for problem in triggers.refresh(service.resources):
        log.error("%s", problem)
        service.definition_errors.append(problem)
    triggers.start()
    watcher.start()
    try:
        # Who must sign (api/auth.py): containers always, with the daemon's own keys; the host's
        # users only when credentials were configured.
        openly = joiner.published_openly() if joiner else []
        if openly and not credentials:
            log.warning("the API's port is published on %s: requests through it cannot be told from other "
                        "containers' or other machines', so every request must be signed with the daemon's own keys; "
                        "publish it on 127.0.0.1 only, or give the daemon --access-key/--secret-key and sign with "
                        "those", ", ".join(openly))
        known = set() if openly else host_addresses()
        access = Access(own=dict([own]), configured=dict([credentials]) if credentials else None,
                        host_addresses=(lambda: known | joiner.gateways) if joiner and not openly else known)
        # uvicorn turns SIGTERM and SIGINT into a graceful stop: no new requests, then return.
        # Host names the daemon answers (api/hosts.py): its containers' name for it, the host it
        # was told to listen on, and the names it was given.
        names = [urlsplit(container_endpoint).hostname or "", host, *allowed_hosts]
        config = uvicorn.Config(HostAllowList(create_app(service, access=access), names), log_level="warning",
                                timeout_graceful_shutdown=5,
                                date_header=False)
        log.info("serving on %s", ", ".join("%s:%d" % s.getsockname()[:2] for s in sockets))
        _Server(config).run(sockets=sockets)
    finally:
        # Actions that still run are handed over: their containers go on, the state says they
        # are in progress, and the next start re-attaches to them.
        watcher.stop()
        triggers.stop()
        timers.stop()
        service.events.close()
        if joiner:
            joiner.leave()
        # Notifications on their way (a mail being written, a POST) get a moment to arrive.
        service.runner.topics.wait_idle(5)
        service.runner.shutdown()
        with service.lock:
            service.store.close()
        lock.close()
        log.info("stopped")
