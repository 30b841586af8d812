"""The three CodePipeline events, derived where the service applies engine events: the sequence
AWS documents ("Monitoring CodePipeline events") for a run of the article's pipeline."""

from __future__ import annotations

import itertools

import pytest

from emulator.engine.events import ActionOutput, ArtifactOutput
from emulator.engine import ActionFailed, ActionSucceeded, PipelineDeclared, plan_from_declaration
from emulator.events.emit import ACTION_CHANGE, PIPELINE_CHANGE, STAGE_CHANGE
from emulator.service import CodePipeline
from emulator.store import Store
from tests.engine.harness import action, article_declaration


class HeldRunner:
    """Keeps every action running until the test reports its result."""

    def __init__(self):
        self.running = {}

    def submit(self, command, report):
        self.running[(command.stage, command.action.name)] = command

    def submit_rule(self, command, report):
        raise AssertionError("no rules here")

    def cancel(self, action_execution_id):
        pass

    def reap(self, keep):
        return []

    def remove_artifacts(self, execution_id):
        pass


class Bus:
    def __init__(self):
        self.events = []

    def publish(self, events):
        self.events.extend(events)


def brief(event):
    detail = event["detail"]
    kind = {PIPELINE_CHANGE: "pipeline", STAGE_CHANGE: "stage", ACTION_CHANGE: "action"}[event["detail-type"]]
    where = detail.get("action") or detail.get("stage") or detail["pipeline"]
    return f"{kind} {where} {detail['state']}"


@pytest.fixture
def service(tmp_path):
    clock = itertools.count(1_700_000_000)
    ids = (f"00000000-0000-4000-8000-{n:012d}" for n in itertools.count(1))
    runner = HeldRunner()
    svc = CodePipeline(Store(tmp_path / "state"), runner, clock=lambda: float(next(clock)), new_id=lambda: next(ids))
    svc.events = Bus()
    svc.test_runner = runner
    return svc


def declare(service, declaration):
    service.apply(PipelineDeclared(declaration["name"], 1, plan_from_declaration(declaration)))


def finish(service, stage, name, ok=True, message="it broke"):
    command = service.test_runner.running.pop((stage, name))
    if ok:
        artifacts = tuple(ArtifactOutput(n, f"artifacts/{command.execution_id}/{n}") for n in command.action.output_artifacts)
        service.report(ActionSucceeded(command.pipeline, command.execution_id, stage, name, command.action_execution_id,
                                       ActionOutput(artifacts=artifacts)))
    else:
        service.report(ActionFailed(command.pipeline, command.execution_id, stage, name,
                                    command.action_execution_id, message))


def approve(service, stage, status="Approved"):
    with service.lock:
        pipeline = service.engine.pipelines["svc-pipeline"]
        token = next(t for t, (_, s, _) in pipeline.tokens.items() if s == stage)
    service.put_approval_result({"pipelineName": "svc-pipeline", "stageName": stage, "actionName": "approve",
                                 "result": {"summary": "ok", "status": status}, "token": token})


def test_a_run_of_the_article_pipeline_emits_what_aws_documents(service):
    declare(service, article_declaration())
    assert service.events.events == []  # declaring a pipeline is no execution state change
    service.start_pipeline_execution({"name": "svc-pipeline"})
    finish(service, "Source", "source")
    finish(service, "Building", "build")
    finish(service, "StagingDEV", "stage")
    finish(service, "StagingDEV", "test")
    approve(service, "StagingDEV")
    assert [brief(e) for e in service.events.events] == [
        "pipeline svc-pipeline STARTED",
        "stage Source STARTED", "action source STARTED",
        "action source SUCCEEDED", "stage Source SUCCEEDED",
        "stage Building STARTED", "action build STARTED",
        "action build SUCCEEDED", "stage Building SUCCEEDED",
        "stage StagingDEV STARTED", "action stage STARTED",
        "action stage SUCCEEDED", "action test STARTED",
        "action test SUCCEEDED", "action approve STARTED",
        "action approve SUCCEEDED", "stage StagingDEV SUCCEEDED",
        "stage StagingQA STARTED", "action stage STARTED",
    ]
    service.events.events.clear()
    finish(service, "StagingQA", "stage")
    approve(service, "StagingQA", "Rejected")
    assert [brief(e) for e in service.events.events] == [
        "action stage SUCCEEDED", "action approve STARTED",
        "action approve FAILED", "stage StagingQA FAILED", "pipeline svc-pipeline FAILED",
    ]


def test_the_envelope_and_detail_fields_are_aws_s(service):
    declare(service, article_declaration())
    started = service.start_pipeline_execution({"name": "svc-pipeline"})["pipelineExecutionId"]
    finish(service, "Source", "source", ok=False, message="no such branch")
    first, *_, last = service.events.events
    assert set(first) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
    assert first["version"] == "0" and first["source"] == "aws.codepipeline" and first["account"] == "123456789012"
    assert first["resources"] == ["arn:aws:codepipeline:us-east-1:123456789012:svc-pipeline"]
    assert first["time"].endswith("Z") and "T" in first["time"]
    assert first["detail"]["execution-trigger"] == {"trigger-type": "StartPipelineExecution", "trigger-detail": "pipemu"}
    assert first["detail"]["execution-id"] == started
    assert first["detail"]["version"] == 1.0 and first["detail"]["pipeline-execution-attempt"] == 1.0
    assert first["detail"]["start-time"].endswith(".000Z")
    failed_action = next(e for e in service.events.events
                         if e["detail-type"] == ACTION_CHANGE and e["detail"]["state"] == "FAILED")
    assert failed_action["detail"]["type"] == {"owner": "AWS", "provider": "CodeCommit", "category": "Source",
                                               "version": "1"}
    assert failed_action["detail"]["execution-result"]["error-code"] == "JobFailed"
    assert failed_action["detail"]["execution-result"]["external-execution-summary"] == "no such branch"
    assert failed_action["detail"]["region"] == "us-east-1" and failed_action["detail"]["stage"] == "Source"
    assert brief(last) == "pipeline svc-pipeline FAILED"
    assert len({e["id"] for e in service.events.events}) == len(service.events.events)  # each its own id


