"""The Lambda and CloudFormation APIs as their clients call them: boto3, the AWS CLI and the
newest JS SDK v3 from npm, against functions of the pipelines folder (`functions:`) and a stack a
pipeline deployed. Lambda's JSON answers are held against botocore's model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
import time

import boto3
import pytest
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError

from emulator.api import query, shapes
from tests.e2e.waiting import settle
from tests.support.daemon import Daemon, commit
from tests.support import js_sdk as js

pytestmark = pytest.mark.docker

HANDLER = textwrap.dedent('''
    import json, os

    def handler(event, context):
        if event.get("boom"):
            raise KeyError("boom")
        if event.get("show"):  # what this execution environment kept in /tmp
            return {"seen": open("/tmp/seen").read() if os.path.exists("/tmp/seen") else ""}
        if event.get("tag"):  # a side effect the test can see: a tag through the daemon's API
            import boto3
            boto3.client("codepipeline").tag_resource(resourceArn=event["tag"], tags=[{"key": "seen", "value": "event"}])
        with open("/tmp/seen", "a") as fh:
            fh.write(json.dumps(event) + "\\n")
        return {"got": event, "name": context.function_name, "arn": context.invoked_function_arn,
                "region": os.environ["AWS_REGION"], "color": os.environ.get("COLOR")}
''')
TEMPLATE = textwrap.dedent('''
    AWSTemplateFormatVersion: "2010-09-09"
    Resources:
      Hello:
        Type: AWS::Lambda::Function
        Properties:
          FunctionName: hello-from-stack
          Runtime: nodejs20.x
          Handler: index.handler
          Code:
            ZipFile: |
              exports.handler = async (event) => ({ hello: event.name || "world" });
    Outputs:
      Url: {Value: !GetAtt Hello.Arn, Export: {Name: hello-arn}}
''')


def check_lambda_answer(http_response, model, **_):
    """GetFunction, GetFunctionConfiguration and ListFunctions bodies fit botocore's model."""
    if http_response.status_code == 200 and model.name != "Invoke":
        body = json.loads(http_response.content or b"{}")
        members = {k: v for k, v in model.output_shape.members.items() if "location" not in v.serialization}
        assert set(body) <= set(members), set(body) - set(members)
        assert shapes.validate_value(model.output_shape, body, output=True) == []


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, docker_client):
    from emulator.runner.lambda_images import ensure_runtime_image

    ensure_runtime_image(docker_client, "python3.12")
    ensure_runtime_image(docker_client, "nodejs20.x")
    root = tmp_path_factory.mktemp("lambda-api")
    (root / "code").mkdir()
    (root / "code" / "app.py").write_text(HANDLER)
    repo = root / "repo"
    from tests.support.daemon import init_repo

    init_repo(repo)
    commit(repo, "stack", {"template.yml": TEMPLATE})
    source = {"name": "source", "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
              "configuration": {"RepositoryName": "infra", "BranchName": "main", "PollForSourceChanges": "false"},
              "outputArtifacts": [{"name": "src"}]}
    stack = {"name": "stack", "actionTypeId": {"category": "Deploy", "owner": "AWS", "provider": "CloudFormation", "version": "1"},
             "configuration": {"ActionMode": "CREATE_UPDATE", "StackName": "hello", "TemplatePath": "src::template.yml"},
             "inputArtifacts": [{"name": "src"}]}
    definition = {"pipeline": {"name": "infra", "stages": [{"name": "Source", "actions": [source]},
                                                           {"name": "Deploy", "actions": [stack]}]},
                  "repositories": {"infra": {"path": str(repo)}},
                  "functions": {"echo": {"runtime": "python3.12", "handler": "app.handler", "code": str(root / "code"),
                                         "timeout": 30, "environment": {"COLOR": "blue"}},
                                "other": {"runtime": "python3.12", "handler": "app.handler", "code": str(root / "code")}}}
    (root / "pipelines").mkdir()
    (root / "pipelines" / "infra.yml").write_text(yaml.safe_dump(definition))
    running = Daemon(root / "pipelines", root / "state").start()
    try:
        client = running.client()
        client.start_pipeline_execution(name="infra")
        state = settle(client, "infra")
        assert state["stageStates"][1]["latestExecution"]["status"] == "Succeeded", state
        yield running
    finally:
        running.stop()


