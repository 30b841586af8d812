"""Warm functions: execution environments kept between invocations, as Lambda keeps them.

An environment is a container of the function's image running the shim in `--serve` mode
(lambda_bootstrap/): the handler is loaded once, /tmp and module state stay, and each invocation
is one HTTP request to it. Environments are keyed by the function's code and configuration: an
update retires the old ones as soon as they are idle. Each function runs at most `concurrency`
environments at once (more invocations wait for one); an environment idle for `idle_seconds` is
removed, and so is one that timed out or crashed (Lambda resets those too).

How the daemon reaches an environment: on a host, the container's port 8080 is published on
127.0.0.1 (a free port Docker picks); when the daemon itself runs in a container, both join one
network and the daemon calls the container by its name. A token the daemon makes for each
environment must accompany every request, so another container on that network cannot invoke it.

Logs: one thread follows each environment's output and hands the lines to the invocation running
now (between its START and REPORT lines, which the shim prints).
"""

from __future__ import annotations

import collections
import hashlib
import http.client
import json
import logging
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from emulator.runner.containers import remove

from .functions import PAYLOAD_LIMIT
from emulator.runner.lambda_invoke import TASK_ROOT, Invocation, InvocationResult, environment, input_tar, shim

log = logging.getLogger(__name__)

PORT = 8080
READY_SECONDS = 30  # an environment that does not answer /ready by then failed to start
_TAIL = 20


# The shim's answer wraps the function's result in a little JSON (and escapes it): room for that.
_ANSWER_LIMIT = 2 * PAYLOAD_LIMIT + 64 * 1024

@dataclass(eq=False)
class Environment:
    name: str  # the function's
    key: str  # its code and configuration
    container: object
    host: str
    port: int
    token: str
    busy: bool = True
    last_used: float = field(default_factory=time.monotonic)
    alive: bool = True
    request_id: str | None = None
    sink: Callable[[str], None] | None = None
    reported: threading.Event = field(default_factory=threading.Event)
    tail: collections.deque = field(default_factory=lambda: collections.deque(maxlen=_TAIL))

    def route(self, line: str) -> None:
        self.tail.append(line)
        sink = self.sink
        if sink is not None:
            sink(line)
        if self.request_id and line.startswith(f"REPORT RequestId: {self.request_id}"):
            self.reported.set()


def key_of(invocation: Invocation) -> str:
    """What makes two invocations share an environment: image, code, handler, settings."""
    fields = {"image": invocation.image, "runtime": invocation.runtime, "handler": invocation.handler,
              "code": str(invocation.code_dir), "environment": invocation.environment,
              "memory": invocation.memory_mb, "network": invocation.network, "version": invocation.labels.get("pipemu.code")}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:16]


