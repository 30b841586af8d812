"""Table-driven tests of the engine's rules, with the fake runner (no I/O)."""

from __future__ import annotations

import pytest

from emulator.engine import (
    ActionSucceeded,
    ApprovalResultSubmitted,
    ActionTimedOut,
    AwaitApproval,
    EngineError,
    ExecutionStarted,
    PipelineDeclared,
    RunAction,
    plan_from_declaration,
)
from tests.engine.harness import Harness, action, approval, article_declaration


def two_stage(*second_stage_actions, mode="SUPERSEDED", **extra):
    return {
        "name": "p",
        "executionMode": mode,
        "stages": [
            {"name": "Source", "actions": [action("source", "Source", "CodeCommit", outputs=["src"],
                                                  namespace="SourceVariables")]},
            {"name": "Work", "actions": list(second_stage_actions)},
        ],
        **extra,
    }


@pytest.mark.parametrize(
    "stage, action_name, token, code",
    [
        ("Nowhere", "approve", None, "StageNotFoundException"),
        ("StagingDEV", "missing", None, "ActionNotFoundException"),
        ("StagingDEV", "stage", None, "ActionNotFoundException"),  # exists, but not an approval
        ("StagingDEV", "approve", "not-a-token", "InvalidApprovalTokenException"),
        ("StagingQA", "approve", None, "InvalidApprovalTokenException"),  # DEV's token, QA's action
    ],
)
def test_approval_refusals_leave_state_unchanged(stage, action_name, token, code):
    harness = Harness(article_declaration())
    harness.start("c1")
    before = repr(harness.pipeline)
    token = token or harness.token("c1", "StagingDEV")
    with pytest.raises(EngineError) as raised:
        harness.send(ApprovalResultSubmitted("svc-pipeline", stage, action_name, token, "Approved"))
    assert raised.value.code == code
    assert repr(harness.pipeline) == before


def test_used_token_is_already_completed_and_fresh_tokens_per_action_execution():
    harness = Harness(article_declaration())
    harness.start("c1")
    first = harness.token("c1", "StagingDEV")
    harness.answer("c1", "StagingDEV", "Approved")
    with pytest.raises(EngineError) as raised:
        harness.send(ApprovalResultSubmitted("svc-pipeline", "StagingDEV", "approve", first, "Approved"))
    assert raised.value.code == "ApprovalAlreadyCompletedException"
    harness.start("c2")
    assert harness.token("c2", "StagingDEV") not in (first, None)


@pytest.mark.parametrize(
    "failing, final, dev_status",
    [
        ({("StagingDEV", "stage")}, "Failed", "Failed"),
        ({("StagingDEV", "test")}, "Failed", "Failed"),
        ({("Building", "build")}, "Failed", None),
        (set(), "InProgress", "InProgress"),
    ],
)
def test_a_failed_action_fails_stage_and_execution_and_releases_the_stage(failing, final, dev_status):
    harness = Harness(article_declaration())
    harness.failing = failing
    harness.start("c1")
    assert harness.execution("c1").status == final
    assert harness.latest("StagingDEV")[1] == dev_status
    harness.failing = set()
    harness.start("c2")
    if final == "Failed":  # the failed one holds nothing: c2 goes straight in
        assert harness.latest("StagingDEV") == ("c2", "InProgress")
    else:  # c1 holds DEV at its approval: c2 waits at the entrance
        assert harness.pipeline.slots["StagingDEV"].waiting == ["c2"]


def test_actions_with_one_run_order_run_together_and_the_next_waits_for_all():
    harness = Harness(two_stage(action("a", inputs=["src"]), action("b", inputs=["src"]),
                                action("c", run_order=2)), auto_run=False)
    harness.start("c1")
    harness.finish(harness.pending[0])  # source
    assert sorted(c.action.name for c in harness.pending) == ["a", "b"]
    harness.finish(next(c for c in harness.pending if c.action.name == "a"))
    assert [c.action.name for c in harness.pending] == ["b"]
    harness.finish(harness.pending[0])
    assert [c.action.name for c in harness.pending] == ["c"]


def test_a_failure_in_a_parallel_group_waits_for_the_others_then_fails():
    harness = Harness(two_stage(action("a"), action("b"), action("c", run_order=2)), auto_run=False)
    harness.start("c1")
    harness.finish(harness.pending[0])
    harness.finish(next(c for c in harness.pending if c.action.name == "a"), succeed=False)
    assert harness.execution("c1").status == "InProgress"
    harness.finish(harness.pending[0])
    assert harness.execution("c1").status == "Failed"
    assert "Work.a: it failed" == harness.execution("c1").status_summary


