"""The sample's releasing Lambda, run in-process against the real daemon (boto3 pointed at it by
AWS_ENDPOINT_URL): it follows nextToken, approves only what waits, rejects nothing, and ends its
job with PutJobSuccessResult or, on an error, PutJobFailureResult."""

from __future__ import annotations

import importlib.util
import json
import re
import sqlite3
import time

import pytest
import yaml

from tests.e2e.waiting import settle
from tests.support.daemon import ROOT, Daemon

pytestmark = pytest.mark.docker
HOLD = 'import json\n\ndef handler(event, context):\n    print("JOB " + event["CodePipeline.job"]["id"])\n'


def source():
    return {"name": "source", "outputArtifacts": [{"name": "src"}],
            "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
            "configuration": {"RepositoryName": "repo", "BranchName": "main", "PollForSourceChanges": "false"}}


def gate(stage: str):
    return {"name": stage, "actions": [{"name": "approve", "actionTypeId": {
        "category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}}]}


@pytest.fixture
def world(tmp_path, service_repo, monkeypatch):
    hold = tmp_path / "hold"
    hold.mkdir()
    (hold / "hold.py").write_text(HOLD)
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "resources.yml").write_text(yaml.safe_dump({
        "repositories": {"repo": {"path": str(service_repo)}},
        "functions": {"hold": {"runtime": "python3.12", "handler": "hold.handler", "code": str(hold)}},
    }))
    for name in ("zz-service-a-pipeline", "zz-service-b-pipeline"):
        (folder / f"{name}.yml").write_text(yaml.safe_dump({"pipeline": {
            "name": name, "stages": [{"name": "Source", "actions": [source()]}, gate("StagingDEV")]}}))
    (folder / "zz-release-pipeline.yml").write_text(yaml.safe_dump({"pipeline": {
        "name": "zz-release-pipeline", "stages": [
            {"name": "Source", "actions": [source()]},
            # Its own StagingDEV.approve waits beside the release: the Lambda must skip itself.
            {"name": "StagingDEV", "actions": [*gate("StagingDEV")["actions"], {
                "name": "release", "actionTypeId": {
                    "category": "Invoke", "owner": "AWS", "provider": "Lambda", "version": "1"},
                "configuration": {"FunctionName": "hold"}}]},
        ]}}))
    daemon = Daemon(folder, tmp_path / "state").start()
    client = daemon.client()
    for n in range(105):  # the product's pipelines are on the second page of ListPipelines
        client.create_pipeline(pipeline={"name": f"aa-filler-{n:03d}", "roleArn": "arn:aws:iam::123456789012:role/x",
                                         "stages": [{"name": "Source", "actions": [source()]}, gate("StagingDEV")]})
    monkeypatch.setenv("AWS_ENDPOINT_URL", daemon.endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "lambda")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "lambda")
    spec = importlib.util.spec_from_file_location(
        "release_approval", ROOT / "sample_services" / "release-approval" / "release_approval.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield daemon, client, module, tmp_path
    daemon.stop()


def open_job(client, tmp_path) -> tuple[str, str]:
    """Start the releasing pipeline; its stand-in function prints its job and leaves it open."""
    execution = client.start_pipeline_execution(name="zz-release-pipeline")["pipelineExecutionId"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with sqlite3.connect(f"file:{tmp_path / 'state' / 'state.sqlite3'}?mode=ro", uri=True) as db:
            found = [m for (text,) in db.execute("SELECT text FROM action_logs")
                     for m in re.findall(r"JOB ([0-9a-f-]{36})", text)]
        if found:
            return execution, found[-1]
        time.sleep(0.2)
    raise AssertionError("the job never opened")


def event(job_id: str, stage: str, user_parameters: str | None = None) -> dict:
    parameters = user_parameters or json.dumps({"product": "zz", "stage": stage, "action": "approve"})
    return {"CodePipeline.job": {"id": job_id, "accountId": "123456789012", "data": {
        "actionConfiguration": {"configuration": {"FunctionName": "hold", "UserParameters": parameters}},
        "pipelineContext": {"pipelineName": "zz-release-pipeline"}}}}


def release_status(client, execution: str) -> dict:
    details = client.list_action_executions(pipelineName="zz-release-pipeline", filter={"pipelineExecutionId": execution})
    return next(d for d in details["actionExecutionDetails"] if d["actionName"] == "release")


def test_approves_what_waits_across_pages(world):
    daemon, client, module, tmp_path = world
    client.start_pipeline_execution(name="zz-service-a-pipeline")  # waits at StagingDEV
    settle(client, "zz-service-a-pipeline")
    execution, job = open_job(client, tmp_path)
    assert module.handler(event(job, "StagingDEV"), None) == {"approved": ["zz-service-a-pipeline"]}
    release = release_status(client, execution)
    assert release["status"] == "Succeeded"
    assert client.list_pipelines()["nextToken"]  # more than one page: the handler followed it
    assert release["output"]["outputVariables"] == {"approved": "zz-service-a-pipeline", "count": "1"}
    state = client.get_pipeline_state(name="zz-service-a-pipeline")
    assert state["stageStates"][1]["latestExecution"]["status"] == "Succeeded"
    # The releasing pipeline's own StagingDEV gate is not the product's: untouched.
    own = client.get_pipeline_state(name="zz-release-pipeline")["stageStates"][1]
    assert own["actionStates"][0]["latestExecution"]["status"] == "InProgress"


def test_a_bad_parameter_fails_the_job_and_raises(world):
    daemon, client, module, tmp_path = world
    execution, job = open_job(client, tmp_path)
    with pytest.raises(json.JSONDecodeError):
        module.handler(event(job, "StagingDEV", user_parameters="{not json"), None)
    release = release_status(client, execution)
    assert release["status"] == "Failed"
    assert "Expecting property name" in release["output"]["executionResult"]["errorDetails"]["message"]
