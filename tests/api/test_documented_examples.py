"""The calls AWS's documentation shows, made as its readers make them: the AWS CLI with
`--cli-input-json` files shaped like the user guide's example pipeline (an S3 source and a
CodeDeploy deploy: resources that have no stand-in here, as in a reader's first try), boto3, and
the newest JS SDK v3 the npm registry serves. Every answer is held against botocore's model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.support.botocore_check import assert_output_valid
from tests.support import js_sdk as js
from tests.support.daemon import Daemon

ACCOUNT = "111122223333"


def user_guide_pipeline(name: str) -> dict:
    """The user guide's example structure (create-pipeline tutorial): S3 source, CodeDeploy."""
    return {"pipeline": {
        "name": name,
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/AWS-CodePipeline-Service",
        "artifactStore": {"type": "S3", "location": "codepipeline-us-east-2-250656481468"},
        "stages": [
            {"name": "Source", "actions": [{
                "name": "Source",
                "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
                "runOrder": 1,
                "configuration": {"S3Bucket": "awscodepipeline-demobucket-example-date",
                                  "S3ObjectKey": "aws-codepipeline-s3-aws-codedeploy_linux.zip",
                                  "PollForSourceChanges": "false"},
                "outputArtifacts": [{"name": "SourceArtifact"}],
                "inputArtifacts": []}]},
            {"name": "Staging", "actions": [{
                "name": "Deploy-CodeDeploy-Application",
                "actionTypeId": {"category": "Deploy", "owner": "AWS", "provider": "CodeDeploy", "version": "1"},
                "runOrder": 1,
                "configuration": {"ApplicationName": "CodePipelineDemoApplication",
                                  "DeploymentGroupName": "CodePipelineDemoFleet"},
                "outputArtifacts": [],
                "inputArtifacts": [{"name": "SourceArtifact"}]}]},
        ],
        "version": 1,
    }}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    root = tmp_path_factory.mktemp("documented")
    (root / "pipelines").mkdir()
    daemon = Daemon(root / "pipelines", root / "state").start()
    yield daemon
    daemon.stop()