def test_variables_resolve_into_configuration():
    harness = Harness(two_stage(
        action("a", configuration={"Id": "#{codepipeline.PipelineExecutionId}", "Env": "#{variables.env}",
                                   "Commit": "#{SourceVariables.CommitId}"}),
        variables=[{"name": "env", "defaultValue": "dev"}],
    ), auto_run=False)
    harness.start("c1", variables=(("env", "qa"),), source_revisions=(("source", "abc123"),))
    source = harness.pending[0]
    assert source.source_revision == "abc123"
    harness.finish(source)
    assert dict(harness.pending[0].configuration) == {"Id": "c1", "Env": "qa", "Commit": "abc123"}


def test_an_unresolvable_variable_fails_the_action():
    harness = Harness(two_stage(action("a", configuration={"X": "#{Nope.Key}"})))
    harness.start("c1")
    run = harness.execution("c1").stage_runs["Work"].actions["a"]
    assert (run.status, run.error_message) == ("Failed", "unable to resolve variable #{Nope.Key}")
    assert harness.execution("c1").status == "Failed"


@pytest.mark.parametrize(
    "event, message",
    [
        (ExecutionStarted("p", "c2", variables=(("undeclared", "x"),)), "undeclared"),
        (ExecutionStarted("p", "c2", source_revisions=(("nosuch", "x"),)), "nosuch"),
        (ExecutionStarted("p", "c1"), "already exists"),
        (ExecutionStarted("other", "c9"), "not found"),
        (ActionSucceeded("p", "c1", "Work", "a", "id-wrong"), "not the current"),
    ],
)
def test_illegal_events_are_refused_with_a_reason(event, message):
    harness = Harness(two_stage(action("a")), auto_run=False)
    harness.start("c1")
    before = repr(harness.pipeline)
    with pytest.raises(EngineError) as raised:
        harness.send(event)
    assert message in raised.value.message
    assert repr(harness.pipeline) == before


def test_approval_timeout_fails_the_action_and_a_late_timer_is_ignored():
    harness = Harness(two_stage(approval(timeoutInMinutes=5)))
    commands = harness.start("c1")
    opened = next(c for c in harness.commands if isinstance(c, AwaitApproval))
    assert opened.expires_at == harness.execution("c1").stage_runs["Work"].actions["approve"].start_time + 300
    harness.send(ActionTimedOut("p", "c1", "Work", "approve", opened.action_execution_id))
    run = harness.execution("c1").stage_runs["Work"].actions["approve"]
    assert (run.status, run.error_message) == ("Failed", "Approval timed out")
    assert harness.execution("c1").status == "Failed"
    assert harness.send(ActionTimedOut("p", "c1", "Work", "approve", opened.action_execution_id)) == []
    assert [type(c).__name__ for c in commands] == ["RunAction"]  # the start ran the source


def test_default_approval_timeout_is_seven_days():
    harness = Harness(two_stage(approval()))
    harness.start("c1")
    run = harness.execution("c1").stage_runs["Work"].actions["approve"]
    assert run.expires_at - run.start_time == 7 * 24 * 3600


def test_an_update_cancels_in_flight_executions_after_their_running_actions():
    harness = Harness(two_stage(action("slow"), approval(run_order=2)), auto_run=False)
    harness.start("c1")
    harness.finish(harness.pending[0])  # source; c1 now runs "slow" in Work
    harness.start("c2")
    harness.finish(next(c for c in harness.pending if c.execution_id == "c2"))  # c2 waits at Work
    assert harness.execution("c2").waiting_at == "Work"
    harness.send(PipelineDeclared("p", 2, plan_from_declaration(two_stage(action("slow"), action("z", run_order=2)))))
    assert harness.execution("c2").status == "Cancelled"  # waiting: at once
    assert harness.execution("c1").status == "InProgress"  # inside: its action runs on
    harness.finish(harness.pending[0])
    assert harness.execution("c1").status == "Cancelled"
    assert harness.execution("c1").stage_runs["Work"].status == "Cancelled"
    assert harness.pending == []  # the approval of version 1 never opened
    harness.start("c3")
    assert harness.execution("c3").pipeline_version == 2
    assert harness.pipeline.slots["Work"].inside == []  # c3 is in Source, Work is free


def test_pending_commands_rebuild_what_is_in_progress():
    harness = Harness(article_declaration(), auto_run=False)
    harness.start("c1")
    harness.finish(harness.pending[0])
    pending = harness.engine.pending_commands()
    assert [type(c) for c in pending] == [RunAction]
    assert pending == harness.pending


def test_an_update_abandons_open_approvals_so_the_stage_is_released_at_once():
    harness = Harness(two_stage(approval("review")))
    harness.start("c1")
    token = harness.token("c1", "Work", "review")
    harness.send(PipelineDeclared("p", 2, plan_from_declaration(two_stage(approval("sign-off")))))
    assert harness.execution("c1").status == "Cancelled"
    assert harness.execution("c1").stage_runs["Work"].actions["review"].status == "Abandoned"
    assert harness.pipeline.slots["Work"].inside == []
    # The old token is judged against the version that issued it: its approval is over.
    with pytest.raises(EngineError) as raised:
        harness.send(ApprovalResultSubmitted("p", "Work", "review", token, "Approved"))
    assert raised.value.code == "ApprovalAlreadyCompletedException"


