"""CreatePipeline, UpdatePipeline, DeletePipeline and tags, through real boto3; API pipelines
live in the state folder and survive a restart; a file's pipeline stays the file's."""

from __future__ import annotations

import copy

import pytest

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
        (lambda d: d["stages"].pop(), "InvalidStructureException", "at least 2 stages"),
        (lambda d: d["stages"][1]["actions"][0].update(actionTypeId={
            "category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
            configuration={"ProjectName": "nope"}, inputArtifacts=[{"name": "src"}]),
         "InvalidActionDeclarationException", "nope"),
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
    with pytest.raises(client.exceptions.PipelineNotFoundException):
        client.update_pipeline(pipeline=declaration("never-created"))


def test_tags(article_daemon):
    client = article_daemon.client()
    arn = ARN.format(FILE_PIPELINE)
    client.tag_resource(resourceArn=arn, tags=[{"key": "b", "value": "2"}, {"key": "a", "value": "1"}])
    client.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "one"}])
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "a", "value": "one"}, {"key": "b", "value": "2"}]
    client.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "b", "value": "2"}]
    with pytest.raises(client.exceptions.InvalidArnException):  # a CodePipeline ARN, not a pipeline's
        client.list_tags_for_resource(resourceArn="arn:aws:codepipeline:us-east-1:123456789012:webhook:hook")
    with pytest.raises(client.exceptions.ClientError) as raised:  # not even CodePipeline's
        client.list_tags_for_resource(resourceArn="arn:aws:s3:::bucket")
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.tag_resource(resourceArn=ARN.format("ghost"), tags=[{"key": "a", "value": "1"}])
    with pytest.raises(client.exceptions.InvalidTagsException):
        client.tag_resource(resourceArn=arn, tags=[{"key": "aws:x", "value": "1"}])