def aws(daemon, *args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=daemon.endpoint, AWS_ACCESS_KEY_ID="reader", AWS_SECRET_ACCESS_KEY="reader",
               AWS_DEFAULT_REGION="us-east-2")
    executable = shutil.which("aws", path=os.path.dirname(sys.executable)) or shutil.which("aws")
    assert executable, "the AWS CLI (awscli, in the test extra) is not installed"
    run = subprocess.run([executable, "codepipeline", *args, "--output", "json"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, f"aws codepipeline {' '.join(args)}: {run.stderr}"
    return json.loads(run.stdout) if run.stdout.strip() else {}


def test_the_cli_walkthrough_of_the_user_guide(daemon, tmp_path):
    source = tmp_path / "MySecondPipeline.json"
    source.write_text(json.dumps(user_guide_pipeline("MySecondPipeline"), indent=4))
    created = aws(daemon, "create-pipeline", "--cli-input-json", f"file://{source}")
    assert_output_valid("CreatePipeline", created)
    assert created["pipeline"]["stages"][1]["actions"][0]["actionTypeId"]["provider"] == "CodeDeploy"

    got = aws(daemon, "get-pipeline", "--name", "MySecondPipeline")
    assert_output_valid("GetPipeline", got)
    edited = {"pipeline": got["pipeline"]}
    edited["pipeline"]["stages"][1]["actions"][0]["configuration"]["DeploymentGroupName"] = "CodePipelineProductionFleet"
    source.write_text(json.dumps(edited))
    updated = aws(daemon, "update-pipeline", "--cli-input-json", f"file://{source}")
    assert updated["pipeline"]["version"] == 2

    listed = aws(daemon, "list-pipelines")
    assert_output_valid("ListPipelines", listed)
    assert "MySecondPipeline" in [p["name"] for p in listed["pipelines"]]
    started = aws(daemon, "start-pipeline-execution", "--name", "MySecondPipeline")
    state = aws(daemon, "get-pipeline-state", "--name", "MySecondPipeline")
    assert_output_valid("GetPipelineState", state)
    assert [s["stageName"] for s in state["stageStates"]] == ["Source", "Staging"]
    executions = aws(daemon, "list-pipeline-executions", "--pipeline-name", "MySecondPipeline")
    assert executions["pipelineExecutionSummaries"][0]["pipelineExecutionId"] == started["pipelineExecutionId"]
    aws(daemon, "disable-stage-transition", "--pipeline-name", "MySecondPipeline", "--stage-name", "Staging",
        "--transition-type", "Inbound", "--reason", "An example reason")
    aws(daemon, "enable-stage-transition", "--pipeline-name", "MySecondPipeline", "--stage-name", "Staging",
        "--transition-type", "Inbound")
    arn = "arn:aws:codepipeline:us-east-1:123456789012:MySecondPipeline"
    aws(daemon, "tag-resource", "--resource-arn", arn, "--tags", "key=Project,value=ProjectA", "key=IscontainerBased,value=true")
    tags = aws(daemon, "list-tags-for-resource", "--resource-arn", arn)
    assert {t["key"] for t in tags["tags"]} == {"Project", "IscontainerBased"}
    aws(daemon, "delete-pipeline", "--name", "MySecondPipeline")


@pytest.mark.both_protocols  # boto3 over JSON 1.1 and over Smithy RPC v2 CBOR
def test_boto3_as_its_documentation_calls_it(daemon):
    client = daemon.client()
    created = client.create_pipeline(**user_guide_pipeline("boto3-pipeline"), tags=[{"key": "team", "value": "a"}])
    assert created["tags"] == [{"key": "team", "value": "a"}]
    pipelines = [p["name"] for page in client.get_paginator("list_pipelines").paginate() for p in page["pipelines"]]
    assert "boto3-pipeline" in pipelines
    with pytest.raises(client.exceptions.PipelineNotFoundException) as raised:
        client.get_pipeline(name="no-such-pipeline")
    assert raised.value.response["Error"]["Message"] == \
        "Account '123456789012' does not have a pipeline with name 'no-such-pipeline'"
    client.delete_pipeline(name="boto3-pipeline")


JS = r"""
const cp = require("@aws-sdk/client-codepipeline");
const client = new cp.CodePipelineClient({ region: "us-east-1", endpoint: process.env.ENDPOINT,
  credentials: { accessKeyId: "js", secretAccessKey: "js" } });
(async () => {
  const out = {};
  const input = JSON.parse(process.env.PIPELINE);
  out.created = await client.send(new cp.CreatePipelineCommand(input));
  out.got = await client.send(new cp.GetPipelineCommand({ name: input.pipeline.name }));
  out.listed = await client.send(new cp.ListPipelinesCommand({}));
  out.started = await client.send(new cp.StartPipelineExecutionCommand({ name: input.pipeline.name }));
  out.state = await client.send(new cp.GetPipelineStateCommand({ name: input.pipeline.name }));
  try {
    await client.send(new cp.GetPipelineCommand({ name: "no-such-pipeline" }));
  } catch (error) {
    out.error = { name: error.name, status: error.$metadata.httpStatusCode, message: error.message,
                  isModeled: error instanceof cp.PipelineNotFoundException };
  }
  for (const value of Object.values(out)) delete value.$metadata;
  console.log(JSON.stringify(out));
})().catch((error) => { console.error(error); process.exit(1); });
"""


@pytest.fixture(scope="module")
def js_sdk(tmp_path_factory):
    """The newest @aws-sdk/client-codepipeline the registry serves, installed for this run."""
    return js.install(tmp_path_factory.mktemp("js-sdk"), "@aws-sdk/client-codepipeline@latest")


def test_the_js_sdk_v3(daemon, js_sdk):
    out = js.run(js_sdk, JS, {"ENDPOINT": daemon.endpoint, "PIPELINE": json.dumps(user_guide_pipeline("js-pipeline"))})
    assert out["created"]["pipeline"]["name"] == "js-pipeline"
    assert out["got"]["pipeline"]["version"] == 1 and out["got"]["metadata"]["pipelineArn"].endswith(":js-pipeline")
    assert "js-pipeline" in [p["name"] for p in out["listed"]["pipelines"]]
    assert out["started"]["pipelineExecutionId"]
    assert [s["stageName"] for s in out["state"]["stageStates"]] == ["Source", "Staging"]
    assert out["error"] == {"name": "PipelineNotFoundException", "status": 400, "isModeled": True,
                            "message": "Account '123456789012' does not have a pipeline with name 'no-such-pipeline'"}


JS_RELEASE_SAFETY = r"""
const cp = require("@aws-sdk/client-codepipeline");
const client = new cp.CodePipelineClient({ region: "us-east-1", endpoint: process.env.ENDPOINT,
  credentials: { accessKeyId: "js", secretAccessKey: "js" } });
const caught = async (command) => {
  try { await client.send(command); return null; }
  catch (error) { return { name: error.name, modeled: error instanceof cp.CodePipelineServiceException && error.$fault === "client" }; }
};
(async () => {
  const out = {};
  const input = JSON.parse(process.env.PIPELINE);
  await client.send(new cp.CreatePipelineCommand(input));
  out.types = await client.send(new cp.ListRuleTypesCommand({ ruleOwnerFilter: "AWS" }));
  out.runs = await client.send(new cp.ListRuleExecutionsCommand({ pipelineName: input.pipeline.name }));
  out.rollback = await caught(new cp.RollbackStageCommand({ pipelineName: input.pipeline.name, stageName: "Staging",
    targetPipelineExecutionId: "00000000-0000-4000-8000-000000000000" }));
  out.override = await caught(new cp.OverrideStageConditionCommand({ pipelineName: input.pipeline.name,
    stageName: "Staging", pipelineExecutionId: "00000000-0000-4000-8000-000000000000", conditionType: "BEFORE_ENTRY" }));
  for (const value of Object.values(out)) if (value) delete value.$metadata;
  await client.send(new cp.DeletePipelineCommand({ name: input.pipeline.name }));
  console.log(JSON.stringify(out));
})().catch((error) => { console.error(error); process.exit(1); });
"""


def test_the_js_sdk_v3_release_safety_operations(daemon, js_sdk):
    out = js.run(js_sdk, JS_RELEASE_SAFETY,
                 {"ENDPOINT": daemon.endpoint, "PIPELINE": json.dumps(user_guide_pipeline("js-safety"))})
    assert len(out["types"]["ruleTypes"]) == 6
    assert out["runs"]["ruleExecutionDetails"] == []
    assert out["rollback"] == {"name": "PipelineExecutionNotFoundException", "modeled": True}
    assert out["override"] == {"name": "NotLatestPipelineExecutionException", "modeled": True}


# The JS SDK's Smithy RPC v2 CBOR: the client's `protocol` option takes a protocol class (the
# generated client defaults to AwsJson1_1Protocol and instantiates a class with its
# protocolSettings); @aws-sdk/core/protocols exports AwsSmithyRpcV2CborProtocol.
JS_CBOR = r"""
const cp = require("@aws-sdk/client-codepipeline");
const { AwsSmithyRpcV2CborProtocol } = require("@aws-sdk/core/protocols");
const client = new cp.CodePipelineClient({ region: "us-east-1", endpoint: process.env.ENDPOINT,
  credentials: { accessKeyId: "js", secretAccessKey: "js" }, protocol: AwsSmithyRpcV2CborProtocol });
const wire = [];
client.middlewareStack.add((next) => async (args) => {
  const result = await next(args);
  wire.push({ path: args.request.path, sent: args.request.headers["smithy-protocol"],
              answered: result.response.headers["smithy-protocol"] });
  return result;
}, { step: "finalizeRequest", name: "watchTheWire" });
const caught = async (command) => {
  try { await client.send(command); return null; }
  catch (error) { return { name: error.name, status: error.$metadata.httpStatusCode, message: error.message,
                           modeled: error instanceof cp.CodePipelineServiceException && error.$fault === "client" }; }
};
(async () => {
  const out = {};
  const input = JSON.parse(process.env.PIPELINE);
  out.created = await client.send(new cp.CreatePipelineCommand(input));
  out.got = await client.send(new cp.GetPipelineCommand({ name: input.pipeline.name }));
  out.createdIsDate = out.got.metadata.created instanceof Date;
  out.listed = await client.send(new cp.ListPipelinesCommand({}));
  out.started = await client.send(new cp.StartPipelineExecutionCommand({ name: input.pipeline.name }));
  out.execution = await client.send(new cp.GetPipelineExecutionCommand({ pipelineName: input.pipeline.name,
    pipelineExecutionId: out.started.pipelineExecutionId }));
  out.notFound = await caught(new cp.GetPipelineCommand({ name: "no-such-pipeline" }));
  out.invalid = await caught(new cp.GetPipelineCommand({ name: "has spaces" }));
  out.noJob = await caught(new cp.GetJobDetailsCommand({ jobId: "11111111-2222-3333-4444-555555555555" }));
  await client.send(new cp.DeletePipelineCommand({ name: input.pipeline.name }));
  for (const value of Object.values(out)) if (value && typeof value === "object") delete value.$metadata;
  out.wire = wire;
  console.log(JSON.stringify(out));
})().catch((error) => { console.error(error); process.exit(1); });
"""


# A job worker in JavaScript, as the SDK v3's users write one: create the custom action, then
# poll, acknowledge and put the result.
JS_JOB_WORKER = r"""
const cp = require("@aws-sdk/client-codepipeline");
const client = new cp.CodePipelineClient({ region: "us-east-1", endpoint: process.env.ENDPOINT,
  credentials: { accessKeyId: "js", secretAccessKey: "js" } });
const actionTypeId = { category: "Source", owner: "Custom", provider: "JsVault", version: "1" };
(async () => {
  const out = {};
  out.created = await client.send(new cp.CreateCustomActionTypeCommand({ category: "Source", provider: "JsVault",
    version: "1", configurationProperties: [{ name: "Bundle", required: true, key: true, secret: false }],
    inputArtifactDetails: { minimumCount: 0, maximumCount: 0 }, outputArtifactDetails: { minimumCount: 1, maximumCount: 1 } }));
  await client.send(new cp.CreatePipelineCommand({ pipeline: {
    name: "js-worker", roleArn: "arn:aws:iam::111122223333:role/AWS-CodePipeline-Service",
    artifactStore: { type: "S3", location: "codepipeline-us-east-1-artifacts" },
    stages: [
      { name: "Source", actions: [{ name: "Fetch", actionTypeId, configuration: { Bundle: "site-9" },
                                    outputArtifacts: [{ name: "Site" }] }] },
      { name: "Gate", actions: [{ name: "Approve", actionTypeId: { category: "Approval", owner: "AWS",
                                                                  provider: "Manual", version: "1" } }] }] } }));
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    const { jobs } = await client.send(new cp.PollForJobsCommand({ actionTypeId, maxBatchSize: 1 }));
    if (!jobs.length) { await new Promise((r) => setTimeout(r, 100)); continue; }
    const job = jobs[0];
    out.bundle = job.data.actionConfiguration.configuration.Bundle;
    out.ack = await client.send(new cp.AcknowledgeJobCommand({ jobId: job.id, nonce: job.nonce }));
    await client.send(new cp.PutJobSuccessResultCommand({ jobId: job.id,
      executionDetails: { summary: "fetched by a JS worker" } }));
    break;
  }
  await client.send(new cp.DeleteCustomActionTypeCommand({ category: "Source", provider: "JsVault", version: "1" }));
  try { await client.send(new cp.PollForJobsCommand({ actionTypeId })); }
  catch (error) { out.deleted = { name: error.name, modeled: error instanceof cp.ActionTypeNotFoundException }; }
  for (const value of Object.values(out)) if (value && value.$metadata) delete value.$metadata;
  console.log(JSON.stringify(out));
})().catch((error) => { console.error(error); process.exit(1); });
"""


def test_the_js_sdk_v3_over_cbor(daemon, js_sdk):
    out = js.run(js_sdk, JS_CBOR, {"ENDPOINT": daemon.endpoint, "PIPELINE": json.dumps(user_guide_pipeline("js-cbor"))})
    assert {(w["sent"], w["answered"]) for w in out["wire"]} == {("rpc-v2-cbor", "rpc-v2-cbor")}
    assert out["wire"][0]["path"] == "/service/CodePipeline_20150709/operation/CreatePipeline"
    assert out["created"]["pipeline"]["stages"][1]["actions"][0]["actionTypeId"]["provider"] == "CodeDeploy"
    assert out["got"]["metadata"]["pipelineArn"].endswith(":js-cbor") and out["createdIsDate"] is True
    assert "js-cbor" in [p["name"] for p in out["listed"]["pipelines"]]
    assert out["execution"]["pipelineExecution"]["pipelineExecutionId"] == out["started"]["pipelineExecutionId"]
    assert out["notFound"] == {"name": "PipelineNotFoundException", "status": 400, "modeled": True,
                               "message": "Account '123456789012' does not have a pipeline with name 'no-such-pipeline'"}
    assert out["invalid"]["name"] == "ValidationException" and out["invalid"]["modeled"] is True
    assert "name" in out["invalid"]["message"]
    assert (out["noJob"]["name"], out["noJob"]["status"], out["noJob"]["modeled"]) == ("JobNotFoundException", 400, True)


def test_a_js_sdk_v3_job_worker(daemon, js_sdk):
    out = js.run(js_sdk, JS_JOB_WORKER, {"ENDPOINT": daemon.endpoint})
    assert out["created"]["actionType"]["id"]["provider"] == "JsVault"
    assert (out["bundle"], out["ack"]) == ("site-9", {"status": "InProgress"})
    assert out["deleted"] == {"name": "ActionTypeNotFoundException", "modeled": True}
    client = daemon.client()
    fetch = next(e for e in client.list_action_executions(pipelineName="js-worker")["actionExecutionDetails"]
                 if e["actionName"] == "Fetch")
    assert fetch["status"] == "Succeeded" and fetch["output"]["executionResult"]["externalExecutionSummary"] == \
        "fetched by a JS worker"
