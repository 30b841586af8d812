"""CreatePipeline, UpdatePipeline, DeletePipeline and tags, through real boto3; API pipelines
live in the state folder and survive a restart; a file's pipeline stays the file's."""

from __future__ import annotations

import copy

import pytest

from tests.e2e.waiting import wait_for
from tests.support.daemon import Daemon

pytestmark = pytest.mark.docker
FILE_PIPELINE = "svc-pipeline"
ARN = "arn:aws:codepipeline:us-east-1:123456789012:{}"


def declaration(name: str = "api-pipeline") -> dict:
    return {
        "name": name,
        "roleArn": "arn:aws:iam::123456789012:role/x",
        "artifactStore": {"type": "S3", "location": "bucket"},
        "stages": [
            {"name": "Source", "actions": [{
                "name": "source",
                "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
                "configuration": {"RepositoryName": f"{FILE_PIPELINE}-repo", "BranchName": "main",
                                  "PollForSourceChanges": "false"},
                "outputArtifacts": [{"name": "src"}],
            }]},
            {"name": "Gate", "actions": [{
                "name": "approve",
                "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"},
            }]},
        ],
    }


def test_create_update_delete_and_restart(article_daemon):
    client = article_daemon.client()
    created = client.create_pipeline(pipeline=declaration(), tags=[{"key": "team", "value": "release"}])
    assert created["pipeline"]["version"] == 1 and created["tags"] == [{"key": "team", "value": "release"}]
    names = [p["name"] for p in client.list_pipelines()["pipelines"]]
    assert names == ["api-pipeline", FILE_PIPELINE]
    assert client.list_pipeline_executions(pipelineName="api-pipeline")["pipelineExecutionSummaries"] == []

    changed = declaration()
    changed["stages"][1]["actions"][0]["name"] = "sign-off"
    assert client.update_pipeline(pipeline=changed)["pipeline"]["version"] == 2
    got = client.get_pipeline(name="api-pipeline")["pipeline"]
    assert (got["version"], got["stages"][1]["actions"][0]["name"]) == (2, "sign-off")
    assert client.get_pipeline(name="api-pipeline", version=1)["pipeline"]["stages"][1]["actions"][0]["name"] == "approve"

    article_daemon.kill()
    daemon = Daemon(article_daemon.pipelines, article_daemon.state, port=article_daemon.port).start()
    try:
        client = daemon.client()
        assert client.get_pipeline(name="api-pipeline")["pipeline"]["version"] == 2
        assert client.list_tags_for_resource(resourceArn=ARN.format("api-pipeline"))["tags"] == [
            {"key": "team", "value": "release"}]
        client.delete_pipeline(name="api-pipeline")
        client.delete_pipeline(name="api-pipeline")  # again: nothing there, no error (as AWS)
        with pytest.raises(client.exceptions.PipelineNotFoundException):
            client.get_pipeline(name="api-pipeline")
    finally:
        daemon.stop()


