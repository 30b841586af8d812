"""Lambda invoke actions: functions written for AWS (boto3 / SDK v3 only) run unchanged in their
containers, drive other pipelines through the daemon's API and end their jobs themselves."""

from __future__ import annotations

import json
import textwrap

import pytest
import yaml

from tests.e2e.waiting import settle
from tests.support.daemon import Daemon

pytestmark = pytest.mark.docker

RELEASE = textwrap.dedent('''
    import json
    import boto3

    codepipeline = boto3.client("codepipeline")


    def handler(event, context):
        job = event["CodePipeline.job"]
        params = json.loads(job["data"]["actionConfiguration"]["configuration"]["UserParameters"])
        try:
            if params.get("crash"):
                raise RuntimeError("crashed on purpose")
            if params.get("sleep"):
                import time
                time.sleep(params["sleep"])
            if params.get("pages") and "continuationToken" not in job["data"]:
                codepipeline.put_job_success_result(jobId=job["id"], continuationToken="page-2")
                return
            state = codepipeline.get_pipeline_state(name=params["pipeline"])
            stage = next(s for s in state["stageStates"] if s["stageName"] == params["stage"])
            action = next(a for a in stage["actionStates"] if a["actionName"] == params["action"])
            codepipeline.put_approval_result(
                pipelineName=params["pipeline"], stageName=params["stage"], actionName=params["action"],
                result={"summary": "approved by " + context.function_name, "status": "Approved"},
                token=action["latestExecution"]["token"],
            )
            details = codepipeline.get_job_details(jobId=job["id"])["jobDetails"]
            codepipeline.put_job_success_result(
                jobId=job["id"], outputVariables={"approved": params["pipeline"],
                                                  "page": job["data"].get("continuationToken", "1"),
                                                  "jobStage": details["data"]["pipelineContext"]["stage"]["name"]})
        except Exception as error:
            codepipeline.put_job_failure_result(
                jobId=job["id"], failureDetails={"type": "JobFailed", "message": str(error)})
            raise
''')

NODE = textwrap.dedent('''
    const { CodePipelineClient, PutJobSuccessResultCommand } = require("@aws-sdk/client-codepipeline");
    const client = new CodePipelineClient({});
    exports.handler = async (event, context) => {
      const job = event["CodePipeline.job"];
      await client.send(new PutJobSuccessResultCommand({
        jobId: job.id, outputVariables: { runtime: process.version, fn: context.functionName } }));
      return "done";
    };
''')


NODE_V2 = textwrap.dedent('''
    // Written for the nodejs8.10 runtime: the bundled v2 SDK, callback style.
    var AWS = require('aws-sdk');
    var codepipeline = new AWS.CodePipeline();
    exports.handler = function (event, context, callback) {
      var job = event['CodePipeline.job'];
      codepipeline.putJobSuccessResult({jobId: job.id, outputVariables: {sdk: AWS.VERSION}}, function (err) {
        callback(err, 'done');
      });
    };
''')


def source(name="source"):
    return {"name": name, "outputArtifacts": [{"name": "src"}],
            "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
            "configuration": {"RepositoryName": "repo", "BranchName": "main", "PollForSourceChanges": "false"}}


def invoke(function: str, **parameters):
    return {"name": "release", "namespace": "Release",
            "actionTypeId": {"category": "Invoke", "owner": "AWS", "provider": "Lambda", "version": "1"},
            "configuration": {"FunctionName": function, "UserParameters": json.dumps(parameters)}}


