"""Custom actions and their job workers, end to end: a real daemon, real boto3, and a job worker
written the way AWS's user guide ("Create a custom action job worker") writes one: poll, acknowledge,
work, put the result (with a continuationToken once, so the action is invoked again)."""

from __future__ import annotations

import threading
import time

import pytest

from tests.e2e.waiting import wait_for
from tests.support.daemon import Daemon

PIPELINE = "release-with-custom-actions"
SOURCE_TYPE = {"category": "Source", "owner": "Custom", "provider": "ArtifactVault", "version": "1"}
DEPLOY_TYPE = {"category": "Deploy", "owner": "Custom", "provider": "OnPremFleet", "version": "3"}


@pytest.fixture
def daemon(tmp_path):
    (tmp_path / "pipelines").mkdir()
    started = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    yield started
    started.stop()


def create_types(client) -> None:
    client.create_custom_action_type(
        category="Source", provider="ArtifactVault", version="1",
        settings={"entityUrlTemplate": "https://vault.example.com/{Config:Bundle}",
                  "executionUrlTemplate": "https://vault.example.com/runs/{ExternalExecutionId}"},
        configurationProperties=[
            {"name": "Bundle", "required": True, "key": True, "secret": False, "queryable": False,
             "description": "The bundle to fetch", "type": "String"},
            {"name": "PollForSourceChanges", "required": False, "key": False, "secret": False},
        ],
        inputArtifactDetails={"minimumCount": 0, "maximumCount": 0},
        outputArtifactDetails={"minimumCount": 1, "maximumCount": 1},
    )
    client.create_custom_action_type(
        category="Deploy", provider="OnPremFleet", version="3",
        configurationProperties=[
            {"name": "Fleet", "required": True, "key": True, "secret": False, "queryable": True, "type": "String"},
            {"name": "ApiKey", "required": True, "key": False, "secret": True},
        ],
        inputArtifactDetails={"minimumCount": 1, "maximumCount": 1},
        outputArtifactDetails={"minimumCount": 0, "maximumCount": 0},
        tags=[{"key": "team", "value": "ops"}],
    )


def declaration(fleet: str = "blue") -> dict:
    return {
        "name": PIPELINE,
        "roleArn": "arn:aws:iam::123456789012:role/CodePipelineServiceRole",
        "artifactStore": {"type": "S3", "location": "codepipeline-us-east-1-artifacts"},
        "stages": [
            {"name": "Source", "actions": [{
                "name": "FetchBundle", "actionTypeId": SOURCE_TYPE, "runOrder": 1,
                "configuration": {"Bundle": "web-2.4.1"},
                "outputArtifacts": [{"name": "BundleOutput"}],
            }]},
            {"name": "Deploy", "actions": [{
                "name": "RollOut", "actionTypeId": DEPLOY_TYPE, "runOrder": 1,
                "configuration": {"Fleet": fleet, "ApiKey": "s3cr3t-fleet-key"},
                "inputArtifacts": [{"name": "BundleOutput"}],
            }]},
        ],
    }


def poll_one(client, type_id: dict, timeout: float = 30, **query) -> dict:
    """PollForJobs until a job comes (a worker's loop, bounded)."""
    found: list = []
    wait_for(lambda: found.extend(client.poll_for_jobs(actionTypeId=type_id, maxBatchSize=1, **query)["jobs"])
             or found, timeout, "a job to poll")
    return found[0]


def action_status(client, stage: str, action: str) -> str | None:
    for stage_state in client.get_pipeline_state(name=PIPELINE)["stageStates"]:
        for action_state in stage_state["actionStates"] if stage_state["stageName"] == stage else ():
            return action_state.get("latestExecution", {}).get("status")
    return None


