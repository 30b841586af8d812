"""Stop, retry, transitions, action history and idempotent starts through real boto3."""

from __future__ import annotations


import pytest

from tests.e2e import article_pipeline
from tests.e2e.waiting import action_of, settle, stage_of, wait_for
from tests.support.daemon import Daemon

pytestmark = pytest.mark.docker
PIPELINE = "svc-pipeline"


@pytest.fixture
def slow_daemon(tmp_path, service_repo, busybox_image):
    """The article's pipeline whose build takes a few seconds, to stop it while it runs."""
    definition = article_pipeline.service_pipeline(PIPELINE, service_repo, busybox_image)
    build = definition["projects"][f"{PIPELINE}-build"]["buildspec"]
    build["phases"]["build"]["commands"].insert(0, "sleep 4")
    article_pipeline.write(tmp_path / "pipelines", definition)
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    yield daemon
    daemon.stop()


def execution_status(client, execution_id: str) -> str:
    return client.get_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=execution_id)[
        "pipelineExecution"]["status"]


def building(client) -> bool:
    state = client.get_pipeline_state(name=PIPELINE)
    return action_of(state, "Building", "build").get("latestExecution", {}).get("status") == "InProgress"


def test_disabled_transition_holds_and_supersedes_then_enable_admits(article_daemon):
    client = article_daemon.client()
    client.disable_stage_transition(pipelineName=PIPELINE, stageName="StagingDEV", transitionType="Inbound",
                                    reason="Freeze for the demo")
    state = client.get_pipeline_state(name=PIPELINE)
    transition = stage_of(state, "StagingDEV")["inboundTransitionState"]
    assert transition["enabled"] is False and transition["disabledReason"] == "Freeze for the demo"
    assert transition["lastChangedBy"] == "arn:aws:iam::123456789012:user/testing"
    first = client.start_pipeline_execution(name=PIPELINE)["pipelineExecutionId"]
    state = settle(client, PIPELINE)
    assert stage_of(state, "StagingDEV")["inboundExecution"]["pipelineExecutionId"] == first
    second = client.start_pipeline_execution(name=PIPELINE)["pipelineExecutionId"]
    state = settle(client, PIPELINE)
    assert stage_of(state, "StagingDEV")["inboundExecution"]["pipelineExecutionId"] == second
    assert execution_status(client, first) == "Superseded"
    client.enable_stage_transition(pipelineName=PIPELINE, stageName="StagingDEV", transitionType="Inbound")
    state = settle(client, PIPELINE)
    dev = stage_of(state, "StagingDEV")
    assert dev["latestExecution"] == {"pipelineExecutionId": second, "status": "InProgress", "type": "STANDARD"}
    assert "inboundExecution" not in dev and dev["inboundTransitionState"]["enabled"] is True
    approval = action_of(state, "StagingDEV", "approve")
    commit = client.get_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=second)[
        "pipelineExecution"]["artifactRevisions"][0]["revisionId"]
    assert approval["latestExecution"]["summary"] == f"Review {commit}"
    assert approval["entityUrl"] == f"http://review.example.com/{second}"


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({"transitionType": "Outbound", "reason": "x"}, "ValidationException"),
        ({"transitionType": "Inbound", "reason": "no #hash"}, "ValidationException"),
        ({"transitionType": "Inbound", "reason": "x" * 301}, "ValidationException"),
        ({"transitionType": "Inbound", "reason": "ok", "stageName": "Nowhere"}, "StageNotFoundException"),
        ({"transitionType": "Inbound", "reason": "ok", "pipelineName": "nope"}, "PipelineNotFoundException"),
    ],
)
def test_transition_errors(article_daemon, kwargs, code):
    client = article_daemon.client()
    params = {"pipelineName": PIPELINE, "stageName": "StagingDEV", **kwargs}
    with pytest.raises(client.exceptions.ClientError) as raised:
        client.disable_stage_transition(**params)
    assert raised.value.response["Error"]["Code"] == code


def test_stop_and_wait_then_duplicate_and_not_stoppable(slow_daemon):
    client = slow_daemon.client()
    execution = client.start_pipeline_execution(name=PIPELINE)["pipelineExecutionId"]
    wait_for(lambda: building(client))
    client.stop_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=execution, reason="wrong branch")
    assert execution_status(client, execution) == "Stopping"
    with pytest.raises(client.exceptions.DuplicatedStopRequestException):
        client.stop_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=execution)
    wait_for(lambda: execution_status(client, execution) == "Stopped")
    state = client.get_pipeline_state(name=PIPELINE)
    assert action_of(state, "Building", "build")["latestExecution"]["status"] == "Succeeded"  # it finished
    assert stage_of(state, "Building")["latestExecution"]["status"] == "Stopped"
    assert "latestExecution" not in stage_of(state, "StagingDEV")  # nothing went on
    summary = client.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"][0]
    assert summary["stopTrigger"] == {"reason": "wrong branch"}
    with pytest.raises(client.exceptions.PipelineExecutionNotStoppableException):
        client.stop_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=execution, abandon=True)


