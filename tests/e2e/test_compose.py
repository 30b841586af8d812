"""The daemon itself in a container (docker-compose.yml): a build container it starts calls its
API by the network alias, and a pipeline runs through to the end with an approval."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from tests.e2e import article_pipeline
from tests.support.environment import unavailable
from tests.support.daemon import commit, free_port, init_repo
from emulator.runner.containers import list_containers

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parents[2]
IMAGE = "pipemu/daemon:latest"
PIPELINE = "compose-pipeline"




def compose_command() -> list[str]:
    """docker-compose (1.29, Debian's) or the `docker compose` plugin (v2)."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    unavailable("neither docker-compose nor `docker compose` is installed")


@pytest.fixture(scope="module")
def daemon_image(docker_client) -> str:
    """Built offline by scripts/build-image.sh (kept if it exists)."""
    build = subprocess.run([str(ROOT / "scripts" / "build-image.sh")], cwd=ROOT, capture_output=True, text=True,
                           timeout=1200)
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    return IMAGE


def compose_pipeline(image: str) -> dict:
    """Source (CodeCommit) -> Build (calls the API from inside the build) -> Approve."""
    build = article_pipeline.codebuild("build", f"{PIPELINE}-build", ["SourceOutput"])
    source = {
        "name": "source",
        "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
        "configuration": {"RepositoryName": "app", "BranchName": "main", "PollForSourceChanges": "false"},
        "outputArtifacts": [{"name": "SourceOutput"}],
        "namespace": "SourceVariables",
    }
    buildspec = {
        "version": 0.2,
        "phases": {"build": {"commands": [
            'echo "endpoint=$AWS_ENDPOINT_URL"',
            "cat app.txt",
            # As an AWS SDK calls: signed with the keys the daemon gave the container.
            "python3 -c \"import boto3, json; print(json.dumps(boto3.client('codepipeline')"
            f".get_pipeline_state(name='{PIPELINE}'), default=str))\" > state.json",
            "cat state.json",
            "grep -q '\"stageName\": \"Build\"' state.json",
        ]}},
    }
    return {
        "pipeline": {
            "name": PIPELINE,
            "roleArn": "arn:aws:iam::123456789012:role/pipeline",
            "stages": [
                {"name": "Source", "actions": [source]},
                {"name": "Build", "actions": [build]},
                {"name": "Release", "actions": [article_pipeline.approve(1)]},
            ],
        },
        # Relative to the pipelines folder, as on the host: the project folder is mounted at its
        # own path in the daemon's container.
        "repositories": {"app": {"path": "../repo"}},
        "projects": {f"{PIPELINE}-build": {"image": image, "buildspec": buildspec}},
        # Reached warm through the Lambda API: the daemon calls its environment on a network both join.
        "functions": {"hello": {"runtime": "python3.12", "handler": "app.handler", "code": "../code"}},
    }


def wait_health(port: int, compose, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the daemon's container did not answer /health in {timeout}s:\n{compose('logs')}")


def wait_for(predicate, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def action_logs(state: Path, action_execution_id: str) -> str:
    with sqlite3.connect(f"file:{state / 'state.sqlite3'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT text FROM action_logs WHERE action_execution_id = ?",
                          (action_execution_id,)).fetchall()
    return "\n".join(r[0] for r in rows)


def test_compose_runs_the_daemon_in_a_container(tmp_path, docker_client, python_image, daemon_image):
    command = compose_command()  # python_image: the daemon's container finds it on the same engine
    project = tmp_path / "project"
    repo = init_repo(project / "repo")
    commit(repo, "first", {"app.txt": "hello from the repo\n"})
    (project / "code").mkdir()
    (project / "code" / "app.py").write_text("def handler(event, context):\n    return {'hello': event.get('name')}\n")
    article_pipeline.write(project / "pipelines", compose_pipeline(python_image))
    state = project / "state"
    port = free_port()
    name = f"pipemu-test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PWD": str(project), "PIPEMU_PIPELINES": "pipelines", "PIPEMU_STATE": str(state),
           "PIPEMU_PORT": str(port), "PIPEMU_IMAGE": daemon_image}

    def compose(*args: str, check: bool = False) -> str:
        done = subprocess.run([*command, "-f", str(ROOT / "docker-compose.yml"), "-p", name, *args], cwd=project,
                              env=env, capture_output=True, text=True, timeout=180)
        if check:
            assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    try:
        compose("up", "-d", check=True)
        wait_health(port, compose)
        # With boto3's retries, as a user has them: when the daemon's container joins a stage's
        # network, Docker (before 28, which has no gateway priority) may move the published port
        # to that network's endpoint, and a connection in that instant is refused.
        client = boto3.client("codepipeline", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing",
                              config=Config(retries={"mode": "standard", "max_attempts": 10}))
        execution_id = client.start_pipeline_execution(name=PIPELINE)["pipelineExecutionId"]

        def approval_token():
            stages = {s["stageName"]: s for s in client.get_pipeline_state(name=PIPELINE)["stageStates"]}
            latest = stages["Release"]["actionStates"][0].get("latestExecution", {})
            return latest.get("token")

        def status():
            return client.get_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=execution_id)[
                "pipelineExecution"]["status"]

        # The build ran (and called the API) once the approval waits, or the execution ended.
        token = wait_for(lambda: approval_token() or status() != "InProgress", "the manual approval", 180)
        stages = {s["stageName"]: s for s in client.get_pipeline_state(name=PIPELINE)["stageStates"]}
        action = stages["Build"]["actionStates"][0].get("latestExecution", {})
        logs = action_logs(state, action["actionExecutionId"]) if "actionExecutionId" in action else ""
        assert action.get("status") == "Succeeded", (stages, logs, compose("logs"))
        assert "endpoint=http://pipemu-api:7788" in logs, logs
        assert "hello from the repo" in logs, logs
        client.put_approval_result(pipelineName=PIPELINE, stageName="Release", actionName="approve",
                                   result={"summary": "ship it", "status": "Approved"}, token=token)
        assert wait_for(lambda: status() in ("Succeeded", "Failed") and status(), "the execution") == "Succeeded"
        functions = boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                                 aws_access_key_id="testing", aws_secret_access_key="testing",
                                 config=Config(retries={"mode": "standard", "max_attempts": 10}, read_timeout=300))
        for _ in range(2):  # cold, then warm
            answer = functions.invoke(FunctionName="hello", Payload=b'{"name": "compose"}')
            assert json.loads(answer["Payload"].read()) == {"hello": "compose"}, answer
        # A clean stop: the daemon leaves the networks it joined, then removes those nothing uses.
        compose("down", "--volumes", "--timeout", "30", check=True)
        daemon_id = (state / "daemon-id").read_text().strip()
        left = [n.name for n in docker_client.networks.list(filters={"label": f"pipemu.daemon={daemon_id}"})]
        assert not left, f"networks left after docker-compose down: {left}"
    except Exception as failure:  # the daemon's own log says why it stopped answering
        raise AssertionError(f"{failure}\n--- docker-compose logs ---\n{compose('logs')[-6000:]}") from failure
    finally:
        compose("down", "--volumes", "--timeout", "30")
        id_file = state / "daemon-id"
        if id_file.exists():
            label = f"pipemu.daemon={id_file.read_text().strip()}"
            for container in list_containers(docker_client, {"label": label}):
                container.remove(force=True)
            for network in docker_client.networks.list(filters={"label": label}):
                network.remove()
    assert not list_containers(docker_client, {"label": f"com.docker.compose.project={name}"})
