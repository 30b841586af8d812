"""Stage conditions, automatic retry and rollback in the pure engine (fake runner, no I/O):
each condition's results in each execution mode, table-driven."""

from __future__ import annotations

import pytest

from emulator.engine import (
    CancelAction,
    ConditionOverridden,
    EngineError,
    ExecutionStopRequested,
    PipelineDeclared,
    PipelineDeleted,
    RollbackRequested,
    RunAction,
    StageRetryRequested,
    StageTransitionChanged,
    plan_from_declaration,
)
from tests.engine.harness import Harness, action, replayed


def rule(name: str, provider: str = "VariableCheck", **configuration) -> dict:
    return {"name": name, "ruleTypeId": {"category": "Rule", "owner": "AWS", "provider": provider, "version": "1"},
            "configuration": configuration or {"Variable": "#{SourceVariables.CommitId}", "Value": "x",
                                               "Operator": "NE"}}


def pipeline(mode: str = "SUPERSEDED", **prod_conditions) -> dict:
    """Source -> Build -> Prod (deploy, then smoke) -> After; Prod carries the conditions."""
    return {
        "name": "p",
        "pipelineType": "V2",
        "executionMode": mode,
        "stages": [
            {"name": "Source", "actions": [action("source", "Source", "CodeCommit", outputs=["src"],
                                                  namespace="SourceVariables")]},
            {"name": "Build", "actions": [action("build", inputs=["src"], outputs=["bin"])]},
            {"name": "Prod", "actions": [action("deploy", "Deploy", inputs=["bin"]),
                                         action("smoke", "Test", run_order=2, inputs=["bin"])],
             **prod_conditions},
            {"name": "After", "actions": [action("note", inputs=["bin"])]},
        ],
    }


def before_entry(result: str, *rules) -> dict:
    return {"beforeEntry": {"conditions": [{"result": result, "rules": list(rules) or [rule("check")]}]}}


def on_success(result: str, *rules) -> dict:
    return {"onSuccess": {"conditions": [{"result": result, "rules": list(rules) or [rule("check")]}]}}


def ran(harness: Harness, execution_id: str, stage: str) -> list[str]:
    return [c.action.name for c in harness.commands
            if isinstance(c, RunAction) and c.execution_id == execution_id and c.stage == stage]


@pytest.mark.parametrize(
    "conditions, failing_rules, prod, execution, after_ran",
    [
        (before_entry("FAIL"), set(), "Succeeded", "Succeeded", True),
        (before_entry("FAIL"), {("Prod", "check")}, "Failed", "Failed", False),
        (before_entry("SKIP"), {("Prod", "check")}, "Skipped", "Succeeded", True),
        (on_success("FAIL"), set(), "Succeeded", "Succeeded", True),
        (on_success("FAIL"), {("Prod", "check")}, "Failed", "Failed", False),
        (on_success("ROLLBACK"), {("Prod", "check")}, "Failed", "Failed", False),  # nothing to roll back to
    ],
)
def test_a_conditions_result_engages_when_its_rules_are_not_met(conditions, failing_rules, prod, execution, after_ran):
    harness = Harness(pipeline(**conditions))
    harness.failing_rules = failing_rules
    harness.start("c1")
    c1 = harness.execution("c1")
    assert (c1.stage_runs["Prod"].status, c1.status) == (prod, execution)
    assert ("After" in c1.stage_runs) == after_ran
    kind = next(iter(c1.stage_runs["Prod"].conditions))
    condition = c1.stage_runs["Prod"].conditions[kind]
    assert condition.status == ("Failed" if failing_rules else "Succeeded")
    assert [r.status for r in condition.rules.values()] == ["Failed" if failing_rules else "Succeeded"]
    if kind == "BEFORE_ENTRY" and failing_rules:
        assert ran(harness, "c1", "Prod") == []  # no action ran inside
        assert "entry condition not met: rule check failed" in (c1.status_summary or "") or prod == "Skipped"


def test_rules_run_in_order_and_the_first_that_fails_ends_the_condition():
    harness = Harness(pipeline(**before_entry("FAIL", rule("first"), rule("second"), rule("third"))))
    harness.failing_rules = {("Prod", "second")}
    harness.start("c1")
    assert [c.rule.name for c in harness.rule_commands("Prod")] == ["first", "second"]
    rules = harness.execution("c1").stage_runs["Prod"].conditions["BEFORE_ENTRY"].rules
    assert {name: r.status for name, r in rules.items()} == {"first": "Succeeded", "second": "Failed"}