@pytest.mark.parametrize(
    "change, code, words",
    [
        (lambda d: d["stages"].pop(), "InvalidStructureException", "2..50 stages"),
        (lambda d: d["stages"].extend(copy.deepcopy(d["stages"][1:]) * 50), "InvalidStructureException", "not 52"),
        (lambda d: d["stages"][1]["actions"][0].update(actionTypeId={
            "category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
            configuration={"ProjectName": "nope", "Frobnicate": "x"}, inputArtifacts=[{"name": "src"}]),
         "InvalidActionDeclarationException", "Frobnicate"),
        (lambda d: d["stages"][1]["actions"][0].update(configuration={"CustomData": "x" * 1001}),
         "ValidationException", "at most 1000"),  # the model itself bounds configuration values
        (lambda d: [a.update(namespace="Same") for s in d["stages"] for a in s["actions"]],
         "InvalidActionDeclarationException", "unique"),
        (lambda d: d["stages"][1].update(name="Source"), "InvalidStageDeclarationException", "Source"),
        (lambda d: d.update(name=FILE_PIPELINE), "PipelineNameInUseException", FILE_PIPELINE),
        (lambda d: d["stages"][0]["actions"][0].update(runOrder=1000), "ValidationException", "runOrder"),
    ],
)
def test_create_pipeline_errors(article_daemon, change, code, words):
    client = article_daemon.client()
    bad = copy.deepcopy(declaration())
    change(bad)
    with pytest.raises(client.exceptions.ClientError) as raised:
        client.create_pipeline(pipeline=bad)
    error = raised.value.response["Error"]
    assert error["Code"] == code, error
    assert words in error["Message"]


def test_a_file_pipeline_is_changed_by_its_file_only(article_daemon):
    client = article_daemon.client()
    current = client.get_pipeline(name=FILE_PIPELINE)["pipeline"]
    for call in (lambda: client.update_pipeline(pipeline=current), lambda: client.delete_pipeline(name=FILE_PIPELINE)):
        with pytest.raises(client.exceptions.ClientError) as raised:
            call()
        assert raised.value.response["Error"]["Code"] == "ValidationException"
        assert "edit the file" in raised.value.response["Error"]["Message"]
    # UpdatePipeline models no PipelineNotFoundException: a modeled code, with AWS's words.
    with pytest.raises(client.exceptions.ClientError) as raised:
        client.update_pipeline(pipeline=declaration("never-created"))
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "does not have a pipeline with name 'never-created'" in raised.value.response["Error"]["Message"]


def test_what_aws_accepts_is_accepted_and_fails_at_run_time_naming_the_stand_in(article_daemon):
    """An S3 source, a Lambda invoke, a project and a provider with no stand-in here: AWS
    accepts the declaration (they may exist by the time it runs), so CreatePipeline does; the
    action that needs the missing stand-in fails when it runs, saying what to declare."""
    client = article_daemon.client()
    bad = declaration("accepts-all")
    bad["stages"][0]["actions"].append({
        "name": "bucket", "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
        "configuration": {"S3Bucket": "no-such-bucket", "S3ObjectKey": "app.zip", "PollForSourceChanges": "false"},
        "outputArtifacts": [{"name": "zip"}]})
    bad["stages"][1]["actions"] = [
        {"name": "build", "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
         "configuration": {"ProjectName": "no-such-project"}, "inputArtifacts": [{"name": "src"}]},
        {"name": "invoke", "actionTypeId": {"category": "Invoke", "owner": "AWS", "provider": "Lambda", "version": "1"},
         "configuration": {"FunctionName": "no-such-function"}},
        {"name": "ecs", "actionTypeId": {"category": "Deploy", "owner": "AWS", "provider": "ECS", "version": "1"},
         "configuration": {"ClusterName": "c", "ServiceName": "s"}, "inputArtifacts": [{"name": "zip"}], "runOrder": 2},
    ]
    created = client.create_pipeline(pipeline=bad, tags=[])
    assert created["tags"] == [] and created["pipeline"]["version"] == 1
    warnings = article_daemon.health()["definitionWarnings"]
    assert any("no-such-project is not declared" in w for w in warnings), warnings
    assert any("cluster c is not declared in the pipelines folder (add it under clusters:" in w for w in warnings), warnings
    execution = client.start_pipeline_execution(name="accepts-all")["pipelineExecutionId"]
    failed = wait_for(lambda: _ended(client, "accepts-all", execution))
    assert failed == "Failed"
    state = client.get_pipeline_state(name="accepts-all")
    bucket = next(a for a in state["stageStates"][0]["actionStates"] if a["actionName"] == "bucket")
    assert "bucket no-such-bucket does not exist: declare its stand-in under buckets:" in \
        bucket["latestExecution"]["errorDetails"]["message"]
    client.delete_pipeline(name="accepts-all")
    assert not any("accepts-all" in w for w in article_daemon.health()["definitionWarnings"])


def _ended(client, name, execution):
    status = client.get_pipeline_execution(pipelineName=name, pipelineExecutionId=execution)["pipelineExecution"]["status"]
    return status if status != "InProgress" else None


@pytest.mark.both_protocols  # boto3 over JSON 1.1 and over Smithy RPC v2 CBOR
def test_unknown_executions_answer_modeled_codes(article_daemon):
    client = article_daemon.client()
    missing = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(client.exceptions.PipelineExecutionNotStoppableException):
        client.stop_pipeline_execution(pipelineName=FILE_PIPELINE, pipelineExecutionId=missing)
    with pytest.raises(client.exceptions.StageNotRetryableException):
        client.retry_stage_execution(pipelineName=FILE_PIPELINE, stageName="Source", pipelineExecutionId=missing,
                                     retryMode="FAILED_ACTIONS")


@pytest.mark.both_protocols  # boto3 over JSON 1.1 and over Smithy RPC v2 CBOR
def test_tags(article_daemon):
    client = article_daemon.client()
    arn = ARN.format(FILE_PIPELINE)
    client.tag_resource(resourceArn=arn, tags=[{"key": "b", "value": "2"}, {"key": "a", "value": "1"}])
    client.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "one"}])
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "a", "value": "one"}, {"key": "b", "value": "2"}]
    client.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "b", "value": "2"}]
    with pytest.raises(client.exceptions.InvalidArnException):  # a CodePipeline ARN, neither a pipeline's nor a webhook's
        client.list_tags_for_resource(resourceArn="arn:aws:codepipeline:us-east-1:123456789012:actiontype:Custom/Build/Jenkins/1")
    with pytest.raises(client.exceptions.ResourceNotFoundException):  # a webhook's (tests/api/test_webhooks.py), not there
        client.list_tags_for_resource(resourceArn="arn:aws:codepipeline:us-east-1:123456789012:webhook:hook")
    with pytest.raises(client.exceptions.ClientError) as raised:  # not even CodePipeline's
        client.list_tags_for_resource(resourceArn="arn:aws:s3:::bucket")
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.tag_resource(resourceArn=ARN.format("ghost"), tags=[{"key": "a", "value": "1"}])
    with pytest.raises(client.exceptions.InvalidTagsException):
        client.tag_resource(resourceArn=arn, tags=[{"key": "aws:x", "value": "1"}])