def lambda_client(daemon):
    client = boto3.client("lambda", endpoint_url=daemon.endpoint, region_name="us-east-1", aws_access_key_id="t",
                          aws_secret_access_key="t", config=Config(retries={"max_attempts": 1}, read_timeout=120))
    client.meta.events.register("after-call.lambda", check_lambda_answer)
    return client


def test_boto3_invokes_in_every_invocation_type(daemon):
    client = lambda_client(daemon)
    answer = client.invoke(FunctionName="echo", Payload=json.dumps({"n": 1}))
    body = json.loads(answer["Payload"].read())
    assert body == {"got": {"n": 1}, "name": "echo", "arn": "arn:aws:lambda:us-east-1:123456789012:function:echo",
                    "region": "us-east-1", "color": "blue"}
    assert answer["ExecutedVersion"] == "$LATEST" and answer["StatusCode"] == 200
    # By ARN and partial ARN, and with $LATEST: the same function.
    for name in ("arn:aws:lambda:us-east-1:123456789012:function:echo", "123456789012:function:echo", "echo:$LATEST"):
        assert json.loads(client.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())["name"] == "echo"
    seen = json.loads(client.invoke(FunctionName="echo", Payload=json.dumps({"show": True}))["Payload"].read())["seen"]
    assert '"n": 1' in seen  # /tmp kept between invocations of one execution environment
    arn = "arn:aws:codepipeline:us-east-1:123456789012:infra"
    queued = client.invoke(FunctionName="echo", InvocationType="Event", Payload=json.dumps({"tag": arn}))
    assert queued["StatusCode"] == 202 and queued["Payload"].read() == b""
    assert client.invoke(FunctionName="echo", InvocationType="DryRun")["StatusCode"] == 204
    pipelines = daemon.client()
    deadline = time.monotonic() + 60
    while not pipelines.list_tags_for_resource(resourceArn=arn)["tags"] and time.monotonic() < deadline:
        time.sleep(0.2)  # the queued invocation runs after the answer
    assert pipelines.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "seen", "value": "event"}]

    failed = client.invoke(FunctionName="echo", Payload=json.dumps({"boom": True}))
    error = json.loads(failed["Payload"].read())
    assert failed["FunctionError"] == "Unhandled" and error["errorType"] == "KeyError"
    assert error["errorMessage"] == "'boom'" and error["stackTrace"]


@pytest.mark.parametrize("call, code, status, words", [
    (lambda c: c.invoke(FunctionName="missing"), "ResourceNotFoundException", 404,
     "Function not found: arn:aws:lambda:us-east-1:123456789012:function:missing"),
    (lambda c: c.invoke(FunctionName="echo", Qualifier="prod"), "ResourceNotFoundException", 404,
     "Function not found: arn:aws:lambda:us-east-1:123456789012:function:echo:prod"),
    (lambda c: c.invoke(FunctionName="echo", Payload=b"{not json"), "InvalidRequestContentException", 400,
     "Could not parse request body into json"),
    (lambda c: c.get_function(FunctionName="missing"), "ResourceNotFoundException", 404, "Function not found"),
    (lambda c: c.get_function_url_config(FunctionName="echo"), "InvalidParameterValueException", 400,
     "pipeline-emulator does not support"),
])
def test_errors_are_lambdas(daemon, call, code, status, words):
    with pytest.raises(ClientError) as raised:
        call(lambda_client(daemon))
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert words in raised.value.response["Error"]["Message"]


def test_functions_are_listed_and_configured_as_lambda_answers(daemon):
    client = lambda_client(daemon)
    names = [f["FunctionName"] for page in client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 1})
             for f in page["Functions"]]
    assert names == ["echo", "hello-from-stack", "other"]
    config = client.get_function_configuration(FunctionName="echo")
    assert (config["Runtime"], config["Handler"], config["Timeout"], config["MemorySize"]) == ("python3.12", "app.handler", 30, 512)
    assert config["Environment"] == {"Variables": {"COLOR": "blue"}} and config["CodeSha256"]
    whole = client.get_function(FunctionName="hello-from-stack")
    assert whole["Configuration"]["Runtime"] == "nodejs20.x" and whole["Code"]["RepositoryType"] == "S3"


