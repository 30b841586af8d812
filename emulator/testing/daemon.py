"""Start the real daemon (`python -m emulator.cli serve`) as a process on a folder, and stop it
leaving nothing behind; git helpers to commit to the repositories its pipelines watch. Used by
pipemu.testing's fixtures and by the project's own suite (tests/support/daemon.py)."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from emulator.runner.containers import list_containers

# Where `python -m emulator.cli` is found, run from a checkout or installed.
PACKAGE_PARENT = Path(__file__).resolve().parents[2]


# Under pytest-xdist (PYTEST_XDIST_WORKER=gw0, gw1, ...) each worker takes its ports from a
# range of its own, below the kernel's ephemeral range (32768-60999 by default, where port 0 and
# Docker's own host ports land): a port one worker was given (and its daemon has not bound yet)
# is never handed to another worker, nor handed again by this one before the range wraps.
# Each range starts at a random offset: two test runs on one machine (two checkouts, or a user's
# suite beside ours) give their gw0 the same range, and would otherwise both hand out its first
# ports before either daemon binds one.
_WORKER_PORTS_BASE, _WORKER_PORTS_SPAN, _WORKER_PORTS_SLOTS = 20000, 500, 24
_next_offset = random.randrange(_WORKER_PORTS_SPAN)


def _worker_index() -> int | None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else None


def _bindable(port: int) -> bool:
    """Nothing listens on `port`, on any address (Docker publishes on 0.0.0.0)."""
    with socket.socket() as sock:
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port nothing listens on now, for a daemon or a published port to bind soon after."""
    global _next_offset
    worker = _worker_index()
    if worker is not None:
        base = _WORKER_PORTS_BASE + (worker % _WORKER_PORTS_SLOTS) * _WORKER_PORTS_SPAN
        for _ in range(_WORKER_PORTS_SPAN):
            port = base + _next_offset
            _next_offset = (_next_offset + 1) % _WORKER_PORTS_SPAN
            if _bindable(port):
                return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Daemon:
    def __init__(self, pipelines: Path, state: Path, port: int | None = None, env: dict | None = None,
                 args: tuple[str, ...] = ()):
        self.pipelines, self.state = Path(pipelines), Path(state)
        self.env = env or {}
        self.args = tuple(args)  # more options of `pipemu serve` (--simulate, --keep-failed)
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        self.log_path = self.state.parent / f"daemon-{self.port}.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "Daemon":
        self.state.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "emulator.cli", "serve", "--pipelines", str(self.pipelines),
             "--state-dir", str(self.state), "--port", str(self.port), *self.args],
            cwd=PACKAGE_PARENT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.endpoint + "/health", timeout=1) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"daemon did not answer /health in {timeout}s:\n{self.log()}")

    def health(self) -> dict:
        with urllib.request.urlopen(self.endpoint + "/health", timeout=5) as answer:
            return json.loads(answer.read())

    def action_log(self, action_execution_id: str) -> str:
        """The kept log of an action execution, through the daemon's /pipemu/logs endpoint."""
        with urllib.request.urlopen(f"{self.endpoint}/pipemu/logs/{action_execution_id}", timeout=30) as answer:
            return "\n".join(line["text"] for line in json.loads(answer.read())["lines"])

    def kill(self) -> None:
        """kill -9: no chance to clean up."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.clean_docker()

    def clean_docker(self) -> None:
        """Tests leave nothing behind: this daemon's containers (stacks too) and networks."""
        id_file = self.state / "daemon-id"
        if not id_file.exists():
            return
        import docker
        import docker.errors

        try:
            client = docker.from_env()
        except docker.errors.DockerException:
            return  # no engine here (a simulated daemon needs none): nothing of ours can be in it
        label = f"pipemu.daemon={id_file.read_text().strip()}"
        for container in list_containers(client, {"label": label}):
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass  # removed meanwhile (the daemon removes its own as it stops)
            except docker.errors.APIError as error:
                if error.status_code != 409:  # 409: its removal is already in progress
                    raise
        for network in client.networks.list(filters={"label": label}):
            network.remove()
        for image in client.images.list(filters={"label": [label, "pipemu.kept"]}):  # kept workspaces
            client.images.remove(image.id, force=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, access_key: str = "testing", secret_key: str = "testing"):
        """A boto3 CodePipeline client of this daemon (any keys: a host's unsigned-keys daemon takes them)."""
        import boto3
        from botocore.config import Config

        return boto3.client("codepipeline", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                            config=Config(retries={"max_attempts": 1}))


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
           "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


def init_repo(path: Path, branch: str = "main") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    return path


def commit(repo: Path, message: str, files: dict[str, str] | None = None) -> str:
    for name, text in (files or {message + ".txt": message}).items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")
