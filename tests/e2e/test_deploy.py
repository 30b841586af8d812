"""CloudFormation deploys of declared stacks: a long-lived service per stage, reached by its
stack name from the stage's tests, replaced only once the new one is healthy."""

from __future__ import annotations

import pytest
import yaml

from emulator.runner import stacks
from tests.e2e.waiting import settle
from tests.support.daemon import Daemon, commit

pytestmark = pytest.mark.docker

BUILD = {"version": 0.2, "phases": {"build": {"commands": [
    "mkdir -p dist",
    "if [ -f broken.txt ]; then echo no > dist/other.html; else cat *.txt > dist/index.html; fi"]}},
    "artifacts": {"files": ["**/*"], "base-directory": "dist"}}
TEST = {"version": 0.2, "phases": {"build": {"commands": ["wget -q -O- http://web:8080/index.html"]}}}


def action(name, category, provider, run_order=1, inputs=(), outputs=(), **configuration):
    return {"name": name, "runOrder": run_order,
            "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"},
            "configuration": configuration, "inputArtifacts": [{"name": n} for n in inputs],
            "outputArtifacts": [{"name": n} for n in outputs]}


def definition(repo, image) -> dict:
    return {
        "pipeline": {"name": "web-pipeline", "stages": [
            {"name": "Source", "actions": [action("source", "Source", "CodeCommit", outputs=["src"],
                                                  RepositoryName="web", BranchName="main", PollForSourceChanges="false")]},
            {"name": "Build", "actions": [action("build", "Build", "CodeBuild", inputs=["src"], outputs=["site"],
                                                 ProjectName="build")]},
            {"name": "StagingDEV", "actions": [
                action("stage", "Deploy", "CloudFormation", inputs=["site"], outputs=["out"], ActionMode="CREATE_UPDATE",
                       StackName="web", OutputFileName="outputs.json", ParameterOverrides='{"GREETING": "hi"}'),
                action("test", "Test", "CodeBuild", run_order=2, inputs=["site"], ProjectName="test"),
            ]},
        ]},
        "repositories": {"web": {"path": str(repo)}},
        "projects": {"build": {"image": image, "buildspec": BUILD}, "test": {"image": image, "buildspec": TEST}},
        "stacks": {"web": {"image": image, "command": "httpd -f -p 8080 -h /app", "port": 8080,
                           "healthCheck": {"path": "/index.html", "interval": 0.3, "retries": 10}}},
    }


def test_deploy_serves_by_stack_name_and_an_unhealthy_one_keeps_the_old(tmp_path, service_repo, busybox_image,
                                                                         docker_client):
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "web.yml").write_text(yaml.safe_dump(definition(service_repo, busybox_image)))
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    daemon_id = (tmp_path / "state" / "daemon-id").read_text().strip()
    network = stacks.network_name(daemon_id, "StagingDEV")

    def served() -> str:
        # Through `exec` in a client container on the stage's network: its output comes back
        # directly (the log driver of a container that exits in a blink may not have it all yet).
        result = client_box.exec_run(["wget", "-q", "-O-", "http://web:8080/index.html"])
        return result.output.decode()

    stacks.ensure_network(docker_client, daemon_id, "StagingDEV")
    client_box = docker_client.containers.run(busybox_image, ["sleep", "600"], network=network, detach=True,
                                              labels={"pipemu.daemon": daemon_id})
    try:
        client = daemon.client()
        for version in ("v1", "v2"):
            commit(service_repo, version)
            execution = client.start_pipeline_execution(name="web-pipeline")["pipelineExecutionId"]
            settle(client, "web-pipeline")
            got = client.get_pipeline_execution(pipelineName="web-pipeline", pipelineExecutionId=execution)
            assert got["pipelineExecution"]["status"] == "Succeeded", got
            assert version in served()
        details = client.list_action_executions(pipelineName="web-pipeline", filter={"pipelineExecutionId": execution})
        deploy = next(d for d in details["actionExecutionDetails"] if d["actionName"] == "stage")
        assert deploy["output"]["outputVariables"]["ServiceUrl"] == "http://web:8080"
        containers = stacks.stack_containers(docker_client, daemon_id, "web")
        assert len(containers) == 1 and containers[0].attrs["Config"]["Env"].count("GREETING=hi") == 1

        commit(service_repo, "broken")  # builds no index.html: the health check never passes
        execution = client.start_pipeline_execution(name="web-pipeline")["pipelineExecutionId"]
        state = settle(client, "web-pipeline")
        dev = next(s for s in state["stageStates"] if s["stageName"] == "StagingDEV")
        error = dev["actionStates"][0]["latestExecution"]["errorDetails"]["message"]
        assert dev["latestExecution"]["status"] == "Failed" and "healthy" in error, error
        assert "v2" in served()  # the old one still serves
        assert len(stacks.stack_containers(docker_client, daemon_id, "web")) == 1
    finally:
        daemon.stop()  # removes this daemon's containers (the stacks and the client too) and networks