def test_a_variable_in_a_rules_configuration_is_resolved_and_an_unresolvable_one_fails_the_rule():
    harness = Harness(pipeline(**before_entry("FAIL", rule("check", Variable="#{SourceVariables.CommitId}",
                                                           Value="c1", Operator="EQ"),
                                              rule("broken", Variable="#{Nowhere.X}", Value="", Operator="EQ"))))
    harness.start("c1", source_revisions=(("source", "abc123"),))
    first = harness.rule_commands("Prod")[0]
    assert dict(first.configuration)["Variable"] == "abc123"
    rules = harness.execution("c1").stage_runs["Prod"].conditions["BEFORE_ENTRY"].rules
    assert rules["broken"].status == "Failed" and "Nowhere" in rules["broken"].error_message


@pytest.mark.parametrize("mode, second_waits", [("SUPERSEDED", True), ("QUEUED", True), ("PARALLEL", False)])
def test_an_execution_held_at_entry_keeps_the_stages_place(mode, second_waits):
    harness = Harness(pipeline(mode, **before_entry("FAIL")))
    harness.held_rules = {("Prod", "check")}
    harness.start("c1")
    harness.start("c2")
    prod = harness.pipeline.slots["Prod"]
    assert prod.inside[0] == "c1"
    assert ("c2" in prod.waiting) == second_waits
    if mode == "SUPERSEDED":  # a third supersedes the one waiting, as with actions inside
        harness.start("c3")
        assert harness.execution("c2").status == "Superseded" and prod.waiting == ["c3"]
    held = harness.rule_commands("Prod")[0]
    harness.held_rules = set()
    harness.judge(held, True)
    assert harness.execution("c1").status == "Succeeded"


def test_automatic_rollback_runs_the_stage_again_with_the_last_good_executions_work():
    harness = Harness(pipeline(onFailure={"result": "ROLLBACK"}))
    harness.start("c1")
    assert harness.execution("c1").status == "Succeeded"
    harness.failing = {("Prod", "smoke")}
    harness.start("c2")
    c2 = harness.execution("c2")
    assert c2.status == "Failed" and c2.stage_runs["Prod"].status == "Failed"
    rollback = [e for e in harness.pipeline.executions.values() if e.execution_type == "ROLLBACK"]
    assert len(rollback) == 1
    back = rollback[0]
    assert (back.rollback_target, back.trigger_type, back.trigger_detail) == ("c1", "AutomatedRollback", "c2")
    assert back.status == "Failed"  # the smoke test still fails (the fake runner fails it every time)
    assert list(back.stage_runs) == ["Prod"]  # only the rolled-back stage ran
    deploy = [c for c in harness.commands if isinstance(c, RunAction) and c.execution_id == back.execution_id][0]
    assert [a.location for a in deploy.inputs] == ["c1/bin"]  # the target's artifact, not c2's
    assert len([e for e in harness.pipeline.executions.values() if e.execution_type == "ROLLBACK"]) == 1  # no loop
    harness.failing = set()
    harness.send(RollbackRequested("p", "Prod", "c1", "manual-1", "ManualRollback", "arn:user/ops"))
    assert harness.execution("manual-1").status == "Succeeded"
    assert harness.pipeline.slots["Prod"].latest_execution == "manual-1"
    assert "After" not in harness.execution("manual-1").stage_runs  # later stages do not run


def test_a_rollback_goes_first_at_the_stages_entrance():
    harness = Harness(pipeline("QUEUED", onFailure={"result": "ROLLBACK"}), auto_run=False)
    harness.start("c1")
    harness.run_pending()
    harness.failing = {("Prod", "smoke")}

    def c2_smoke(command) -> bool:
        return (command.execution_id, command.stage, command.action.name) == ("c2", "Prod", "smoke")

    def run_all_but_c2_smoke() -> None:
        while others := [c for c in harness.pending if not c2_smoke(c)]:
            harness.finish(others[0])

    harness.start("c2")
    run_all_but_c2_smoke()
    harness.start("c3")
    run_all_but_c2_smoke()
    assert harness.pipeline.slots["Prod"].waiting == ["c3"]
    harness.finish(next(c for c in harness.pending if c2_smoke(c)))  # fails: roll back before c3 enters
    rollback = next(e for e in harness.pipeline.executions.values() if e.execution_type == "ROLLBACK")
    assert harness.pipeline.slots["Prod"].inside == [rollback.execution_id]
    assert harness.pipeline.slots["Prod"].waiting == ["c3"]