def test_an_approval_beside_a_failed_action_is_abandoned():
    harness = Harness(two_stage(action("a"), approval()), auto_run=False)
    harness.start("c1")
    harness.finish(harness.pending[0])
    harness.finish(harness.pending[0], succeed=False)  # "a" fails; the approval was open beside it
    run = harness.execution("c1").stage_runs["Work"].actions["approve"]
    assert run.status == "Abandoned"
    assert harness.execution("c1").status == "Failed"
    assert harness.pipeline.slots["Work"].inside == []


def test_lambda_jobs_continue_succeed_fail_and_time_out():
    from emulator.engine import JobFailed, JobSucceeded
    from emulator.engine.events import ActionOutput

    invoke = action("release", "Invoke", "Lambda", namespace="Release", timeoutInMinutes=2)
    harness = Harness(two_stage(invoke), auto_run=False)
    harness.start("c1")
    harness.finish(harness.pending.pop(0))
    harness.pending.clear()
    [first] = [c for c in harness.commands if isinstance(c, RunAction) and c.action.name == "release"]
    assert first.job_id and first.expires_at == harness.execution("c1").stage_runs["Work"].actions["release"].start_time + 120
    commands = harness.send(JobSucceeded(first.job_id, continuation_token="page-2"))
    [again] = [c for c in commands if isinstance(c, RunAction)]
    assert (again.action_execution_id, again.continuation_token) == (first.action_execution_id, "page-2")
    assert again.job_id != first.job_id
    for stale in (JobSucceeded(first.job_id), JobFailed(first.job_id, "late")):
        with pytest.raises(EngineError) as raised:
            harness.send(stale)
        assert raised.value.code == "InvalidJobStateException"
    with pytest.raises(EngineError) as raised:
        harness.send(JobSucceeded("no-such-job"))
    assert raised.value.code == "JobNotFoundException"
    harness.send(JobSucceeded(again.job_id, ActionOutput(output_variables=(("approved", "2"),))))
    assert harness.execution("c1").status == "Succeeded"
    assert harness.execution("c1").namespaces["Release"] == {"approved": "2"}

    harness.pending.clear()  # the fake runner never runs jobs: the function reports instead
    harness.start("c2")
    harness.finish(harness.pending.pop(0))
    job = harness.execution("c2").stage_runs["Work"].actions["release"].job_id
    harness.send(JobFailed(job, "boom", "JobFailed"))
    assert harness.execution("c2").status_summary == "Work.release: boom"

    harness.pending.clear()
    harness.start("c3")
    harness.finish(harness.pending.pop(0))
    run = harness.execution("c3").stage_runs["Work"].actions["release"]
    harness.send(ActionTimedOut("p", "c3", "Work", "release", run.action_execution_id))
    assert (run.status, run.error_message) == ("Failed", "Action timed out: the job reported no result in time")


def test_custom_and_partner_actions_are_jobs_that_wait_24_hours():
    """A Custom action, and a ThirdParty one pipemu does not carry out itself, open a job (its
    worker polls for it) that times out after AWS's 24 hours for custom actions unless the action
    says otherwise; GitHub (version 1) stays a source pipemu runs."""
    custom = action("scan", "Test", "Scanner")
    custom["actionTypeId"]["owner"] = "Custom"
    partner = action("review", "Test", "Reviewer", run_order=2, timeoutInMinutes=30)
    partner["actionTypeId"]["owner"] = "ThirdParty"
    harness = Harness(two_stage(custom, partner), auto_run=False)
    harness.start("c1")
    harness.finish(harness.pending.pop(0))
    [scan] = [c for c in harness.commands if isinstance(c, RunAction) and c.action.name == "scan"]
    run = harness.execution("c1").stage_runs["Work"].actions["scan"]
    assert scan.action.is_worker_job and scan.job_id and scan.expires_at == run.start_time + 24 * 60 * 60
    from emulator.engine import JobSucceeded, plan_from_declaration

    harness.send(JobSucceeded(scan.job_id))
    [review] = [c for c in harness.commands if isinstance(c, RunAction) and c.action.name == "review"]
    assert review.action.is_worker_job and review.expires_at == review_start(harness) + 30 * 60
    github = plan_from_declaration({"name": "g", "stages": [{"name": "S", "actions": [
        {"name": "s", "actionTypeId": {"category": "Source", "owner": "ThirdParty", "provider": "GitHub",
                                       "version": "1"}}]}]}).stages[0].actions[0]
    assert not github.is_job


def review_start(harness) -> float:
    return harness.execution("c1").stage_runs["Work"].actions["review"].start_time