def test_abandon_kills_the_container_and_retry_runs_it_again(slow_daemon, docker_client):
    client = slow_daemon.client()
    execution = client.start_pipeline_execution(name=PIPELINE)["pipelineExecutionId"]
    wait_for(lambda: building(client))
    abandoned = action_of(client.get_pipeline_state(name=PIPELINE), "Building", "build")["latestExecution"]
    client.stop_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=execution, abandon=True)
    assert execution_status(client, execution) == "Stopped"
    state = client.get_pipeline_state(name=PIPELINE)
    assert action_of(state, "Building", "build")["latestExecution"]["status"] == "Abandoned"
    wait_for(lambda: not docker_client.api.containers(  # summaries: no per-container inspect race
        all=True, filters={"label": f"pipemu.action-execution={abandoned['actionExecutionId']}"}), timeout=15)

    with pytest.raises(client.exceptions.StageNotRetryableException):
        client.retry_stage_execution(pipelineName=PIPELINE, stageName="Source", pipelineExecutionId=execution,
                                     retryMode="FAILED_ACTIONS")
    answer = client.retry_stage_execution(pipelineName=PIPELINE, stageName="Building",
                                          pipelineExecutionId=execution, retryMode="FAILED_ACTIONS")
    assert answer["pipelineExecutionId"] == execution
    state = settle(client, PIPELINE)
    assert stage_of(state, "Building")["latestExecution"] == {"pipelineExecutionId": execution, "status": "Succeeded", "type": "STANDARD"}
    assert stage_of(state, "StagingDEV")["latestExecution"]["status"] == "InProgress"

    history = client.list_action_executions(pipelineName=PIPELINE, filter={"pipelineExecutionId": execution})
    builds = [d for d in history["actionExecutionDetails"] if d["actionName"] == "build"]
    assert [d["status"] for d in builds] == ["Succeeded", "Abandoned"]  # newest first
    source = next(d for d in history["actionExecutionDetails"] if d["actionName"] == "source")
    assert source["output"]["outputVariables"]["BranchName"] == "main"
    approve = next(d for d in history["actionExecutionDetails"] if d["actionName"] == "approve")
    assert approve["input"]["configuration"]["CustomData"] == "Review #{SourceVariables.CommitId}"
    assert approve["input"]["resolvedConfiguration"]["CustomData"] == (
        "Review " + source["output"]["outputVariables"]["CommitId"])
    first_page = client.list_action_executions(pipelineName=PIPELINE, maxResults=2)
    assert len(first_page["actionExecutionDetails"]) == 2 and first_page["nextToken"]
    rest = client.list_action_executions(pipelineName=PIPELINE, maxResults=50, nextToken=first_page["nextToken"])
    assert len(first_page["actionExecutionDetails"]) + len(rest["actionExecutionDetails"]) == len(
        history["actionExecutionDetails"])


def test_retry_of_an_older_execution_is_not_latest(article_daemon):
    client = article_daemon.client()
    first = client.start_pipeline_execution(name=PIPELINE)["pipelineExecutionId"]
    state = settle(client, PIPELINE)
    token = action_of(state, "StagingDEV", "approve")["latestExecution"]["token"]
    client.put_approval_result(pipelineName=PIPELINE, stageName="StagingDEV", actionName="approve",
                               result={"summary": "no", "status": "Rejected"}, token=token)
    client.start_pipeline_execution(name=PIPELINE)
    settle(client, PIPELINE)
    with pytest.raises(client.exceptions.NotLatestPipelineExecutionException):
        client.retry_stage_execution(pipelineName=PIPELINE, stageName="StagingDEV", pipelineExecutionId=first,
                                     retryMode="ALL_ACTIONS")
    succeeded = client.list_pipeline_executions(pipelineName=PIPELINE, filter={"succeededInStage": {"stageName": "Building"}})
    assert len(succeeded["pipelineExecutionSummaries"]) == 2
    in_dev = client.list_pipeline_executions(pipelineName=PIPELINE, filter={"succeededInStage": {"stageName": "StagingDEV"}})
    assert in_dev["pipelineExecutionSummaries"] == []


@pytest.mark.both_protocols  # boto3 over JSON 1.1 and over Smithy RPC v2 CBOR
def test_list_pipeline_executions_pages_newest_first(article_daemon):
    client = article_daemon.client()
    started = [client.start_pipeline_execution(name=PIPELINE)["pipelineExecutionId"] for _ in range(5)]
    pages = list(client.get_paginator("list_pipeline_executions").paginate(
        pipelineName=PIPELINE, PaginationConfig={"PageSize": 2}))
    assert [len(p["pipelineExecutionSummaries"]) for p in pages] == [2, 2, 1]
    listed = [s["pipelineExecutionId"] for p in pages for s in p["pipelineExecutionSummaries"]]
    assert listed == started[::-1]
    assert "nextToken" not in pages[-1]
    with pytest.raises(client.exceptions.InvalidNextTokenException):
        client.list_pipeline_executions(pipelineName=PIPELINE, nextToken="bm90IGEgbnVtYmVy")  # "not a number"
    with pytest.raises(client.exceptions.InvalidNextTokenException):
        client.list_pipeline_executions(pipelineName=PIPELINE, nextToken="OTk5")  # 999: past the end
    settle(client, PIPELINE)


def test_client_request_token_makes_start_idempotent(article_daemon):
    client = article_daemon.client()
    one = client.start_pipeline_execution(name=PIPELINE, clientRequestToken="deploy-42")["pipelineExecutionId"]
    two = client.start_pipeline_execution(name=PIPELINE, clientRequestToken="deploy-42")["pipelineExecutionId"]
    three = client.start_pipeline_execution(name=PIPELINE, clientRequestToken="deploy-43")["pipelineExecutionId"]
    assert one == two != three
    assert len(client.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"]) == 2
