"""The article's deploy as AWS users write it: each stage's CloudFormation stack holds a function
whose code is the build artifact (`Code: {S3Bucket, S3Key}` fed by Fn::GetArtifactAtt). The
functions are real: boto3 and the AWS CLI invoke them through the daemon's Lambda API, the
stage's own test action calls the function its stage deployed, the next commit replaces the code,
and the CloudFormation API describes the stacks with their real outputs."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys

import boto3
import pytest
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError

from emulator.runner.lambda_images import ensure_runtime_image
from tests.e2e.waiting import settle
from tests.support.daemon import Daemon, commit

pytestmark = pytest.mark.docker

APP = '''import os

with open(os.path.join(os.path.dirname(__file__), "VERSION")) as fh:
    VERSION = fh.read().strip()


def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"version": VERSION, "stage": os.environ["STAGE"], "echo": event.get("echo"),
            "function": context.function_name}
'''

TEMPLATE = '''AWSTemplateFormatVersion: "2010-09-09"
Description: My service, one stack per stage
Parameters:
  Stage:
    Type: String
    AllowedValues: [dev, qa]
  ArtifactS3Bucket:
    Type: String
  LambdaS3Key:
    Type: String
Resources:
  LambdaRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: [lambda.amazonaws.com]}
            Action: ["sts:AssumeRole"]
      ManagedPolicyArns: ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
  Lambda:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      Role: !GetAtt LambdaRole.Arn
      Timeout: 30
      MemorySize: 256
      Code:
        S3Bucket: !Ref ArtifactS3Bucket
        S3Key: !Ref LambdaS3Key
      Environment:
        Variables:
          STAGE: !Ref Stage
Outputs:
  FunctionName:
    Value: !Ref Lambda
    Export:
      Name: !Sub "${AWS::StackName}-function"
  FunctionArn:
    Value: !GetAtt Lambda.Arn
'''

BUILD = {"version": 0.2, "phases": {"build": {"commands": ["echo building"]}},
         "artifacts": {"files": ["**/*"]}}
# The stage's test: the function its own stage deployed, called with boto3 from the test container.
CALL = ("import boto3, json, os; "
        "answer = boto3.client('lambda').invoke(FunctionName=os.environ['FUNCTION'], Payload=json.dumps(dict(echo='from-test'))); "
        "body = json.loads(answer['Payload'].read()); print('answer', json.dumps(body)); "
        "assert body['echo'] == 'from-test' and body['stage'] == 'dev', body")
TEST = {"version": 0.2, "phases": {"build": {"commands": [f'python3 -c "{CALL}"']}}}


def action(name, category, provider, run_order=1, inputs=(), outputs=(), namespace=None, **configuration):
    declared = {"name": name, "runOrder": run_order,
                "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"},
                "configuration": configuration, "inputArtifacts": [{"name": n} for n in inputs],
                "outputArtifacts": [{"name": n} for n in outputs]}
    if namespace:
        declared["namespace"] = namespace
    return declared


def deploy(stage: str, namespace: str) -> dict:
    overrides = {"Stage": stage, "ArtifactS3Bucket": {"Fn::GetArtifactAtt": ["BuildOutput", "BucketName"]},
                 "LambdaS3Key": {"Fn::GetArtifactAtt": ["BuildOutput", "ObjectKey"]}}
    return action("deploy", "Deploy", "CloudFormation", inputs=["BuildOutput"], outputs=[f"{namespace}Out"],
                  namespace=namespace, ActionMode="CREATE_UPDATE", StackName=f"my-service-{stage}",
                  TemplatePath="BuildOutput::template.yml", Capabilities="CAPABILITY_IAM",
                  ParameterOverrides=json.dumps(overrides), OutputFileName="outputs.json")


def definition(repo, busybox: str, python: str) -> dict:
    return {
        "pipeline": {"name": "my-service", "stages": [
            {"name": "Source", "actions": [action("source", "Source", "CodeCommit", outputs=["SourceOutput"],
                                                  RepositoryName="my-service", BranchName="main",
                                                  PollForSourceChanges="false")]},
            {"name": "Build", "actions": [action("build", "Build", "CodeBuild", inputs=["SourceOutput"],
                                                 outputs=["BuildOutput"], ProjectName="build")]},
            {"name": "StagingDEV", "actions": [
                deploy("dev", "Dev"),
                action("test", "Test", "CodeBuild", run_order=2, inputs=["DevOut"], ProjectName="call",
                       EnvironmentVariables=json.dumps([{"name": "FUNCTION", "value": "#{Dev.FunctionName}",
                                                         "type": "PLAINTEXT"}])),
            ]},
            {"name": "StagingQA", "actions": [deploy("qa", "Qa")]},
        ]},
        "repositories": {"my-service": {"path": str(repo)}},
        "projects": {"build": {"image": busybox, "buildspec": BUILD}, "call": {"image": python, "buildspec": TEST}},
    }


def aws(daemon, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=daemon.endpoint, AWS_ACCESS_KEY_ID="cli", AWS_SECRET_ACCESS_KEY="cli",
               AWS_DEFAULT_REGION="us-east-1")
    executable = shutil.which("aws", path=os.path.dirname(sys.executable)) or shutil.which("aws")
    return subprocess.run([executable, *args], env=env, capture_output=True, text=True, timeout=120)


def clients(daemon):
    kwargs = dict(endpoint_url=daemon.endpoint, region_name="us-east-1", aws_access_key_id="t",
                  aws_secret_access_key="t", config=Config(retries={"max_attempts": 1}, read_timeout=300))
    return boto3.client("lambda", **kwargs), boto3.client("cloudformation", **kwargs)


def test_each_stage_deploys_a_function_that_answers_with_the_new_code(tmp_path, service_repo, busybox_image,
                                                                     docker_client):
    python = ensure_runtime_image(docker_client, "python3.12", log=lambda line: None)
    commit(service_repo, "v1", {"app.py": APP, "VERSION": "1\n", "template.yml": TEMPLATE})
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "svc.yml").write_text(yaml.safe_dump(definition(service_repo, busybox_image, python)))
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    try:
        client = daemon.client()
        lambdas, cloudformation = clients(daemon)
        for version in ("1", "2"):
            if version == "2":
                commit(service_repo, "v2", {"VERSION": "2\n"})
            execution = client.start_pipeline_execution(name="my-service")["pipelineExecutionId"]
            settle(client, "my-service", timeout=300)
            got = client.get_pipeline_execution(pipelineName="my-service", pipelineExecutionId=execution)
            details = client.list_action_executions(pipelineName="my-service",
                                                    filter={"pipelineExecutionId": execution})["actionExecutionDetails"]
            assert got["pipelineExecution"]["status"] == "Succeeded", [
                (d["stageName"], d["actionName"], d["status"], daemon.action_log(d["actionExecutionId"])[-1500:])
                for d in details if d["status"] != "Succeeded"]
            for stage in ("dev", "qa"):
                answer = lambdas.invoke(FunctionName=f"my-service-{stage}-Lambda", Payload=b'{"echo": "hi"}',
                                        LogType="Tail")
                body = json.loads(answer["Payload"].read())
                assert body == {"version": version, "stage": stage, "echo": "hi", "function": f"my-service-{stage}-Lambda"}
                assert answer["StatusCode"] == 200 and "FunctionError" not in answer
                assert "START RequestId" in base64.b64decode(answer["LogResult"]).decode()
        test_log = daemon.action_log(next(d for d in details if d["actionName"] == "test")["actionExecutionId"])
        assert '"echo": "from-test"' in test_log  # the stage's test called its stage's function

        dev_deploy = next(d for d in details if d["stageName"] == "StagingDEV" and d["actionName"] == "deploy")
        assert dev_deploy["output"]["outputVariables"]["FunctionName"] == "my-service-dev-Lambda"
        assert "LambdaRole (AWS::IAM::Role): not emulated" in daemon.action_log(dev_deploy["actionExecutionId"])

        stack = cloudformation.describe_stacks(StackName="my-service-dev")["Stacks"][0]
        assert stack["StackStatus"] == "UPDATE_COMPLETE" and stack["Description"] == "My service, one stack per stage"
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        assert outputs == {"FunctionName": "my-service-dev-Lambda",
                           "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:my-service-dev-Lambda"}
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
        assert parameters["Stage"] == "dev" and parameters["LambdaS3Key"].startswith(f"artifacts/{execution}/")
        resources = {r["LogicalResourceId"]: r for r in cloudformation.describe_stack_resources(
            StackName="my-service-dev")["StackResources"]}
        assert resources["Lambda"]["PhysicalResourceId"] == "my-service-dev-Lambda"
        assert resources["Lambda"]["ResourceStatus"] == "UPDATE_COMPLETE"
        exports = {e["Name"]: e["Value"] for e in cloudformation.list_exports()["Exports"]}
        assert exports == {"my-service-dev-function": "my-service-dev-Lambda",
                           "my-service-qa-function": "my-service-qa-Lambda"}
        assert "LambdaS3Key" in cloudformation.get_template(StackName="my-service-qa")["TemplateBody"]
        config = lambdas.get_function_configuration(FunctionName="my-service-qa-Lambda")
        assert (config["Runtime"], config["Handler"], config["Timeout"], config["MemorySize"]) == (
            "python3.12", "app.handler", 30, 256)
        assert config["Environment"]["Variables"] == {"STAGE": "qa"}
        names = [f["FunctionName"] for f in lambdas.list_functions()["Functions"]]
        assert names == ["my-service-dev-Lambda", "my-service-qa-Lambda"]

        failed = lambdas.invoke(FunctionName="my-service-dev-Lambda", Payload=b'{"fail": true}')
        error = json.loads(failed["Payload"].read())
        assert failed["FunctionError"] == "Unhandled"
        assert (error["errorType"], error["errorMessage"]) == ("ValueError", "asked to fail")
        with pytest.raises(ClientError) as missing:
            lambdas.invoke(FunctionName="nope")
        assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
        assert "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope" in str(missing.value)
        with pytest.raises(ClientError) as no_stack:
            cloudformation.describe_stacks(StackName="nope")
        assert no_stack.value.response["Error"] == {"Type": "Sender", "Code": "ValidationError",
                                                     "Message": "Stack with id nope does not exist"}

        # The real AWS CLI, with only AWS_ENDPOINT_URL pointing at the daemon.
        out = tmp_path / "answer.json"
        called = aws(daemon, "lambda", "invoke", "--function-name", "my-service-qa-Lambda",
                     "--payload", '{"echo": "cli"}', str(out))
        assert called.returncode == 0, called.stderr
        assert json.loads(out.read_text())["echo"] == "cli"
        described = aws(daemon, "cloudformation", "describe-stacks", "--stack-name", "my-service-qa")
        assert described.returncode == 0, described.stderr
        assert json.loads(described.stdout)["Stacks"][0]["Outputs"][0]["OutputValue"] == "my-service-qa-Lambda"
    finally:
        daemon.stop()