class DocWorker(threading.Thread):
    """The user guide's job worker: PollForJobs → AcknowledgeJob → work → PutJobSuccessResult
    (continuationToken the first time round, so the action is invoked again) / PutJobFailureResult."""

    def __init__(self, client, type_id: dict, fail: bool = False, fleet: str = "blue"):
        super().__init__(daemon=True)
        self.client, self.type_id, self.fail, self.fleet = client, type_id, fail, fleet
        self.seen: list[dict] = []
        self.done = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + 60
        while not self.done.is_set() and time.monotonic() < deadline:
            jobs = self.client.poll_for_jobs(actionTypeId=self.type_id, maxBatchSize=1,
                                             queryParam={"Fleet": self.fleet})["jobs"]
            if not jobs:
                time.sleep(0.1)
                continue
            job = jobs[0]
            self.seen.append(job)
            status = self.client.acknowledge_job(jobId=job["id"], nonce=job["nonce"])["status"]
            if status != "InProgress":
                continue
            if self.fail:
                self.client.put_job_failure_result(jobId=job["id"], failureDetails={
                    "type": "JobFailed", "message": "fleet blue refused the bundle", "externalExecutionId": "dep-7"})
                self.done.set()
            elif "continuationToken" not in job["data"]:
                self.client.put_job_success_result(jobId=job["id"], continuationToken="deployment-42",
                                                   executionDetails={"summary": "rolling out", "percentComplete": 50})
            else:
                self.client.put_job_success_result(
                    jobId=job["id"], executionDetails={"summary": "rolled out to 12 hosts",
                                                       "externalExecutionId": job["data"]["continuationToken"],
                                                       "percentComplete": 100},
                    outputVariables={"Hosts": "12"})
                self.done.set()


def test_custom_actions_run_by_job_workers(daemon):
    client = daemon.client()
    create_types(client)
    client.create_pipeline(pipeline=declaration())

    # The source job waits for a worker: nobody else runs it.
    source_job = poll_one(client, SOURCE_TYPE)
    data = source_job["data"]
    assert data["actionTypeId"] == SOURCE_TYPE
    assert data["actionConfiguration"]["configuration"] == {"Bundle": "web-2.4.1"}
    assert data["pipelineContext"]["pipelineName"] == PIPELINE and data["pipelineContext"]["stage"]["name"] == "Source"
    assert [a["name"] for a in data["outputArtifacts"]] == ["BundleOutput"]
    assert client.poll_for_jobs(actionTypeId=SOURCE_TYPE)["jobs"] == []  # handed out once
    with pytest.raises(client.exceptions.InvalidNonceException):
        client.acknowledge_job(jobId=source_job["id"], nonce="not-the-nonce")
    with pytest.raises(client.exceptions.InvalidJobStateException):  # not acknowledged yet
        client.put_job_success_result(jobId=source_job["id"])
    assert client.acknowledge_job(jobId=source_job["id"], nonce=source_job["nonce"])["status"] == "InProgress"
    assert client.get_job_details(jobId=source_job["id"])["jobDetails"]["data"]["actionTypeId"] == SOURCE_TYPE
    client.put_job_success_result(jobId=source_job["id"], currentRevision={
        "revision": "web-2.4.1-build.88", "changeIdentifier": "88"},
        executionDetails={"summary": "fetched", "externalExecutionId": "fetch-88"})
    with pytest.raises(client.exceptions.InvalidJobStateException):  # ended
        client.put_job_success_result(jobId=source_job["id"])

    # The deploy job: a worker of another fleet does not see it; the documented worker runs it.
    wait_for(lambda: action_status(client, "Deploy", "RollOut") == "InProgress", 30, "the deploy to start")
    assert client.poll_for_jobs(actionTypeId=DEPLOY_TYPE, queryParam={"Fleet": "green"})["jobs"] == []
    worker = DocWorker(client, DEPLOY_TYPE)
    worker.start()
    assert worker.done.wait(60), "the worker did not finish"
    worker.join(10)
    assert len(worker.seen) == 2, "a continuationToken invokes the action again with a new job"
    first, second = worker.seen
    assert first["id"] != second["id"] and second["data"]["continuationToken"] == "deployment-42"
    assert "continuationToken" not in first["data"]
    # The worker is given the secret (AWS hides it from every call but the job's own).
    assert first["data"]["actionConfiguration"]["configuration"]["ApiKey"] == "s3cr3t-fleet-key"
    (bundle,) = first["data"]["inputArtifacts"]
    assert bundle["name"] == "BundleOutput" and bundle["location"]["s3Location"]["objectKey"].endswith("/BundleOutput")

    wait_for(lambda: client.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"][0]["status"]
             == "Succeeded", 30, "the execution to succeed")
    executions = client.list_action_executions(pipelineName=PIPELINE)["actionExecutionDetails"]
    deploy = next(e for e in executions if e["actionName"] == "RollOut")
    assert deploy["output"]["executionResult"]["externalExecutionSummary"] == "rolled out to 12 hosts"
    assert deploy["output"]["outputVariables"] == {"Hosts": "12"}
    source = next(e for e in executions if e["actionName"] == "FetchBundle")
    assert [a["name"] for a in source["output"]["outputArtifacts"]] == ["BundleOutput"]
    assert source["output"]["executionResult"]["externalExecutionUrl"] == "https://vault.example.com/runs/fetch-88"
    assert client.acknowledge_job(jobId=second["id"], nonce=second["nonce"])["status"] == "Succeeded"