def test_the_aws_cli(daemon, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=daemon.endpoint, AWS_ACCESS_KEY_ID="cli", AWS_SECRET_ACCESS_KEY="cli",
               AWS_DEFAULT_REGION="us-east-1")
    aws = shutil.which("aws", path=os.path.dirname(os.sys.executable)) or shutil.which("aws")
    out = tmp_path / "out.json"
    called = subprocess.run([aws, "lambda", "invoke", "--function-name", "hello-from-stack", "--payload", '{"name": "cli"}',
                             str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert called.returncode == 0, called.stderr
    assert json.loads(out.read_text()) == {"hello": "cli"}
    assert json.loads(called.stdout) == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    listed = subprocess.run([aws, "cloudformation", "list-exports"], env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(listed.stdout)["Exports"][0]["Value"] == "arn:aws:lambda:us-east-1:123456789012:function:hello-from-stack"
    missing = subprocess.run([aws, "cloudformation", "describe-stacks", "--stack-name", "nope"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "(ValidationError)" in missing.stderr and "Stack with id nope does not exist" in missing.stderr


JS = r"""
const lambda = require("@aws-sdk/client-lambda");
const cfn = require("@aws-sdk/client-cloudformation");
const config = { region: "us-east-1", endpoint: process.env.ENDPOINT, credentials: { accessKeyId: "js", secretAccessKey: "js" } };
(async () => {
  const out = {};
  const fn = new lambda.LambdaClient(config);
  const answer = await fn.send(new lambda.InvokeCommand({ FunctionName: "hello-from-stack", Payload: JSON.stringify({ name: "js" }) }));
  out.payload = JSON.parse(Buffer.from(answer.Payload).toString());
  out.listed = (await fn.send(new lambda.ListFunctionsCommand({}))).Functions.map((f) => f.FunctionName);
  try { await fn.send(new lambda.GetFunctionCommand({ FunctionName: "nope" })); }
  catch (error) { out.lambdaError = { name: error.name, modeled: error instanceof lambda.ResourceNotFoundException }; }
  const stacks = new cfn.CloudFormationClient(config);
  const described = await stacks.send(new cfn.DescribeStacksCommand({ StackName: "hello" }));
  out.stack = { status: described.Stacks[0].StackStatus, outputs: described.Stacks[0].Outputs,
                created: described.Stacks[0].CreationTime instanceof Date };
  out.resources = (await stacks.send(new cfn.ListStackResourcesCommand({ StackName: "hello" }))).StackResourceSummaries
    .map((r) => [r.LogicalResourceId, r.ResourceType, r.PhysicalResourceId]);
  try { await stacks.send(new cfn.DescribeStacksCommand({ StackName: "nope" })); }
  catch (error) { out.cfnError = { name: error.name, message: error.message }; }
  console.log(JSON.stringify(out));
})().catch((error) => { console.error(error); process.exit(1); });
"""


@pytest.fixture(scope="module")
def js_sdk(tmp_path_factory):
    """The newest Lambda and CloudFormation clients of the JS SDK v3 the registry serves."""
    return js.install(tmp_path_factory.mktemp("js-sdk-lambda"), "@aws-sdk/client-lambda@latest",
                      "@aws-sdk/client-cloudformation@latest")


def test_the_js_sdk_v3(daemon, js_sdk):
    out = js.run(js_sdk, JS, {"ENDPOINT": daemon.endpoint})
    assert out["payload"] == {"hello": "js"}
    assert out["listed"] == ["echo", "hello-from-stack", "other"]
    assert out["lambdaError"] == {"name": "ResourceNotFoundException", "modeled": True}
    assert out["stack"] == {"status": "CREATE_COMPLETE", "created": True, "outputs": [
        {"OutputKey": "Url", "OutputValue": "arn:aws:lambda:us-east-1:123456789012:function:hello-from-stack",
         "ExportName": "hello-arn"}]}
    assert out["resources"] == [["Hello", "AWS::Lambda::Function", "hello-from-stack"]]
    assert out["cfnError"] == {"name": "ValidationError", "message": "Stack with id nope does not exist"}


def test_cloudformation_answers_fit_its_model(daemon):
    """The XML answers, read by botocore, hold every member the model has for them."""
    cfn = boto3.client("cloudformation", endpoint_url=daemon.endpoint, region_name="us-east-1",
                       aws_access_key_id="t", aws_secret_access_key="t")
    stack = cfn.describe_stacks(StackName="hello")["Stacks"][0]
    model = query.model("cloudformation").shape_for("Stack")
    assert set(stack) <= set(model.members) and {"StackId", "StackName", "CreationTime", "StackStatus"} <= set(stack)
    summaries = cfn.list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"]
    assert [s["StackName"] for s in summaries] == ["hello"]
    assert "ZipFile" in cfn.get_template(StackName="hello")["TemplateBody"]