TEMPLATE = """AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Env: {Type: String}
  Key: {Type: String}
  Size: {Type: Number, Default: 3}
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties: {QueueName: !Sub "orders-${Env}"}
Outputs:
  Environment: {Value: !Ref Env}
  QueueName: {Value: !GetAtt Queue.QueueName}
"""


def cloudformation(daemon):
    import boto3

    return boto3.client("cloudformation", endpoint_url=daemon.endpoint, region_name="us-east-1",
                        aws_access_key_id="t", aws_secret_access_key="t")


@pytest.mark.parametrize("overrides, words", [
    ('{"Env": "dev", "Key": {"Fn::GetArtifactAtt": ["src", "ObjectKey"]}}', None),
    ('{"Key": "k"}', "[Env] must have values"),
    ('{"Env": "dev", "Key": "k", "Nope": "x"}', "Parameters: [Nope] do not exist in the template"),
])
def test_a_stack_without_a_local_stand_in_is_evaluated_and_described(tmp_path, service_repo, busybox_image,
                                                                     overrides, words):
    commit(service_repo, "template", {"infra/template.yml": TEMPLATE})
    show = {"version": 0.2, "phases": {"build": {"commands": ["cat outputs.json"]}}}
    pipeline = {"pipeline": {"name": "infra", "stages": [
        {"name": "Source", "actions": [action("source", "Source", "CodeCommit", outputs=["src"],
                                              RepositoryName="web", BranchName="main", PollForSourceChanges="false")]},
        {"name": "Deploy", "actions": [
            action("queue", "Deploy", "CloudFormation", inputs=["src"], outputs=["out"], ActionMode="CREATE_UPDATE",
                   StackName="orders-queue", TemplatePath="src::infra/template.yml", OutputFileName="outputs.json",
                   ParameterOverrides=overrides),
            action("show", "Build", "CodeBuild", run_order=2, inputs=["out"], ProjectName="show")]},
    ]}, "repositories": {"web": {"path": str(service_repo)}},
        "projects": {"show": {"image": busybox_image, "buildspec": show}}}
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "infra.yml").write_text(yaml.safe_dump(pipeline))
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    try:
        client = daemon.client()
        execution = client.start_pipeline_execution(name="infra")["pipelineExecutionId"]
        settle(client, "infra")
        details = {d["actionName"]: d for d in client.list_action_executions(
            pipelineName="infra", filter={"pipelineExecutionId": execution})["actionExecutionDetails"]}
        if words is None:
            assert details["queue"]["status"] == "Succeeded", details["queue"]
            assert details["queue"]["output"]["outputVariables"]["Environment"] == "dev"
            assert details["show"]["status"] == "Succeeded"
            stack = cloudformation(daemon).describe_stacks(StackName="orders-queue")["Stacks"][0]
            parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
            assert parameters["Size"] == "3" and parameters["Env"] == "dev"
            assert stack["Outputs"] == [{"OutputKey": "Environment", "OutputValue": "dev"},
                                        {"OutputKey": "QueueName", "OutputValue": "orders-dev"}]
            queue = cloudformation(daemon).describe_stack_resources(StackName="orders-queue")["StackResources"][0]
            assert (queue["ResourceType"], queue["PhysicalResourceId"]) == ("AWS::SQS::Queue", "orders-dev")
        else:
            assert details["queue"]["status"] == "Failed"
            assert words in details["queue"]["output"]["executionResult"]["errorDetails"]["message"]
    finally:
        daemon.stop()


def test_pipemu_down_removes_what_a_stopped_daemon_left_running(tmp_path, service_repo, busybox_image, docker_client):
    import subprocess
    import sys

    from emulator.runner.containers import list_containers

    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "web.yml").write_text(yaml.safe_dump(definition(service_repo, busybox_image)))
    state = tmp_path / "state"
    daemon = Daemon(tmp_path / "pipelines", state).start()
    daemon_id = (state / "daemon-id").read_text().strip()
    label = {"label": f"pipemu.daemon={daemon_id}"}

    def down():
        return subprocess.run([sys.executable, "-m", "emulator.cli", "down", "--state-dir", str(state)],
                              capture_output=True, text=True, timeout=120)

    try:
        client = daemon.client()
        commit(service_repo, "v1")
        execution = client.start_pipeline_execution(name="web-pipeline")["pipelineExecutionId"]
        settle(client, "web-pipeline")
        assert client.get_pipeline_execution(pipelineName="web-pipeline", pipelineExecutionId=execution)[
            "pipelineExecution"]["status"] == "Succeeded"
        refused = down()
        assert refused.returncode == 1 and "in use by a running daemon" in refused.stderr
        daemon.process.terminate()  # a plain stop: deployed services stay up, by design
        daemon.process.wait(30)
        assert [c.name for c in list_containers(docker_client, label)]
        assert docker_client.networks.list(filters=label)
        done = down()
        assert done.returncode == 0, done.stderr
        assert "removed container" in done.stdout and "removed network" in done.stdout
        assert list_containers(docker_client, label) == [] and docker_client.networks.list(filters=label) == []
        assert (state / "state.sqlite3").exists()  # the history stays
    finally:
        daemon.stop()
