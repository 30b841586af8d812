"""AWS's errors through real boto3 (and raw JSON 1.1 for what boto3 refuses to send)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.waiting import settle

pytestmark = pytest.mark.docker
PIPELINE = "svc-pipeline"


@pytest.fixture
def waiting_approval(article_daemon):
    client = article_daemon.client()
    execution = client.start_pipeline_execution(name=PIPELINE)["pipelineExecutionId"]
    state = settle(client, PIPELINE)
    dev = next(s for s in state["stageStates"] if s["stageName"] == "StagingDEV")
    token = next(a for a in dev["actionStates"] if a["actionName"] == "approve")["latestExecution"]["token"]
    return client, execution, token


def approve(client, token, stage="StagingDEV", action="approve", pipeline=PIPELINE, status="Approved"):
    return client.put_approval_result(
        pipelineName=pipeline, stageName=stage, actionName=action,
        result={"summary": "ok", "status": status}, token=token,
    )


@pytest.mark.parametrize(
    "kwargs, code, words",
    [
        ({"pipeline": "nope"}, "PipelineNotFoundException", "nope"),
        ({"stage": "Nowhere"}, "StageNotFoundException", "Nowhere"),
        ({"action": "stage"}, "ActionNotFoundException", "stage"),
        ({"stage": "StagingQA"}, "InvalidApprovalTokenException", "StagingQA"),
    ],
)
def test_put_approval_result_errors(waiting_approval, kwargs, code, words):
    client, _, token = waiting_approval
    with pytest.raises(client.exceptions.ClientError) as raised:
        approve(client, token, **kwargs)
    error = raised.value.response["Error"]
    assert error["Code"] == code
    assert words in error["Message"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_wrong_token_and_used_token(waiting_approval):
    client, execution, token = waiting_approval
    with pytest.raises(client.exceptions.InvalidApprovalTokenException):
        approve(client, "00000000-0000-0000-0000-000000000000")
    assert "approvedAt" in approve(client, token, status="Rejected")
    with pytest.raises(client.exceptions.ApprovalAlreadyCompletedException):
        approve(client, token)
    execution = client.get_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=execution)
    assert execution["pipelineExecution"]["status"] == "Failed"
    state = client.get_pipeline_state(name=PIPELINE)
    dev = next(s for s in state["stageStates"] if s["stageName"] == "StagingDEV")
    approval = next(a for a in dev["actionStates"] if a["actionName"] == "approve")["latestExecution"]
    assert approval["status"] == "Failed" and "token" not in approval
    assert approval["lastUpdatedBy"] == "arn:aws:iam::123456789012:user/testing"


def test_not_found_errors(article_daemon):
    client = article_daemon.client()
    for call in (
        lambda: client.get_pipeline(name="missing"),
        lambda: client.get_pipeline_state(name="missing"),
        lambda: client.start_pipeline_execution(name="missing"),
        lambda: client.list_pipeline_executions(pipelineName="missing"),
    ):
        with pytest.raises(client.exceptions.PipelineNotFoundException):
            call()
    with pytest.raises(client.exceptions.PipelineExecutionNotFoundException):
        client.get_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId="4b1c4e9e-1111-2222-3333-444455556666")
    with pytest.raises(client.exceptions.PipelineVersionNotFoundException):
        client.get_pipeline(name=PIPELINE, version=7)


@pytest.mark.parametrize(
    "operation, body, code, words",
    [
        ("GetPipelineState", "{not json", "SerializationException", "not valid JSON"),
        ("GetPipelineState", "{}", "ValidationException", "'name'"),
        ("GetPipelineState", '{"name": 5}', "ValidationException", "name"),
        ("GetPipelineState", '{"name": "a b"}', "ValidationException", "pattern"),
        ("PutApprovalResult", json.dumps({"pipelineName": PIPELINE, "stageName": "StagingDEV",
         "actionName": "approve", "token": "x", "result": {"summary": "s", "status": "Maybe"}}),
         "ValidationException", "Approved"),
        ("ListPipelines", '{"maxResults": 0}', "ValidationException", "maxResults"),
        ("ListPipelines", '{"bogus": 1}', "ValidationException", "bogus"),
        ("DeleteCustomActionType", "{}", "UnknownOperationException", "not supported"),
        ("NoSuchThing", "{}", "UnknownOperationException", "NoSuchThing"),
    ],
)
def test_bad_requests_are_400_with_aws_error(article_daemon, operation, body, code, words):
    status, answer = article_daemon.post(operation, body)
    assert status == 400
    assert answer["__type"] == code
    assert words in answer["message"]
    assert article_daemon.health()["status"] == "ok"


def test_list_pipelines_and_get_pipeline(article_daemon):
    client = article_daemon.client()
    pipelines = client.list_pipelines()["pipelines"]
    assert [(p["name"], p["version"], p["executionMode"]) for p in pipelines] == [(PIPELINE, 1, "SUPERSEDED")]
    pipeline = client.get_pipeline(name=PIPELINE)
    assert [s["name"] for s in pipeline["pipeline"]["stages"]] == [
        "Source", "Building", "StagingDEV", "StagingQA", "StagingPROD"]
    assert pipeline["metadata"]["pipelineArn"] == f"arn:aws:codepipeline:us-east-1:123456789012:{PIPELINE}"
    # Nothing started by itself: the source says PollForSourceChanges "false".
    assert client.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"] == []