class WarmPool:
    def __init__(self, client: Callable[[], object], *, idle_seconds: float = 600, concurrency: int = 10,
                 network: Callable[[], str | None] | None = None) -> None:
        self._client = client
        self.idle_seconds = idle_seconds
        self.concurrency = concurrency
        self._network = network  # the network the daemon shares with its containers, if it runs in one
        self._envs: dict[str, list[Environment]] = collections.defaultdict(list)
        self._starting: collections.Counter = collections.Counter()
        self._cond = threading.Condition()
        self._reaper: threading.Thread | None = None
        self._closed = False

    # -- one invocation -----------------------------------------------------------------------

    def invoke(self, invocation: Invocation, log_line: Callable[[str], None]) -> InvocationResult:
        key = key_of(invocation)
        try:
            # Waiting for a free environment is bounded by the function's timeout; starting one
            # (its init included) by READY_SECONDS; the handler's own time starts after both.
            env = self._acquire(invocation, key, time.monotonic() + invocation.timeout_seconds, log_line)
        except _Failed as failed:
            return InvocationResult(False, None, failed.error_type, str(failed))
        except Exception as exc:  # the engine went away, an image was removed, ...
            return InvocationResult(False, None, "Runtime.Unknown", f"the execution environment did not start: {exc}")
        deadline = time.monotonic() + invocation.timeout_seconds
        if env is None:
            return InvocationResult(False, None, "TooManyRequestsException",
                                    f"Rate Exceeded: {invocation.context.get('function_name')} already runs "
                                    f"{self.concurrency} invocations")
        request_id = str(invocation.context.get("aws_request_id", ""))
        env.request_id, env.sink = request_id, log_line
        env.reported.clear()
        healthy = True
        try:
            result = self._call(env, invocation, deadline)
            if result.error_type in ("Sandbox.Timedout", "Runtime.ExitError", "Function.ResponseSizeTooLarge"):
                healthy = False
            else:
                env.reported.wait(0.5)  # the log stream may trail the answer a little
            return result
        finally:
            env.sink, env.request_id = None, None
            self._release(env, healthy)

    def _call(self, env: Environment, invocation: Invocation, deadline: float) -> InvocationResult:
        context = dict(invocation.context)
        body = json.dumps(invocation.event).encode()
        connection = http.client.HTTPConnection(env.host, env.port, timeout=max(0.1, deadline - time.monotonic()))
        try:
            connection.request("POST", "/invoke", body=body, headers={
                "X-Pipemu-Token": env.token, "X-Pipemu-Context": json.dumps(context),
                "Content-Type": "application/json"})
            answer = connection.getresponse()
            raw = answer.read(_ANSWER_LIMIT + 1)  # a function's answer is never read whole past the quota
            if len(raw) > _ANSWER_LIMIT:
                return InvocationResult(False, None, "Function.ResponseSizeTooLarge",  # Lambda's wording
                                        f"Response payload size exceeded maximum allowed payload size "
                                        f"({PAYLOAD_LIMIT} bytes).")
            data = json.loads(raw or b"{}")
        except (socket.timeout, TimeoutError):
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            return InvocationResult(False, None, "Sandbox.Timedout",  # Lambda's wording
                                    f"{stamp}Z {context.get('aws_request_id', '')} Task timed out after "
                                    f"{invocation.timeout_seconds:.2f} seconds")
        except (OSError, http.client.HTTPException, ValueError) as exc:
            time.sleep(0.2)  # let the last lines of a crash reach the tail
            last = "\n".join(list(env.tail)[-10:])
            message = f"RequestId: {context.get('aws_request_id', '')} Error: Runtime exited with error ({exc})"
            return InvocationResult(False, None, "Runtime.ExitError", message + (f"\nLast log lines:\n{last}" if last else ""))
        finally:
            connection.close()
        if data.get("ok"):
            return InvocationResult(True, data.get("result"), None, None)
        trace = data.get("stackTrace")
        return InvocationResult(False, None, str(data.get("errorType") or "Error"), str(data.get("errorMessage") or ""),
                                tuple(str(t) for t in trace) if isinstance(trace, list) else ())

    # -- environments -------------------------------------------------------------------------

    def _acquire(self, invocation: Invocation, key: str, deadline: float, log_line) -> Environment | None:
        name = str(invocation.context.get("function_name"))
        stale: list[Environment] = []
        with self._cond:
            while True:
                if self._closed:
                    raise _Failed("Runtime.Unknown", "the daemon is stopping")
                envs = self._envs[name]
                stale += [e for e in envs if not e.busy and e.key != key]
                for e in stale:
                    if e in envs:
                        envs.remove(e)
                idle = [e for e in envs if not e.busy and e.alive]
                if idle:
                    env = max(idle, key=lambda e: e.last_used)
                    env.busy = True
                    break
                if len(envs) + self._starting[name] < self.concurrency:
                    self._starting[name] += 1
                    env = None
                    break
                if not self._cond.wait(timeout=max(0.0, deadline - time.monotonic())) and time.monotonic() >= deadline:
                    return None
        for e in stale:
            self._retire(e)
        if env is not None:
            return env
        try:
            env = self._start(invocation, key, log_line)
            with self._cond:
                self._envs[name].append(env)
        finally:
            with self._cond:
                self._starting[name] -= 1
                self._cond.notify_all()
        self._ensure_reaper()
        return env

    def _release(self, env: Environment, healthy: bool) -> None:
        healthy = healthy and not self._closed  # a daemon that stops keeps nothing warm
        with self._cond:
            env.busy = False
            env.last_used = time.monotonic()
            if not healthy or not env.alive:
                if env in self._envs[env.name]:
                    self._envs[env.name].remove(env)
            self._cond.notify_all()
        if not healthy or not env.alive:
            self._retire(env)

    def _start(self, invocation: Invocation, key: str, log_line) -> Environment:
        client = self._client()
        token = secrets.token_hex(16)
        _, command = shim(invocation.runtime)
        env_vars = {**environment(invocation), "PIPEMU_INVOKE_TOKEN": token,
                    "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{token[:16]}"}
        network = self._network() if self._network else None
        kwargs = {"network": network} if network else {"ports": {f"{PORT}/tcp": ("127.0.0.1", None)}}
        name = f"pipemu-fn-{str(invocation.context.get('function_name'))[:40]}-{token[:8]}"
        started = time.monotonic()
        try:
            container = client.containers.create(
                invocation.image, entrypoint=[*command, "--serve", str(PORT)], command=[], name=name,
                labels={"pipemu.runner": "lambda", "pipemu.warm": "true", **invocation.labels}, environment=env_vars,
                working_dir=TASK_ROOT, detach=True, mem_limit=f"{int(invocation.memory_mb)}m",
                memswap_limit=f"{int(invocation.memory_mb)}m", nano_cpus=1_000_000_000, privileged=False,
                security_opt=["no-new-privileges"], extra_hosts={"host.docker.internal": "host-gateway"}, **kwargs)
        except Exception as exc:
            raise _Failed("Runtime.Unknown", f"the execution environment could not be made: {exc}") from exc
        try:
            with input_tar(invocation, with_invocation=False) as data:
                container.put_archive("/", data)
            container.start()
            container.reload()
            if network:
                host, port = name, PORT
            else:
                host, port = "127.0.0.1", int(container.attrs["NetworkSettings"]["Ports"][f"{PORT}/tcp"][0]["HostPort"])
            env = Environment(str(invocation.context.get("function_name")), key, container, host, port, token)
            threading.Thread(target=self._follow, args=(env,), name=f"lambda-log-{name}", daemon=True).start()
            self._wait_ready(env)
        except BaseException as exc:
            remove(container)
            if isinstance(exc, _Failed):
                raise
            raise _Failed("Runtime.Unknown", f"the execution environment did not start: {exc}") from exc
        log_line(f"[pipemu] cold start: new execution environment {name} in {(time.monotonic() - started) * 1000:.0f} ms")
        return env

    def _wait_ready(self, env: Environment) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            try:
                connection = http.client.HTTPConnection(env.host, env.port, timeout=1)
                connection.request("GET", "/ready")
                if connection.getresponse().status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            finally:
                connection.close()
            if not env.alive:
                break
            time.sleep(0.01)
        last = "\n".join(env.tail)
        raise _Failed("Runtime.ExitError", "the execution environment exited before it served" +
                      (f"\nLast log lines:\n{last}" if last else ""))

    def _follow(self, env: Environment) -> None:
        buffer = b""
        try:
            for chunk in env.container.logs(stream=True, follow=True):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    env.route(line.decode("utf-8", "replace").rstrip("\r"))
        except Exception as exc:  # the container went away, or the engine did
            log.debug("log stream of %s ended: %s", env.container.name, exc)
        if buffer:
            env.route(buffer.decode("utf-8", "replace"))
        env.alive = False
        env.reported.set()

    def _retire(self, env: Environment) -> None:
        env.alive = False
        try:
            remove(env.container)
        except Exception as exc:  # the engine is gone: reap() removes it at the next start
            log.debug("could not remove %s: %s", env.container.name, exc)

    # -- housekeeping -------------------------------------------------------------------------

    def _ensure_reaper(self) -> None:
        with self._cond:
            if self._reaper is None:
                self._reaper = threading.Thread(target=self._reap_idle, name="lambda-reaper", daemon=True)
                self._reaper.start()

    def _reap_idle(self) -> None:
        while not self._closed:
            time.sleep(min(5.0, self.idle_seconds / 2))
            now = time.monotonic()
            with self._cond:
                idle = [e for envs in self._envs.values() for e in envs
                        if not e.busy and (now - e.last_used > self.idle_seconds or not e.alive)]
                for e in idle:
                    self._envs[e.name].remove(e)
            for e in idle:
                self._retire(e)

    def retire(self, name: str | None = None) -> None:
        """Remove the idle environments of `name` (all functions: None); busy ones go when done."""
        with self._cond:
            names = [name] if name else list(self._envs)
            idle = [e for n in names for e in self._envs.get(n, []) if not e.busy]
            for e in idle:
                self._envs[e.name].remove(e)
            for n in names:
                for e in self._envs.get(n, []):
                    e.key = "retired"  # not reused: it goes at its release
        for e in idle:
            self._retire(e)

    def close(self) -> None:
        self._closed = True
        self.retire()

    def count(self, name: str) -> int:
        with self._cond:
            return len(self._envs.get(name, []))


class _Failed(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
