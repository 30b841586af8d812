"""Stacks as long-lived containers, against the real Docker engine (busybox built locally, never pulled)."""

from __future__ import annotations

import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from emulator.runner import stacks
from emulator.runner.stacks import HealthSpec, StackJob, delete, deploy, network_name, stack_containers
from emulator.runner.containers import list_containers
from tests.support.daemon import free_port  # a port of this xdist worker's own range

pytestmark = pytest.mark.docker

HTTPD = ["httpd", "-f", "-p", "8080", "-h", "/app"]
FAST = dict(interval=0.2, retries=5)


class Log(list):
    def __call__(self, line: str) -> None:
        self.append(line)

    @property
    def text(self) -> str:
        return "\n".join(self)


@pytest.fixture
def env(docker_client, busybox_image, tmp_path):
    """A fresh daemon id; removes every container and network of it afterwards."""
    daemon = f"t{uuid.uuid4().hex[:8]}"
    yield Env(docker_client, busybox_image, tmp_path, daemon)
    for c in list_containers(docker_client, {"label": f"pipemu.daemon={daemon}"}):
        c.remove(force=True)
    for net in docker_client.networks.list(filters={"label": f"pipemu.daemon={daemon}"}):
        net.remove()


class Env:
    def __init__(self, client, image, tmp_path: Path, daemon: str):
        self.client, self.image, self.tmp, self.daemon = client, image, tmp_path, daemon
        self.network = "StagingDEV"
        self.net = network_name(daemon, self.network)

    def artifact(self, files: dict[str, str]) -> Path:
        folder = self.tmp / f"art-{uuid.uuid4().hex[:6]}"
        for name, text in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
        return folder

    def job(self, files: dict[str, str] | None = None, **kw) -> StackJob:
        defaults = dict(stack="svc", network=self.network, daemon_id=self.daemon, image=self.image,
                        dockerfile=None, artifact=self.artifact(files or {"index.html": "v1\n"}),
                        command=HTTPD, port=8080, health=HealthSpec(path="/index.html", **FAST),
                        labels={"pipemu.pipeline": "demo", "pipemu.action-execution": "ae-1"},
                        probe_image=self.image, timeout_seconds=30)
        defaults.update(kw)
        return StackJob(**defaults)

    def fetch(self, url: str) -> str:
        """wget `url` from a throwaway container on the environment's network."""
        out = self.client.containers.run(self.image, ["timeout", "10", "wget", "-qO-", url],
                                          network=self.net, remove=True,
                                          labels={"pipemu.daemon": self.daemon})
        return out.decode()

    def containers(self) -> list:
        return stack_containers(self.client, self.daemon, "svc")


def host_get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5) as resp:
        return resp.read().decode()


def test_deploy_serves_the_artifact_by_stack_name(env):
    log = Log()
    t0 = time.monotonic()
    result = deploy(env.client, env.job(), log)
    assert result.succeeded, result.message + "\n" + log.text
    # A guess of how fast a deploy is (network, container, health checks, probe containers): 20 s
    # (was 10) while parallel test workers load the engine.
    assert time.monotonic() - t0 < 20
    assert result.outputs["ServiceUrl"] == "http://svc:8080"
    assert env.fetch("http://svc:8080/index.html") == "v1\n"
    [c] = env.containers()
    assert c.id == result.outputs["ContainerId"]
    assert c.name.startswith(f"pipemu-{env.daemon}-StagingDEV-svc-")
    assert c.labels["pipemu.kind"] == "stack" and c.labels["pipemu.network"] == "StagingDEV"
    assert c.labels["pipemu.pipeline"] == "demo" and "pipemu.action-execution" not in c.labels
    host = c.attrs["HostConfig"]
    assert host["Memory"] == 512 * 1024 * 1024 and host["NanoCpus"] == 10**9
    assert not host["Privileged"] and not host.get("Binds")
    assert "host.docker.internal:host-gateway" in host["ExtraHosts"]
    assert "svc" in c.attrs["NetworkSettings"]["Networks"][env.net]["Aliases"]
    assert any("healthy" in line for line in log)


def test_redeploy_replaces_the_old_container(env):
    first = deploy(env.client, env.job(), Log())
    assert first.succeeded, first.message
    second = deploy(env.client, env.job({"index.html": "v2\n"}), Log())
    assert second.succeeded, second.message
    assert env.fetch("http://svc:8080/index.html") == "v2\n"
    assert [c.id for c in env.containers()] == [second.outputs["ContainerId"]]