@pytest.mark.parametrize("fails, status, attempts", [(1, "Succeeded", 1), (2, "Failed", 1)])
def test_automatic_retry_tries_a_failed_stage_once_more(fails, status, attempts):
    harness = Harness(pipeline(onFailure={"result": "RETRY", "retryConfiguration": {"retryMode": "FAILED_ACTIONS"}}),
                      auto_run=False)
    harness.start("c1")
    failures = 0
    while harness.pending:
        command = harness.pending[0]
        if command.stage == "Prod" and command.action.name == "smoke" and failures < fails:
            failures += 1
            harness.finish(command, succeed=False)
        else:
            harness.finish(command)
    prod = harness.execution("c1").stage_runs["Prod"]
    assert harness.execution("c1").status == status
    assert (prod.auto_retries, prod.latest_retry_trigger) == (attempts, "AutomatedStageRetry")
    assert ran(harness, "c1", "Prod") == ["deploy", "smoke", "smoke"]  # FAILED_ACTIONS: only the smoke test again


def test_override_lets_the_held_execution_in_and_abandons_its_rule():
    harness = Harness(pipeline(**before_entry("FAIL")))
    harness.held_rules = {("Prod", "check")}
    harness.start("c1")
    held = harness.rule_commands("Prod")[0]
    commands = harness.send(ConditionOverridden("p", "c1", "Prod", "BEFORE_ENTRY", "arn:user/ops"))
    assert CancelAction("p", "c1", held.rule_execution_id) in commands
    condition = harness.execution("c1").stage_runs["Prod"].conditions["BEFORE_ENTRY"]
    assert condition.status == "Overridden" and condition.rules["check"].status == "Abandoned"
    assert harness.execution("c1").status == "Succeeded"
    with pytest.raises(EngineError) as raised:  # a late result of the abandoned rule changes nothing
        harness.judge(held, False)
    assert raised.value.code == "InvalidJobStateException"


@pytest.mark.parametrize(
    "conditions, execution_id, stage, kind, code",
    [
        (before_entry("SKIP"), "c1", "Prod", "BEFORE_ENTRY", "ConditionNotOverridableException"),
        (before_entry("FAIL"), "c1", "Prod", "ON_SUCCESS", "ConditionNotOverridableException"),
        (before_entry("FAIL"), "c1", "Nowhere", "BEFORE_ENTRY", "StageNotFoundException"),
        (before_entry("FAIL"), "c0", "Prod", "BEFORE_ENTRY", "NotLatestPipelineExecutionException"),
    ],
)
def test_override_refusals(conditions, execution_id, stage, kind, code):
    harness = Harness(pipeline(**conditions))
    harness.held_rules = {("Prod", "check")}
    harness.start("c0")
    harness.send(ExecutionStopRequested("p", "c0", abandon=True))
    harness.start("c1")
    before = repr(harness.pipeline)
    with pytest.raises(EngineError) as raised:
        harness.send(ConditionOverridden("p", execution_id, stage, kind))
    assert raised.value.code == code
    assert repr(harness.pipeline) == before


def test_manual_rollback_refusals():
    harness = Harness(pipeline())
    harness.start("c1")
    harness.failing = {("Build", "build")}
    harness.start("c2")
    cases = [
        (RollbackRequested("p", "Nowhere", "c1", "r"), "StageNotFoundException"),
        (RollbackRequested("p", "Prod", "nope", "r"), "PipelineExecutionNotFoundException"),
        (RollbackRequested("p", "Source", "c1", "r"), "UnableToRollbackStageException"),
        (RollbackRequested("p", "Prod", "c2", "r"), "UnableToRollbackStageException"),  # never reached Prod
    ]
    for event, code in cases:
        with pytest.raises(EngineError) as raised:
            harness.send(event)
        assert raised.value.code == code, event
    harness.send(RollbackRequested("p", "Prod", "c1", "r1"))
    with pytest.raises(EngineError) as raised:  # a rollback is no rollback target
        harness.send(RollbackRequested("p", "Prod", "r1", "r2"))
    assert raised.value.code == "UnableToRollbackStageException"
    harness.send(PipelineDeclared("p", 2, plan_from_declaration(pipeline())))
    with pytest.raises(EngineError) as raised:
        harness.send(RollbackRequested("p", "Prod", "c1", "r3"))
    assert raised.value.code == "PipelineExecutionOutdatedException"


def test_stopping_while_a_rule_runs_cancels_it_and_stops_the_stage():
    harness = Harness(pipeline(**on_success("FAIL")))
    harness.held_rules = {("Prod", "check")}
    harness.start("c1")
    held = harness.rule_commands("Prod")[0]
    commands = harness.send(ExecutionStopRequested("p", "c1"))
    assert CancelAction("p", "c1", held.rule_execution_id) in commands
    c1 = harness.execution("c1")
    assert (c1.status, c1.stage_runs["Prod"].status) == ("Stopped", "Stopped")
    assert c1.stage_runs["Prod"].conditions["ON_SUCCESS"].status == "Cancelled"


