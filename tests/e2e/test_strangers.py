"""Only the daemon's own containers reach its API from Docker's networks: a container it did not
start, on the default bridge or on a network of its own, is refused every operation (it has no
keys the daemon accepts), while the host's users and the daemon's containers go on as before."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.e2e import article_pipeline
from tests.support.daemon import Daemon

pytestmark = pytest.mark.docker
PIPELINE = "gate"

# What a stranger tries: read the approval's token, then approve (and create a pipeline).
PROBE = """
import json, os, sys, boto3, botocore.exceptions
client = boto3.client("codepipeline", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1")
results = {}
for name, call in [
    ("GetPipelineState", lambda: client.get_pipeline_state(name="gate")),
    ("PutApprovalResult", lambda: client.put_approval_result(
        pipelineName="gate", stageName="Gate", actionName="approve",
        result={"summary": "ok", "status": "Approved"}, token=os.environ["TOKEN"])),
    ("ListPipelines", lambda: client.list_pipelines()),
]:
    try:
        call()
        results[name] = "answered"
    except botocore.exceptions.ClientError as error:
        results[name] = error.response["Error"]["Code"]
print(json.dumps(results))
"""


def _definition(repo) -> dict:
    return {
        "pipeline": {
            "name": PIPELINE, "roleArn": "arn:aws:iam::123456789012:role/pipeline",
            "stages": [
                {"name": "Source", "actions": [article_pipeline.codecommit_source("app")]},
                {"name": "Gate", "actions": [{**article_pipeline.approve(1), "configuration": {}}]},
            ]},
        "repositories": {"app": {"path": str(repo)}},
    }


def _run(docker_client, image: str, command: list[str], network: str | None = None, env: dict | None = None) -> str:
    container = docker_client.containers.run(
        image, command, entrypoint=[], detach=True, network=network, environment=env or {},
        extra_hosts={"host.docker.internal": "host-gateway"})
    try:
        container.wait(timeout=120)
        return container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)


@pytest.fixture
def gated(tmp_path, service_repo):
    article_pipeline.write(tmp_path / "pipelines", _definition(service_repo))
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    client = daemon.client()
    client.start_pipeline_execution(name=PIPELINE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        gate = client.get_pipeline_state(name=PIPELINE)["stageStates"][1]["actionStates"][0]
        if gate.get("latestExecution", {}).get("token"):
            break
        time.sleep(0.1)
    yield daemon, gate["latestExecution"]["token"]
    daemon.stop()


def test_strangers_on_the_bridge_and_on_a_network_of_their_own_are_refused(
        gated, docker_client, busybox_image, python_image):
    daemon, token = gated
    endpoint = f"http://host.docker.internal:{daemon.port}"
    network = docker_client.networks.create(f"stranger-{uuid.uuid4().hex[:8]}", driver="bridge")
    try:
        for where in (None, network.name):
            # Unsigned, as a curl or wget would call.
            answer = _run(docker_client, busybox_image, [
                "sh", "-c", "wget -S -O- --header 'X-Amz-Target: CodePipeline_20150709.GetPipelineState' "
                "--header 'Content-Type: application/x-amz-json-1.1' "
                f"--post-data '{{\"name\": \"{PIPELINE}\"}}' {endpoint}/ 2>&1; echo exit=$?"], where)
            assert "400 Bad Request" in answer and "exit=1" in answer, (where, answer)
            assert token not in answer
            # Signed by an SDK, with keys of its own (anything works on an emulator that checks nothing).
            answer = _run(docker_client, python_image, ["python3", "-c", PROBE], where, {
                "ENDPOINT": endpoint, "TOKEN": token, "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
                "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"})
            results = json.loads(answer.strip().splitlines()[-1])
            assert results == dict.fromkeys(["GetPipelineState", "PutApprovalResult", "ListPipelines"],
                                            "UnrecognizedClientException"), (where, answer)
            # Its own pipelines' builds could run any image: creating one is refused too.
            status = _run(docker_client, busybox_image, [
                "sh", "-c", "wget -O- --header 'X-Amz-Target: CodePipeline_20150709.CreatePipeline' "
                "--header 'Content-Type: application/x-amz-json-1.1' --post-data '{}' "
                f"{endpoint}/ 2>&1; echo exit=$?"], where)
            assert "exit=1" in status
            # /health says it is alive, nothing more; logs and events are not read.
            health = _run(docker_client, busybox_image, ["wget", "-q", "-O-", f"{endpoint}/health"], where)
            assert json.loads(health) == {"status": "ok"}
            for path in ("/pipemu/events", "/pipemu/logs/x"):
                refused = _run(docker_client, busybox_image, ["sh", "-c", f"wget -O- {endpoint}{path} 2>&1; echo exit=$?"], where)
                assert "400 Bad Request" in refused, (path, refused)
    finally:
        network.remove()
    # The approval still waits: nobody but the host's user decided it.
    state = daemon.client().get_pipeline_state(name=PIPELINE)
    assert state["stageStates"][1]["latestExecution"]["status"] == "InProgress"
    # The host's users reach it unsigned on loopback.
    assert daemon.health()["pipelines"] == 1


def test_the_daemons_own_keys_are_what_its_containers_sign_with(gated, docker_client, python_image, tmp_path):
    daemon, token = gated
    credentials = tmp_path / "state" / "credentials"
    assert credentials.stat().st_mode & 0o777 == 0o600
    keys = json.loads(credentials.read_text())
    answer = _run(docker_client, python_image, ["python3", "-c", PROBE], None, {
        "ENDPOINT": f"http://host.docker.internal:{daemon.port}", "TOKEN": token,
        "AWS_ACCESS_KEY_ID": keys["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": keys["SecretAccessKey"]})
    assert json.loads(answer.strip().splitlines()[-1]) == dict.fromkeys(
        ["GetPipelineState", "PutApprovalResult", "ListPipelines"], "answered"), answer
    assert daemon.client().get_pipeline_state(name=PIPELINE)["stageStates"][1]["latestExecution"]["status"] == "Succeeded"
    # Kept across restarts: containers a restarted daemon re-attaches to keep the keys they got.
    daemon.stop()
    daemon.start()
    assert json.loads(credentials.read_text()) == keys
    # The state folder is the daemon's alone (artifacts keep the modes their makers gave them).
    state = tmp_path / "state"
    assert state.stat().st_mode & 0o777 == 0o700
    files = [p for p in state.rglob("*") if p.is_file() and "artifacts" not in p.relative_to(state).parts]
    assert {p.name for p in files} >= {"credentials", "daemon-id", "daemon.lock", "state.sqlite3"}
    assert {str(p.relative_to(state)): oct(p.stat().st_mode & 0o777) for p in files if p.stat().st_mode & 0o077} == {}
