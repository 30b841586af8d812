"""Actions run on whatever Docker engine DOCKER_HOST names: here a second dockerd on a socket of
its own (a stand-in for a bigger remote host), never on the local one."""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e import article_pipeline
from tests.support.environment import engine_tests_allowed, unavailable
from tests.support.daemon import Daemon, commit
from emulator.runner.containers import list_containers

# serial: a second dockerd on this machine's network namespace (a bridge of its own, a subnet
# picked from the routes of the moment, its own containerd) is started and stopped while the
# first engine serves: with other tests' networks coming and going meanwhile, it runs alone.
pytestmark = [pytest.mark.docker, pytest.mark.serial]
PIPELINE = "remote-pipeline"




def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 that no route of this machine covers, for the second engine's bridge."""
    routes = subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True, text=True).stdout
    taken = []
    for word in routes.split():
        try:
            taken.append(ipaddress.ip_network(word, strict=False))
        except ValueError:
            pass
    for third in range(0, 256):
        candidate = ipaddress.ip_network(f"10.252.{third}.0/24")
        if not any(candidate.overlaps(net) for net in taken if net.prefixlen > 0):
            return candidate
    unavailable("no free 10.252.x.0/24 for the second engine's bridge")


@pytest.fixture
def second_engine(docker_client):
    """A second dockerd on its own socket, data root, exec root (and managed containerd).

    It shares this machine's network namespace with the first engine, so it gets a bridge of
    its own: with `--bridge none`, dockerd deletes the default `docker0` interface at start,
    which is the FIRST engine's bridge."""
    engine_tests_allowed()
    if os.geteuid() != 0:
        unavailable("starting a second dockerd needs root")
    if not shutil.which("dockerd") or not shutil.which("ip"):
        unavailable("dockerd or ip (iproute2) is missing")
    import docker

    root = Path(tempfile.mkdtemp(prefix="pipemu-d2-", dir="/tmp"))  # short: socket paths have a limit
    bridge = f"pd2-{uuid.uuid4().hex[:8]}"
    subnet = _free_subnet()
    gateway = f"{next(subnet.hosts())}/{subnet.prefixlen}"
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    process = None
    try:
        subprocess.run(["ip", "addr", "add", gateway, "dev", bridge], check=True)
        subprocess.run(["ip", "link", "set", bridge, "up"], check=True)
        sock = root / "docker.sock"
        log = open(root / "dockerd.log", "wb")
        process = subprocess.Popen(
            ["dockerd", "--host", f"unix://{sock}", "--data-root", str(root / "data"),
             "--exec-root", str(root / "exec"), "--pidfile", str(root / "docker.pid"),
             "--bridge", bridge, "--iptables=false", "--ip-forward=false",
             "--default-address-pool", "base=10.253.0.0/16,size=24"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                client = docker.DockerClient(base_url=f"unix://{sock}", timeout=120)
                client.ping()
                break
            except Exception:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("the second dockerd did not start:\n"
                                         + (root / "dockerd.log").read_text(errors="replace")[-3000:])
                time.sleep(0.2)
        yield client, f"unix://{sock}"
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        subprocess.run(["ip", "link", "delete", bridge], capture_output=True)
        if shutil.which("umount"):  # normally done by dockerd already
            subprocess.run(["umount", "-R", str(root / "exec")], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def labelled(client, daemon_id: str) -> list:
    return list_containers(client, {"label": f"pipemu.daemon={daemon_id}"})


def test_actions_run_on_the_engine_docker_host_names(tmp_path, docker_client, second_engine, service_repo):
    from emulator.runner.images import ensure_busybox_image

    remote, docker_host = second_engine
    image = ensure_busybox_image(remote)
    commit(service_repo, "second", {"app.txt": "remote build\n"})
    build = article_pipeline.codebuild("build", f"{PIPELINE}-build", ["SourceOutput"])
    definition = {
        "pipeline": {
            "name": PIPELINE,
            "roleArn": "arn:aws:iam::123456789012:role/pipeline",
            "stages": [
                {"name": "Source", "actions": [article_pipeline.codecommit_source("app")]},
                {"name": "Build", "actions": [build]},
            ],
        },
        "repositories": {"app": {"path": str(service_repo)}},
        # A network the project names is joined (made) even with nothing deployed in it.
        "projects": {f"{PIPELINE}-build": {"image": image, "network": "Build", "buildspec": {
            "version": 0.2,
            # Long enough for the test to see the container on the second engine.
            "phases": {"build": {"commands": ["cat app.txt", 'echo "build-host=$(hostname)"', "sleep 3"]}},
        }}},
    }
    article_pipeline.write(tmp_path / "pipelines", definition)
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state", env={"DOCKER_HOST": docker_host}).start()
    daemon_id = (tmp_path / "state" / "daemon-id").read_text().strip()
    try:
        client = daemon.client()
        execution_id = client.start_pipeline_execution(name=PIPELINE)["pipelineExecutionId"]
        on_remote, on_local = {}, {}
        deadline = time.monotonic() + 120
        while True:
            on_remote.update({c.id: c.name for c in labelled(remote, daemon_id)})
            on_local.update({c.id: c.name for c in labelled(docker_client, daemon_id)})
            status = client.get_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=execution_id)[
                "pipelineExecution"]["status"]
            if status != "InProgress" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert status == "Succeeded", daemon.log()
        assert on_remote, "no container of this daemon seen on the engine DOCKER_HOST names"
        assert not on_local, f"containers ran on the local engine: {on_local}"
        # The project's network was made there too, and only there.
        label = {"label": f"pipemu.daemon={daemon_id}"}
        assert remote.networks.list(filters=label)
        assert not docker_client.networks.list(filters=label)
        # The build's output names its container's host name: a container of the second engine.
        state = client.get_pipeline_state(name=PIPELINE)
        build_state = next(s for s in state["stageStates"] if s["stageName"] == "Build")
        action_execution_id = build_state["actionStates"][0]["latestExecution"]["actionExecutionId"]
        logs = _action_logs(tmp_path / "state", action_execution_id)
        assert "remote build" in logs, logs
        assert any(f"build-host={cid[:12]}" in logs for cid in on_remote), (logs, on_remote)
    finally:
        daemon.stop()
        for container in labelled(remote, daemon_id):
            container.remove(force=True)
        for network in remote.networks.list(filters={"label": f"pipemu.daemon={daemon_id}"}):
            network.remove()


def _action_logs(state: Path, action_execution_id: str) -> str:
    import sqlite3

    with sqlite3.connect(f"file:{state / 'state.sqlite3'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT text FROM action_logs WHERE action_execution_id = ?",
                          (action_execution_id,)).fetchall()
    return "\n".join(r[0] for r in rows)