def test_a_worker_fails_the_action(daemon):
    client = daemon.client()
    create_types(client)
    client.create_pipeline(pipeline=declaration())
    job = poll_one(client, SOURCE_TYPE)
    client.acknowledge_job(jobId=job["id"], nonce=job["nonce"])
    client.put_job_success_result(jobId=job["id"])
    worker = DocWorker(client, DEPLOY_TYPE, fail=True)
    worker.start()
    assert worker.done.wait(60)
    wait_for(lambda: client.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"][0]["status"]
             == "Failed", 30, "the execution to fail")
    state = {s["stageName"]: s for s in client.get_pipeline_state(name=PIPELINE)["stageStates"]}
    latest = state["Deploy"]["actionStates"][0]["latestExecution"]
    assert latest["status"] == "Failed" and latest["errorDetails"]["message"] == "fleet blue refused the bundle"


def test_a_waiting_job_survives_a_restart(daemon, tmp_path):
    client = daemon.client()
    create_types(client)
    client.create_pipeline(pipeline=declaration())
    job = poll_one(client, SOURCE_TYPE)
    daemon.kill()
    again = Daemon(daemon.pipelines, daemon.state, port=daemon.port).start()
    try:
        client = again.client()
        # Dispatched before the restart: not handed out twice, and its nonce still holds.
        assert client.poll_for_jobs(actionTypeId=SOURCE_TYPE)["jobs"] == []
        assert client.acknowledge_job(jobId=job["id"], nonce=job["nonce"])["status"] == "InProgress"
        client.put_job_success_result(jobId=job["id"])
        deploy = poll_one(client, DEPLOY_TYPE, queryParam={"Fleet": "blue"})
        again.kill()
        third = Daemon(daemon.pipelines, daemon.state, port=daemon.port).start()
        try:
            client = third.client()
            assert client.acknowledge_job(jobId=deploy["id"], nonce=deploy["nonce"])["status"] == "InProgress"
            client.put_job_failure_result(jobId=deploy["id"], failureDetails={"type": "JobFailed", "message": "no"})
            wait_for(lambda: client.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"][0]
                     ["status"] == "Failed", 30, "the execution to fail")
        finally:
            third.stop()
    finally:
        again.stop()


def test_stopping_the_execution_drops_its_job(daemon):
    client = daemon.client()
    create_types(client)
    client.create_pipeline(pipeline=declaration())
    execution_id = client.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"][0][
        "pipelineExecutionId"]
    wait_for(lambda: action_status(client, "Source", "FetchBundle") == "InProgress", 30, "the source to start")
    client.stop_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=execution_id, abandon=True)
    wait_for(lambda: client.get_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=execution_id)
             ["pipelineExecution"]["status"] == "Stopped", 30, "the execution to stop")
    assert client.poll_for_jobs(actionTypeId=SOURCE_TYPE)["jobs"] == []


