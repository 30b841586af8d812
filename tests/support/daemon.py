"""Start the real daemon (`python -m emulator.cli serve`) as a process, and talk to it with boto3."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import cbor2
from botocore.config import Config

from tests.support import protocols
from emulator.runner.containers import list_containers

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Daemon:
    def __init__(self, pipelines: Path, state: Path, port: int | None = None, env: dict | None = None):
        self.pipelines, self.state = Path(pipelines), Path(state)
        self.env = env or {}
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
             "--state-dir", str(self.state), "--port", str(self.port)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env},
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

        client = docker.from_env()
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

    def client(self, access_key: str = "testing", secret_key: str = "testing", protocol: str | None = None):
        """A boto3 client whose every successful response body is held against botocore's model.
        It speaks `protocol` ("json" or "cbor"), by default the one the test runs over (the
        `api_protocol` fixture, tests/conftest.py)."""
        with protocols.prefer(protocol or protocols.current()):
            client = boto3.client(
                "codepipeline",
                endpoint_url=self.endpoint,
                region_name="us-east-1",
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                config=Config(retries={"max_attempts": 1}),
            )
        client.meta.events.register("after-call.codepipeline", _check_response)
        return client

    def post(self, operation: str, body: bytes | str, target_prefix: str = "CodePipeline_20150709.") -> tuple[int, dict]:
        """A raw JSON 1.1 request, for what boto3 would refuse to send."""
        request = urllib.request.Request(
            self.endpoint + "/",
            data=body.encode() if isinstance(body, str) else body,
            headers={"X-Amz-Target": target_prefix + operation, "Content-Type": "application/x-amz-json-1.1"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def post_cbor(self, operation: str, body: bytes, headers: dict | None = None) -> tuple[int, object]:
        """A raw Smithy RPC v2 CBOR request; the status and the decoded CBOR answer (None if empty)."""
        request = urllib.request.Request(
            f"{self.endpoint}/service/CodePipeline_20150709/operation/{operation}", data=body, method="POST",
            headers={"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor",
                     "Accept": "application/cbor", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status, raw = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        return status, cbor2.loads(raw) if raw else None


def _check_response(http_response, model, **_):
    if http_response.status_code == 200:
        protocols.check_answer(model.name, http_response.headers, http_response.content)


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
