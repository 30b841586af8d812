"""The ECS deploy stand-in: a build writes imagedefinitions.json (as the user guide's buildspec
does with printf), the deploy runs the service's container from that image, reachable on its
port; a missing image fails the action and the running version keeps serving. The deploy's target
is listed by ListDeployActionExecutionTargets, held against botocore's model by the client."""

from __future__ import annotations

import urllib.request
import uuid

import pytest
import yaml

from emulator.runner import stacks
from tests.e2e.waiting import settle
from tests.support.daemon import Daemon, commit, free_port

pytestmark = pytest.mark.docker

# Its own name per run: parallel workers (pytest-xdist) must not share (or remove) each other's tags.
IMAGE = f"pipemu-test-ecs/web-{uuid.uuid4().hex[:8]}"
BUILD = {"version": 0.2, "phases": {"build": {"commands": [
    "echo Writing image definitions file...",
    "printf '[{\"name\":\"web\",\"imageUri\":\"%s\"}]' \"$(cat image-tag.txt)\" > imagedefinitions.json"]}},
    "artifacts": {"files": ["imagedefinitions.json"]}}


def definition(repo, busybox_image, host_port) -> dict:
    def action(name, category, provider, inputs=(), outputs=(), **configuration):
        return {"name": name, "actionTypeId": {"category": category, "owner": "AWS", "provider": provider,
                                               "version": "1"},
                "configuration": configuration, "inputArtifacts": [{"name": n} for n in inputs],
                "outputArtifacts": [{"name": n} for n in outputs]}

    return {
        "pipeline": {"name": "web-ecs", "pipelineType": "V2", "stages": [
            {"name": "Source", "actions": [action("Source", "Source", "CodeCommit", outputs=["SourceArtifact"],
                                                  RepositoryName="web", BranchName="main",
                                                  # the test starts each execution itself: a commit starting
                                                  # one too would supersede it (a flake seen in CI)
                                                  PollForSourceChanges="false")]},
            {"name": "Build", "actions": [action("Build", "Build", "CodeBuild", inputs=["SourceArtifact"],
                                                 outputs=["BuildArtifact"], ProjectName="web-image")]},
            {"name": "Production", "actions": [action("Deploy", "Deploy", "ECS", inputs=["BuildArtifact"],
                                                      ClusterName="prod", ServiceName="web",
                                                      FileName="imagedefinitions.json", DeploymentTimeout="2")]},
        ]},
        "repositories": {"web": {"path": str(repo)}},
        "projects": {"web-image": {"image": busybox_image, "buildspec": BUILD}},
        "clusters": {"prod": {"services": {"web": {
            "container": "web", "command": "httpd -f -p 8080 -h /www", "port": 8080, "hostPort": host_port,
            "healthCheck": {"path": "/index.html", "interval": 0.3, "retries": 10}}}}},
    }


@pytest.fixture
def web_images(docker_client, busybox_image):
    """Two versions of a web image, made here as a build with the engine's socket would."""
    made = []
    for version in ("v1", "v2"):
        box = docker_client.containers.run(busybox_image, ["sh", "-c", f"mkdir /www && echo {version} > /www/index.html"],
                                           detach=True)
        box.wait(timeout=30)
        box.commit(repository=IMAGE, tag=version)
        box.remove(force=True)
        made.append(f"{IMAGE}:{version}")
    yield made
    for image in made:
        try:
            docker_client.images.remove(image, force=True)
        except Exception:
            pass


def test_ecs_deploy_runs_the_image_the_build_names_and_a_missing_one_fails(tmp_path, service_repo, busybox_image,
                                                                            web_images, docker_client):
    port = free_port()
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "web.yml").write_text(yaml.safe_dump(definition(service_repo, busybox_image, port)))
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    try:
        client = daemon.client()
        deploys = {}
        for image in web_images:
            commit(service_repo, image.split(":")[1], {"image-tag.txt": image + "\n"})
            execution = client.start_pipeline_execution(name="web-ecs")["pipelineExecutionId"]
            state = settle(client, "web-ecs", timeout=180)
            assert state["stageStates"][2]["latestExecution"]["status"] == "Succeeded", [a.get("latestExecution") for s in state["stageStates"] for a in s["actionStates"]]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=10) as answer:
                assert answer.read().decode().strip() == image.split(":")[1]
            runs = client.list_action_executions(pipelineName="web-ecs", filter={"pipelineExecutionId": execution})
            deploys[image] = next(d for d in runs["actionExecutionDetails"] if d["actionName"] == "Deploy")
        daemon_id = (tmp_path / "state" / "daemon-id").read_text().strip()
        running = stacks.stack_containers(docker_client, daemon_id, "ecs.prod.web")
        assert [c.attrs["Config"]["Image"] for c in running] == [web_images[1]]  # the old task went
        # The stage's builds and tests reach it by the service's name on the stage's network.
        neighbour = docker_client.containers.run(busybox_image, ["sleep", "60"], detach=True,
                                                 network=stacks.network_name(daemon_id, "Production"),
                                                 labels={"pipemu.daemon": daemon_id})
        try:
            reached = neighbour.exec_run(["wget", "-q", "-O-", "http://web:8080/index.html"])
            assert (reached.exit_code, reached.output.decode().strip()) == (0, "v2")
        finally:
            neighbour.remove(force=True)

        latest = deploys[web_images[1]]
        assert latest["output"]["executionResult"]["externalExecutionId"] == "prod:web"
        listed = client.list_deploy_action_execution_targets(pipelineName="web-ecs",
                                                             actionExecutionId=latest["actionExecutionId"])
        [target] = listed["targets"]
        assert (target["targetId"], target["targetType"], target["status"]) == ("prod:web", "ECSService", "Succeeded")
        assert [(e["name"], e["status"]) for e in target["events"]] == [("ImageCheck", "Succeeded"),
                                                                         ("ReplaceTask", "Succeeded")]
        assert web_images[1] in target["events"][1]["context"]["message"]
        assert target["startTime"] <= target["endTime"]

        commit(service_repo, "typo", {"image-tag.txt": f"{IMAGE}:v3\n"})  # never built
        execution = client.start_pipeline_execution(name="web-ecs")["pipelineExecutionId"]
        state = settle(client, "web-ecs", timeout=180)
        failed = state["stageStates"][2]["actionStates"][0]["latestExecution"]
        assert failed["status"] == "Failed"
        assert f"image {IMAGE}:v3 of container web is not in the local Docker engine" in failed["errorDetails"]["message"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=10) as answer:
            assert answer.read().decode().strip() == "v2"  # the running version keeps serving

        runs = client.list_action_executions(pipelineName="web-ecs", filter={"pipelineExecutionId": execution})
        bad = next(d for d in runs["actionExecutionDetails"] if d["actionName"] == "Deploy")["actionExecutionId"]
        assert client.list_deploy_action_execution_targets(
            actionExecutionId=bad, filters=[{"name": "TARGET_STATUS", "values": ["Succeeded"]}])["targets"] == []
        [target] = client.list_deploy_action_execution_targets(
            actionExecutionId=bad, filters=[{"name": "TARGET_STATUS", "values": ["Failed"]}])["targets"]
        assert [(e["name"], e["status"]) for e in target["events"]] == [("ImageCheck", "Failed")]
        first = client.list_deploy_action_execution_targets(actionExecutionId=bad, maxResults=1)
        assert len(first["targets"]) == 1 and "nextToken" not in first
    finally:
        daemon.stop()
