"""The product's service-a deployed as the article deploys its services: each stage's
CloudFormation stack (sample_services/service-a/function.yml) holds a function whose code is the
build artifact (`Code: {S3Bucket, S3Key}` fed by Fn::GetArtifactAtt). The functions are real:
boto3, the AWS CLI and the function URL reach them, the stage's own test action calls the
function its stage deployed, the next commit replaces the code, and the CloudFormation API
describes the stacks with their real outputs."""

from __future__ import annotations

import base64
import json
import urllib.request
import os
import shutil
import subprocess
import sys

import boto3
import pytest
import yaml
from botocore.config import Config

from emulator.runner.lambda_images import ensure_runtime_image
from tests.e2e.waiting import settle
from tests.support.daemon import ROOT, Daemon, commit

pytestmark = pytest.mark.docker

SERVICE = ROOT / "sample_services" / "service-a"
# The stage's test: the function its own stage deployed, called with boto3 from the test container.
CALL = ("import boto3, json, os; "
        "answer = boto3.client('lambda').invoke(FunctionName=os.environ['FUNCTION'], Payload=json.dumps(dict(caller='test'))); "
        "body = json.loads(answer['Payload'].read()); print('answer', json.dumps(body)); "
        "assert body['service'] == 'a' and body['stage'] == 'dev', body")
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
                  namespace=namespace, ActionMode="CREATE_UPDATE", StackName=f"service-a-{stage}",
                  TemplatePath="BuildOutput::function.yml", Capabilities="CAPABILITY_IAM",
                  ParameterOverrides=json.dumps(overrides), OutputFileName="outputs.json")


def definition(repo, busybox: str, python: str) -> dict:
    return {
        "pipeline": {"name": "my-service-a", "stages": [
            {"name": "Source", "actions": [action("source", "Source", "CodeCommit", outputs=["SourceOutput"],
                                                  RepositoryName="service-a", BranchName="main",
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
        "repositories": {"service-a": {"path": str(repo)}},
        # The service's own buildspec.yml builds it, as in the sample product.
        "projects": {"build": {"image": busybox}, "call": {"image": python, "buildspec": TEST}},
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
    files = {p.relative_to(SERVICE).as_posix(): p.read_text() for p in SERVICE.rglob("*") if p.is_file()}
    commit(service_repo, "service-a 1.0.0", files)
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "svc.yml").write_text(yaml.safe_dump(definition(service_repo, busybox_image, python)))
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    try:
        client = daemon.client()
        lambdas, cloudformation = clients(daemon)
        for version in ("1.0.0", "1.1.0"):
            if version == "1.1.0":
                commit(service_repo, "service-a 1.1.0", {"VERSION": "1.1.0\n"})
            execution = client.start_pipeline_execution(name="my-service-a")["pipelineExecutionId"]
            settle(client, "my-service-a", timeout=300)
            got = client.get_pipeline_execution(pipelineName="my-service-a", pipelineExecutionId=execution)
            details = client.list_action_executions(pipelineName="my-service-a",
                                                    filter={"pipelineExecutionId": execution})["actionExecutionDetails"]
            assert got["pipelineExecution"]["status"] == "Succeeded", [
                (d["stageName"], d["actionName"], d["status"], daemon.action_log(d["actionExecutionId"])[-1500:])
                for d in details if d["status"] != "Succeeded"]
            for stage in ("dev", "qa"):
                answer = lambdas.invoke(FunctionName=f"service-a-{stage}-Lambda", Payload=b"{}", LogType="Tail")
                body = json.loads(answer["Payload"].read())
                assert body == {"service": "a", "version": version, "stage": stage}
                assert answer["StatusCode"] == 200 and "FunctionError" not in answer
                assert "START RequestId" in base64.b64decode(answer["LogResult"]).decode()
                url = {o["OutputKey"]: o["OutputValue"] for o in cloudformation.describe_stacks(
                    StackName=f"service-a-{stage}")["Stacks"][0]["Outputs"]}["Url"]
                with urllib.request.urlopen(url, timeout=60) as page:  # the same function, by its URL
                    assert json.loads(page.read()) == body
        test_log = daemon.action_log(next(d for d in details if d["actionName"] == "test")["actionExecutionId"])
        assert '"service": "a"' in test_log and '"stage": "dev"' in test_log  # the stage's test called its function

        dev_deploy = next(d for d in details if d["stageName"] == "StagingDEV" and d["actionName"] == "deploy")
        assert dev_deploy["output"]["outputVariables"]["FunctionName"] == "service-a-dev-Lambda"
        assert "LambdaRole (AWS::IAM::Role): not emulated" in daemon.action_log(dev_deploy["actionExecutionId"])

        stack = cloudformation.describe_stacks(StackName="service-a-dev")["Stacks"][0]
        assert stack["StackStatus"] == "UPDATE_COMPLETE"
        assert stack["Description"] == "service-a as a function, one stack per stage (the article's serverless deploy)"
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        assert outputs["FunctionName"] == "service-a-dev-Lambda"
        assert outputs["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:service-a-dev-Lambda"
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
        assert parameters["Stage"] == "dev" and parameters["LambdaS3Key"].startswith(f"artifacts/{execution}/")
        resources = {r["LogicalResourceId"]: r for r in cloudformation.describe_stack_resources(
            StackName="service-a-dev")["StackResources"]}
        assert resources["Lambda"]["PhysicalResourceId"] == "service-a-dev-Lambda"
        assert resources["Lambda"]["ResourceStatus"] == "UPDATE_COMPLETE"
        exports = {e["Name"]: e["Value"] for e in cloudformation.list_exports()["Exports"]}
        assert exports == {"service-a-dev-function": "service-a-dev-Lambda",
                           "service-a-qa-function": "service-a-qa-Lambda"}
        assert "LambdaS3Key" in cloudformation.get_template(StackName="service-a-qa")["TemplateBody"]
        config = lambdas.get_function_configuration(FunctionName="service-a-qa-Lambda")
        assert (config["Runtime"], config["Handler"], config["Timeout"], config["MemorySize"]) == (
            "python3.12", "app.handler", 10, 256)
        assert config["Environment"]["Variables"] == {"STAGE": "qa"}
        names = [f["FunctionName"] for f in lambdas.list_functions()["Functions"]]
        assert names == ["service-a-dev-Lambda", "service-a-qa-Lambda"]

        # The real AWS CLI, with only AWS_ENDPOINT_URL pointing at the daemon.
        out = tmp_path / "answer.json"
        called = aws(daemon, "lambda", "invoke", "--function-name", "service-a-qa-Lambda",
                     "--payload", '{"from": "cli"}', str(out))
        assert called.returncode == 0, called.stderr
        assert json.loads(out.read_text()) == {"service": "a", "version": "1.1.0", "stage": "qa"}
        described = aws(daemon, "cloudformation", "describe-stacks", "--stack-name", "service-a-qa")
        assert described.returncode == 0, described.stderr
        assert json.loads(described.stdout)["Stacks"][0]["Outputs"][0]["OutputValue"] == "service-a-qa-Lambda"
    finally:
        daemon.stop()