def test_a_job_nobody_finishes_times_out(daemon):
    """timeoutInMinutes (at least 5, the model says) ends a job no worker finished: the daemon is
    started again with its clock 6 minutes on, and the waiting job times out at once."""
    from datetime import datetime, timedelta, timezone

    client = daemon.client()
    create_types(client)
    timed = declaration()
    timed["stages"][0]["actions"][0]["timeoutInMinutes"] = 5
    client.create_pipeline(pipeline=timed)
    job = poll_one(client, SOURCE_TYPE)
    client.acknowledge_job(jobId=job["id"], nonce=job["nonce"])
    daemon.kill()
    later = (datetime.now(timezone.utc) + timedelta(minutes=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    again = Daemon(daemon.pipelines, daemon.state, port=daemon.port,
                   env={"PIPEMU_SCHEDULE_CLOCK_START": later}).start()
    try:
        client = again.client()
        wait_for(lambda: action_status(client, "Source", "FetchBundle") == "Failed", 30, "the job to time out")
        assert client.acknowledge_job(jobId=job["id"], nonce=job["nonce"])["status"] == "TimedOut"
        with pytest.raises(client.exceptions.InvalidJobStateException):
            client.put_job_success_result(jobId=job["id"])
        latest = client.get_pipeline_state(name=PIPELINE)["stageStates"][0]["actionStates"][0]["latestExecution"]
        assert latest["errorDetails"]["code"] == "TimedOut"
    finally:
        again.stop()


def test_the_aws_cli_drives_a_custom_action(daemon):
    """The AWS CLI v1 (botocore's own) against the daemon: create, list, poll."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    aws = Path(sys.executable).parent / "aws"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": daemon.endpoint}

    def cli(*args: str) -> dict:
        done = subprocess.run([str(aws), "codepipeline", *args, "--output", "json"], env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout or "{}")

    created = cli("create-custom-action-type", "--category", "Build", "--provider", "MakeFarm", "--action-version",
                  "1", "--configuration-properties",
                  "name=Target,required=true,key=true,secret=false,queryable=true,type=String",
                  "--input-artifact-details", "minimumCount=0,maximumCount=1",
                  "--output-artifact-details", "minimumCount=0,maximumCount=1")
    assert created["actionType"]["id"]["provider"] == "MakeFarm"
    listed = cli("list-action-types", "--action-owner-filter", "Custom")
    assert [t["id"]["provider"] for t in listed["actionTypes"]] == ["MakeFarm"]
    polled = cli("poll-for-jobs", "--action-type-id", "category=Build,owner=Custom,provider=MakeFarm,version=1",
                 "--query-param", "Target=all")
    assert polled == {"jobs": []}


# A job worker as the user guide sketches it, run unchanged in a container: boto3 finds the
# daemon through AWS_ENDPOINT_URL and signs with the keys it is given.
CONTAINER_WORKER = """
import time, boto3
codepipeline = boto3.client("codepipeline")
action_type = {"category": "Source", "owner": "Custom", "provider": "ArtifactVault", "version": "1"}
deadline = time.time() + 60
while time.time() < deadline:
    jobs = codepipeline.poll_for_jobs(actionTypeId=action_type, maxBatchSize=1)["jobs"]
    if not jobs:
        time.sleep(0.2)
        continue
    job = jobs[0]
    codepipeline.acknowledge_job(jobId=job["id"], nonce=job["nonce"])
    bundle = job["data"]["actionConfiguration"]["configuration"]["Bundle"]
    codepipeline.put_job_success_result(
        jobId=job["id"], currentRevision={"revision": bundle + "-r1", "changeIdentifier": "r1"},
        executionDetails={"summary": "fetched " + bundle + " in a container"})
    print("worked", job["id"], flush=True)
    break
"""


@pytest.mark.docker
def test_a_worker_in_a_container_signs_as_aws_sdks_do(daemon, docker_client, python_image):
    import json

    client = daemon.client()
    create_types(client)
    client.create_pipeline(pipeline=declaration())
    keys = json.loads((daemon.state / "credentials").read_text())
    container = docker_client.containers.run(
        python_image, entrypoint=["python3", "-c", CONTAINER_WORKER], detach=True,
        extra_hosts={"host.docker.internal": "host-gateway"},
        environment={"AWS_ENDPOINT_URL": f"http://host.docker.internal:{daemon.port}", "AWS_REGION": "us-east-1",
                     "AWS_DEFAULT_REGION": "us-east-1",
                     "AWS_ACCESS_KEY_ID": keys["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": keys["SecretAccessKey"]})
    try:
        result = container.wait(timeout=90)
        output = container.logs().decode()
        assert result["StatusCode"] == 0 and "worked" in output, output
    finally:
        container.remove(force=True)
    wait_for(lambda: action_status(client, "Deploy", "RollOut") == "InProgress", 30, "the deploy to start")
    source = next(e for e in client.list_action_executions(pipelineName=PIPELINE)["actionExecutionDetails"]
                  if e["actionName"] == "FetchBundle")
    assert source["output"]["executionResult"]["externalExecutionSummary"] == "fetched web-2.4.1 in a container"