def test_unhealthy_deploy_keeps_the_previous_version(env):
    assert deploy(env.client, env.job(), Log()).succeeded
    bad = env.job({"index.html": "v2\n"}, command=["sh", "-c", "echo booting-v2; exec httpd -f -p 8080 -h /app"],
                  health=HealthSpec(path="/missing", interval=0.2, retries=2))
    result = deploy(env.client, bad, Log())
    assert not result.succeeded
    assert "booting-v2" in result.message and "health check failed 2 times" in result.message
    crash = deploy(env.client, env.job({"index.html": "v3\n"}, command="echo crash-marker; exit 3"), Log())
    assert not crash.succeeded
    assert "exited with status 3" in crash.message and "crash-marker" in crash.message
    assert env.fetch("http://svc:8080/index.html") == "v1\n"
    assert len(env.containers()) == 1


def test_health_by_command_and_without_spec(env):
    ready = env.job(command="sleep 0.5; touch /tmp/ready; exec sleep 3600", port=None,
                    health=HealthSpec(command=["test", "-f", "/tmp/ready"], **FAST))
    result = deploy(env.client, ready, Log())
    assert result.succeeded, result.message
    assert env.client.containers.get(result.outputs["ContainerId"]).attrs["State"]["Health"]["Status"] == "healthy"
    never = env.job(command="exec sleep 3600", port=None,
                    health=HealthSpec(command="test -f /nope", interval=0.2, retries=2))
    failed = deploy(env.client, never, Log())
    assert not failed.succeeded and "health check command failed" in failed.message
    plain = deploy(env.client, env.job(command="exec sleep 3600", port=None, health=None), Log())
    assert plain.succeeded, plain.message
    assert [c.id for c in env.containers()] == [plain.outputs["ContainerId"]]


def test_dockerfile_mode_builds_and_serves(env):
    files = {"Dockerfile": f"FROM {env.image}\nCOPY site /site\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/site\"]\n",
             "site/index.html": "built\n"}
    log = Log()
    job = env.job(files, image=None, dockerfile="Dockerfile", command=None, health=None)
    result = deploy(env.client, job, log)
    assert result.succeeded, result.message + "\n" + log.text
    assert result.outputs["Image"].startswith("pipemu-stack/svc:")
    assert env.fetch("http://svc:8080/index.html") == "built\n"
    again = deploy(env.client, env.job(files, image=None, dockerfile="Dockerfile", command=None, health=None), log)
    assert again.succeeded and again.outputs["Image"] == result.outputs["Image"]
    assert any("reusing image" in line for line in log)
    missing = deploy(env.client, env.job(files, image=None, dockerfile="nope/Dockerfile"), Log())
    assert not missing.succeeded and "nope/Dockerfile not found" in missing.message
    env.client.images.remove(result.outputs["Image"], force=True)


def test_host_port_survives_redeploys(env):
    port = free_port()
    first = deploy(env.client, env.job(host_port=port), Log())
    assert first.succeeded, first.message
    assert host_get(port) == "v1\n"
    assert first.outputs["HostUrl"] == f"http://127.0.0.1:{port}"
    log = Log()
    second = deploy(env.client, env.job({"index.html": "v2\n"}, host_port=port), log)
    assert second.succeeded, second.message + "\n" + log.text
    assert host_get(port) == "v2\n"
    assert env.fetch("http://svc:8080/index.html") == "v2\n"
    bad = deploy(env.client, env.job({"index.html": "v3\n"}, host_port=port,
                                     health=HealthSpec(path="/missing", interval=0.2, retries=2)), Log())
    assert not bad.succeeded
    assert host_get(port) == "v2\n"
    assert [c.id for c in env.containers()] == [second.outputs["ContainerId"]]


def test_delete_removes_the_stack_and_missing_is_fine(env):
    assert deploy(env.client, env.job(), Log()).succeeded
    result = delete(env.client, env.daemon, "svc", env.network, Log())
    assert result.succeeded and env.containers() == []
    again = delete(env.client, env.daemon, "svc", env.network, Log())
    assert again.succeeded and "does not exist" in again.message


def test_cancel_removes_the_new_container(env):
    assert deploy(env.client, env.job(), Log()).succeeded
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    slow = env.job({"index.html": "v2\n"}, health=HealthSpec(path="/missing", interval=0.2, retries=1000))
    t0 = time.monotonic()
    result = deploy(env.client, slow, Log(), cancel)
    assert not result.succeeded and result.message == "Deploy stopped"
    # Stopped at the cancel (1 s), not after 1000 health retries (200 s): 15 s (was 5) leaves room
    # for removing the container on an engine loaded by parallel test workers.
    assert time.monotonic() - t0 < 15
    assert len(env.containers()) == 1
    assert env.fetch("http://svc:8080/index.html") == "v1\n"


def test_missing_image_fails_clearly(env):
    result = deploy(env.client, env.job(image="pipemu-test/absent:nope"), Log())
    assert not result.succeeded and "pipemu-test/absent:nope is not available locally" in result.message
    assert stacks.network_name("d", "Staging QA") == "pipemu-d-Staging-QA"
