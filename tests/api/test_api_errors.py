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


@pytest.mark.both_protocols  # boto3 over JSON 1.1 and over Smithy RPC v2 CBOR
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


@pytest.mark.both_protocols  # boto3 over JSON 1.1 and over Smithy RPC v2 CBOR
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
        ("DeleteCustomActionType", "{}", "ValidationException", "category"),
        ("NoSuchThing", "{}", "UnknownOperationException", "NoSuchThing"),
    ],
)
def test_bad_requests_are_400_with_aws_error(article_daemon, operation, body, code, words):
    status, answer = article_daemon.post(operation, body)
    assert status == 400
    assert answer["__type"] == code
    assert words in answer["message"]
    assert article_daemon.health()["status"] == "ok"


@pytest.mark.both_protocols  # boto3 over JSON 1.1 and over Smithy RPC v2 CBOR
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


@pytest.mark.parametrize("depth", [70, 500, 100_000])
def test_deep_nesting_is_a_serialization_exception(article_daemon, depth):
    for operation, body in (("CreatePipeline", '{"pipeline":' + '{"a":' * depth + "1" + "}" * depth + "}"),
                            ("GetPipeline", '{"name":' + "[" * depth + "]" * depth + "}")):
        status, answer = article_daemon.post(operation, body)
        assert (status, answer["__type"]) == (400, "SerializationException"), answer
    assert article_daemon.health()["status"] == "ok"
    assert "Traceback" not in article_daemon.log()


def test_a_body_over_the_limit_is_refused_by_its_length_before_it_is_read(tmp_path):
    """50 MB announced, a few bytes sent: the answer comes at once (nothing waits for the rest),
    and before authentication (the daemon has credentials; the request is not signed)."""
    import socket

    from tests.support.daemon import Daemon

    (tmp_path / "pipelines").mkdir()
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state",
                    env={"PIPEMU_ACCESS_KEY": "AKID", "PIPEMU_SECRET_KEY": "secret"}).start()
    try:
        with socket.create_connection(("127.0.0.1", daemon.port), timeout=5) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
                         b"X-Amz-Target: CodePipeline_20150709.CreatePipeline\r\nContent-Length: 52428800\r\n\r\n{\"pip")
            answer = b""
            while b'"}' not in answer:  # the JSON body may come in a packet of its own
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
            answer = answer.decode()
        assert answer.startswith("HTTP/1.1 413"), answer
        assert '"__type":"RequestEntityTooLargeException"' in answer
    finally:
        daemon.stop()