def test_a_stage_failed_at_its_entrance_is_judged_again_when_retried():
    harness = Harness(pipeline(**before_entry("FAIL")))
    harness.failing_rules = {("Prod", "check")}
    harness.start("c1")
    assert harness.execution("c1").status == "Failed"
    harness.failing_rules = set()
    harness.send(StageRetryRequested("p", "c1", "Prod", "FAILED_ACTIONS"))
    c1 = harness.execution("c1")
    assert c1.status == "Succeeded" and ran(harness, "c1", "Prod") == ["deploy", "smoke"]
    assert c1.stage_runs["Prod"].manual_retries == 1
    assert [c.status for c in c1.stage_runs["Prod"].earlier_conditions] == ["Failed"]


def test_replaying_the_events_rebuilds_the_same_state():
    harness = Harness(pipeline(onFailure={"result": "ROLLBACK"}, **before_entry("FAIL")))
    harness.start("c1")
    harness.failing = {("Prod", "smoke")}
    harness.start("c2")
    harness.failing_rules = {("Prod", "check")}
    harness.start("c3")
    assert repr(replayed(harness).pipelines["p"]) == repr(harness.pipeline)


def test_a_retry_declared_on_a_failure_condition_still_retries_only_once():
    """Refused in declarations (definitions/conditions_check.py); the engine caps it anyway."""
    conditions = {"onFailure": {"conditions": [{"result": "RETRY", "rules": [rule("check")]}]}}
    harness = Harness(pipeline(**conditions))
    harness.failing = {("Prod", "smoke")}
    harness.start("c1")
    c1 = harness.execution("c1")
    assert c1.status == "Failed" and c1.stage_runs["Prod"].auto_retries == 1
    assert ran(harness, "c1", "Prod").count("smoke") == 2


def test_a_rollback_waiting_at_the_entrance_is_never_superseded():
    harness = Harness(pipeline("SUPERSEDED", onFailure={"result": "ROLLBACK"}), auto_run=False)
    harness.start("c1")
    harness.run_pending()
    harness.failing = {("Prod", "smoke")}
    harness.start("c2")
    while others := [c for c in harness.pending if (c.execution_id, c.stage, c.action.name) != ("c2", "Prod", "smoke")]:
        harness.finish(others[0])
    harness.send(StageTransitionChanged("p", "Prod", False, reason="freeze"))
    harness.start("c3")
    harness.run_pending()  # c2's smoke test fails: its rollback waits at the disabled entrance, before c3
    rollback = next(e for e in harness.pipeline.executions.values() if e.execution_type == "ROLLBACK")
    assert harness.pipeline.slots["Prod"].waiting[0] == rollback.execution_id
    harness.start("c4")
    harness.run_pending()
    assert rollback.status == "InProgress" and harness.execution("c3").status == "Superseded"
    harness.send(StageTransitionChanged("p", "Prod", True))
    harness.run_pending()
    assert rollback.status == "Failed"  # it ran (the fake runner fails the smoke test every time)


def test_parallel_pipelines_do_not_roll_back():
    harness = Harness(pipeline("PARALLEL", onFailure={"result": "ROLLBACK"}))
    harness.start("c1")
    harness.failing = {("Prod", "smoke")}
    harness.start("c2")
    assert harness.execution("c2").status == "Failed"
    assert not [e for e in harness.pipeline.executions.values() if e.execution_type == "ROLLBACK"]
    with pytest.raises(EngineError) as raised:
        harness.send(RollbackRequested("p", "Prod", "c1", "r1"))
    assert raised.value.code == "UnableToRollbackStageException" and "PARALLEL" in raised.value.message


def test_an_update_or_a_deletion_while_a_rule_runs_ends_it():
    harness = Harness(pipeline(**before_entry("FAIL", rule("first"), rule("second"))))
    harness.held_rules = {("Prod", "first")}
    harness.start("c1")
    held = harness.rule_commands("Prod")[0]
    commands = harness.send(PipelineDeclared("p", 2, plan_from_declaration(pipeline(**before_entry("FAIL")))))
    assert CancelAction("p", "c1", held.rule_execution_id) in commands
    c1 = harness.execution("c1")
    assert c1.status == "Cancelled" and c1.stage_runs["Prod"].conditions["BEFORE_ENTRY"].status == "Cancelled"
    assert harness.pipeline.slots["Prod"].inside == []  # the stage is free for version 2
    harness.held_rules = {("Prod", "check")}
    harness.start("c2")
    held = [c for c in harness.rule_commands("Prod") if c.execution_id == "c2"][0]
    commands = harness.send(PipelineDeleted("p"))
    assert CancelAction("p", "c2", held.rule_execution_id) in commands