def test_a_retry_resumes_the_pipeline_and_the_stage(service):
    declare(service, article_declaration())
    execution = service.start_pipeline_execution({"name": "svc-pipeline"})["pipelineExecutionId"]
    finish(service, "Source", "source")
    finish(service, "Building", "build", ok=False)
    service.events.events.clear()
    service.retry_stage_execution({"pipelineName": "svc-pipeline", "stageName": "Building",
                                   "pipelineExecutionId": execution, "retryMode": "FAILED_ACTIONS"})
    assert [brief(e) for e in service.events.events] == [
        "pipeline svc-pipeline RESUMED", "stage Building RESUMED", "action build STARTED"]
    resumed = service.events.events[1]["detail"]
    assert resumed["pipeline-execution-attempt"] == 2.0 and "stage-last-retry-attempt-time" in resumed


def test_a_stop_says_stopping_then_stopped_and_abandon_abandons_the_action(service):
    declare(service, article_declaration())
    execution = service.start_pipeline_execution({"name": "svc-pipeline"})["pipelineExecutionId"]
    finish(service, "Source", "source")
    service.events.events.clear()
    service.stop_pipeline_execution({"pipelineName": "svc-pipeline", "pipelineExecutionId": execution,
                                     "abandon": True, "reason": "wrong commit"})
    states = [brief(e) for e in service.events.events]
    assert states[0] == "pipeline svc-pipeline STOPPING"
    assert service.events.events[0]["detail"]["stop-execution-comments"] == "wrong commit"
    assert "action build ABANDONED" in states
    assert states[-1] == "pipeline svc-pipeline STOPPED"


def test_a_newer_execution_supersedes_one_waiting_at_a_stage(service):
    declare(service, {"name": "svc-pipeline", "stages": [
        {"name": "Source", "actions": [action("source", "Source", "CodeCommit", outputs=["src"])]},
        {"name": "Build", "actions": [action("build", inputs=["src"])]}]})
    service.start_pipeline_execution({"name": "svc-pipeline"})
    finish(service, "Source", "source")  # the first one builds
    second = service.start_pipeline_execution({"name": "svc-pipeline"})["pipelineExecutionId"]
    finish(service, "Source", "source")  # waits at Build
    third = service.start_pipeline_execution({"name": "svc-pipeline"})["pipelineExecutionId"]
    service.events.events.clear()
    finish(service, "Source", "source")  # waits at Build too: the second is superseded
    superseded = [e for e in service.events.events if e["detail"]["state"] == "SUPERSEDED"]
    assert [e["detail"]["execution-id"] for e in superseded] == [second]
    assert superseded[0]["detail-type"] == PIPELINE_CHANGE
    assert third != second


def test_without_a_bus_nothing_is_derived(service):
    service.events = None
    declare(service, article_declaration())
    service.start_pipeline_execution({"name": "svc-pipeline"})  # no error, nothing to look at


def test_a_pipeline_update_cancels_what_runs_of_the_older_version(service):
    declaration = {"name": "svc-pipeline", "stages": [
        {"name": "Source", "actions": [action("source", "Source", "CodeCommit", outputs=["src"])]},
        {"name": "Build", "actions": [action("build", inputs=["src"])]}]}
    declare(service, declaration)
    execution = service.start_pipeline_execution({"name": "svc-pipeline"})["pipelineExecutionId"]
    finish(service, "Source", "source")
    service.events.events.clear()
    changed = {**declaration, "stages": [*declaration["stages"][:1], {"name": "Build", "actions": [
        action("build", inputs=["src"]), action("lint", "Test", inputs=["src"])]}]}
    service.apply(PipelineDeclared("svc-pipeline", 2, plan_from_declaration(changed)))
    finish(service, "Build", "build")  # the running action ends: then the execution is cancelled
    states = [brief(e) for e in service.events.events]
    assert states[-2:] == ["stage Build CANCELED", "pipeline svc-pipeline CANCELED"], states
    assert service.events.events[-1]["detail"]["execution-id"] == execution


def test_an_open_approval_of_an_updated_pipeline_is_canceled(service):
    declare(service, article_declaration())
    service.start_pipeline_execution({"name": "svc-pipeline"})
    for stage, name in (("Source", "source"), ("Building", "build"), ("StagingDEV", "stage"), ("StagingDEV", "test")):
        finish(service, stage, name)
    service.events.events.clear()
    changed = article_declaration()
    changed["stages"][-1]["actions"][0]["runOrder"] = 2
    service.apply(PipelineDeclared("svc-pipeline", 2, plan_from_declaration(changed)))
    assert [brief(e) for e in service.events.events] == [
        "action approve CANCELED", "stage StagingDEV CANCELED", "pipeline svc-pipeline CANCELED"]