@pytest.fixture
def lambda_daemon(tmp_path, service_repo, busybox_image):
    code = tmp_path / "release-fn"
    code.mkdir()
    (code / "release.py").write_text(RELEASE)
    node = tmp_path / "node-fn"
    node.mkdir()
    (node / "index.js").write_text(NODE)
    old_node = tmp_path / "old-node-fn"
    old_node.mkdir()
    (old_node / "index.js").write_text(NODE_V2)
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    (pipelines / "resources.yml").write_text(yaml.safe_dump({
        "repositories": {"repo": {"path": str(service_repo)}},
        "functions": {
            "release-fn": {"runtime": "python3.12", "handler": "release.handler", "code": str(code)},
            "slow-fn": {"runtime": "python3.12", "handler": "release.handler", "code": str(code), "timeout": 2},
            "node-fn": {"runtime": "nodejs18.x", "handler": "index.handler", "code": str(node)},
            "old-node-fn": {"runtime": "nodejs18.x", "handler": "index.handler", "code": str(old_node)},
        },
    }))
    (pipelines / "target.yml").write_text(yaml.safe_dump({"pipeline": {"name": "target", "stages": [
        {"name": "Source", "actions": [source()]},
        {"name": "Gate", "actions": [{"name": "approve", "actionTypeId": {
            "category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}}]}]}}))
    cases = {
        "approver": invoke("release-fn", pipeline="target", stage="Gate", action="approve"),
        "pager": invoke("release-fn", pipeline="target", stage="Gate", action="approve", pages=True),
        "crasher": invoke("release-fn", crash=True),
        "sleeper": invoke("slow-fn", sleep=30),
        "noder": invoke("node-fn"),
        "old-noder": invoke("old-node-fn"),
    }
    for name, action in cases.items():
        (pipelines / f"{name}.yml").write_text(yaml.safe_dump({"pipeline": {"name": name, "stages": [
            {"name": "Source", "actions": [source()]}, {"name": "Release", "actions": [action]}]}}))
    daemon = Daemon(pipelines, tmp_path / "state").start()
    yield daemon
    daemon.stop()


def wait_for_release(client, pipeline: str) -> dict:
    import time

    deadline = time.monotonic() + 300
    while True:
        state = client.list_action_executions(pipelineName=pipeline)["actionExecutionDetails"]
        release = next((d for d in state if d["actionName"] == "release"), None)
        if release and release["status"] != "InProgress":
            return release
        assert time.monotonic() < deadline, "the job never ended"
        time.sleep(0.2)


def test_a_boto3_lambda_approves_another_pipeline_and_reports_success(lambda_daemon):
    client = lambda_daemon.client()
    target = client.start_pipeline_execution(name="target")["pipelineExecutionId"]
    settle(client, "target")
    client.start_pipeline_execution(name="approver")
    release = wait_for_release(client, "approver")
    assert release["status"] == "Succeeded", release
    assert release["output"]["outputVariables"] == {"approved": "target", "page": "1", "jobStage": "Release"}
    with pytest.raises(client.exceptions.JobNotFoundException):
        client.get_job_details(jobId="00000000-0000-0000-0000-000000000000")
    with pytest.raises(client.exceptions.JobNotFoundException):
        client.put_job_failure_result(jobId="00000000-0000-0000-0000-000000000000",
                                      failureDetails={"type": "JobFailed", "message": "x"})
    execution = client.get_pipeline_execution(pipelineName="target", pipelineExecutionId=target)
    assert execution["pipelineExecution"]["status"] == "Succeeded"
    gate = client.list_action_executions(pipelineName="target", filter={"pipelineExecutionId": target})
    approval = next(d for d in gate["actionExecutionDetails"] if d["actionName"] == "approve")
    assert approval["output"]["executionResult"]["externalExecutionSummary"] == "approved by release-fn"


def test_continuation_invokes_again(lambda_daemon):
    client = lambda_daemon.client()
    client.start_pipeline_execution(name="target")
    settle(client, "target")
    client.start_pipeline_execution(name="pager")
    release = wait_for_release(client, "pager")
    assert release["status"] == "Succeeded", release
    assert release["output"]["outputVariables"]["page"] == "page-2"


@pytest.mark.parametrize("pipeline, words", [("crasher", "crashed on purpose"), ("sleeper", "timed out")])
def test_a_crash_or_a_timeout_fails_the_action(lambda_daemon, pipeline, words):
    client = lambda_daemon.client()
    client.start_pipeline_execution(name=pipeline)
    release = wait_for_release(client, pipeline)
    assert release["status"] == "Failed"
    assert words in release["output"]["executionResult"]["errorDetails"]["message"]


def test_a_nodejs_lambda_with_the_bundled_sdk(lambda_daemon):
    client = lambda_daemon.client()
    client.start_pipeline_execution(name="noder")
    release = wait_for_release(client, "noder")
    assert release["status"] == "Succeeded", release
    assert release["output"]["outputVariables"]["fn"] == "node-fn"
    assert release["output"]["outputVariables"]["runtime"].startswith("v")


def test_a_nodejs_lambda_written_for_the_v2_sdk_runs_unchanged(lambda_daemon):
    client = lambda_daemon.client()
    client.start_pipeline_execution(name="old-noder")
    release = wait_for_release(client, "old-noder")
    assert release["status"] == "Succeeded", release
    assert release["output"]["outputVariables"]["sdk"].startswith("2.")
