"""`pipemu status` and release safety: a stage held (or failed) by a condition names its rule and
the rule's result, in the table's cell, the notes under it and `--json`; a ROLLBACK execution is
marked. The model from GetPipelineState's shapes first (pure), then the CLI against a real daemon."""

from __future__ import annotations

import pytest

from emulator.cli_render import Paint, render_status, rollback_targets, status_model
from tests.cli.test_cli_commands import as_json, ok, row
from tests.e2e.test_conditions import ended, held_at_prod
from tests.e2e.waiting import stage_of, wait_for
from tests.support.daemon import git, init_repo

E1, E2, E3 = "11111111-aaaa-4000-8000-000000000001", "22222222-bbbb-4000-8000-000000000002", \
    "33333333-cccc-4000-8000-000000000003"


def condition(status: str, *rules: tuple[str, str | None, str | None]) -> dict:
    """A StageConditionState: its rules as (ruleName, status or None if not run, error message)."""
    states = []
    for name, rule_status, message in rules:
        state = {"ruleName": name}
        if rule_status:
            state["latestExecution"] = {"ruleExecutionId": f"r-{name}", "status": rule_status,
                                        **({"errorDetails": {"code": "RuleFailed", "message": message}} if message else {})}
        states.append(state)
    return {"latestExecution": {"status": status}, "conditionStates": [
        {"latestExecution": {"status": status}, "ruleStates": states}]}


def stage(name: str, execution: str | None, status: str = "Succeeded", type_: str = "STANDARD", **members) -> dict:
    state = {"stageName": name, "inboundTransitionState": {"enabled": True}, "actionStates": [], **members}
    if execution:
        state["latestExecution"] = {"pipelineExecutionId": execution, "status": status, "type": type_}
    return state


LABELS = {E1: "c1", E2: "c2", E3: "c3"}
CASES = [
    # (stage state, its cell, its JSON conditions, the note under the table or None)
    (stage("Prod", E1), "c1 ✓", [], None),
    (stage("Prod", E1, "InProgress", beforeEntryConditionState=condition(
        "InProgress", ("ReleaseCommit", "Succeeded", None), ("ReleaseWindow", "InProgress", None), ("Later", None, None))),
     "c1 ◯ held at entry: ReleaseWindow ◯",
     [{"conditionType": "BEFORE_ENTRY", "status": "InProgress", "rules": [
         {"ruleName": "ReleaseCommit", "status": "Succeeded"}, {"ruleName": "ReleaseWindow", "status": "InProgress"},
         {"ruleName": "Later", "status": None}]}],
     "⏸ app: Prod held at entry by rule ReleaseWindow: pipemu override app Prod"),
    (stage("Prod", E2, "Failed", beforeEntryConditionState=condition(
        "Failed", ("ReleaseCommit", "Failed", "'chore' CONTAINS 'release': false"))),
     "c2 ✗ entry: ReleaseCommit ✗",
     [{"conditionType": "BEFORE_ENTRY", "status": "Failed", "rules": [
         {"ruleName": "ReleaseCommit", "status": "Failed", "message": "'chore' CONTAINS 'release': false"}]}],
     "✗ app: Prod entry condition Failed: rule ReleaseCommit: 'chore' CONTAINS 'release': false"),
    (stage("Prod", E2, "InProgress", beforeEntryConditionState=condition("Succeeded", ("ReleaseCommit", "Succeeded", None)),
           onSuccessConditionState=condition("InProgress", ("Errors", "InProgress", None))),
     "c2 ◯ held at success: Errors ◯",
     [{"conditionType": "BEFORE_ENTRY", "status": "Succeeded", "rules": [{"ruleName": "ReleaseCommit", "status": "Succeeded"}]},
      {"conditionType": "ON_SUCCESS", "status": "InProgress", "rules": [{"ruleName": "Errors", "status": "InProgress"}]}],
     "⏸ app: Prod held at success by rule Errors: pipemu override app Prod --on-success"),
    (stage("Prod", E3, "Succeeded", "ROLLBACK"), "c3 ✓ rollback", [],
     f"↶ app: Prod rolled back to execution {E1} (Succeeded)"),
]


@pytest.mark.parametrize("state, shown, conditions, note", CASES)
def test_the_status_model_names_the_rule_that_holds_or_failed_and_marks_rollbacks(state, shown, conditions, note):
    targets = rollback_targets([{"pipelineExecutionId": E3, "executionType": "ROLLBACK",
                                 "rollbackMetadata": {"rollbackTargetPipelineExecutionId": E1}},
                                {"pipelineExecutionId": E1, "executionType": "STANDARD"}])
    assert targets == {E3: E1}
    model = status_model({"pipelineName": "app", "pipelineVersion": 1, "stageStates": [state]}, LABELS, targets)
    [entry] = model["stages"]
    assert entry["cell"] == shown
    assert entry["conditions"] == conditions
    text = render_status([model], [], Paint(False))
    assert row(text, "app") == ["app", shown]
    notes = [line for line in text.splitlines()[2:] if line]
    assert notes == ([note] if note else [])
    if state["latestExecution"]["type"] == "ROLLBACK":
        assert entry["latestExecution"] == {"pipelineExecutionId": E3, "status": "Succeeded", "revision": "c3",
                                            "executionType": "ROLLBACK", "rollbackTargetPipelineExecutionId": E1}
    else:
        assert set(entry["latestExecution"]) == {"pipelineExecutionId", "status", "revision"}  # as before


@pytest.mark.docker
def test_status_shows_a_held_entrance_and_a_rollback(tmp_path, busybox_image, python_image):
    repo = init_repo(tmp_path / "repo")
    daemon = held_at_prod(tmp_path, repo, busybox_image)  # its rule Manual waits for ever
    sha = git(repo, "rev-parse", "HEAD")[:7]
    try:
        client = daemon.client()
        first = client.start_pipeline_execution(name="release")["pipelineExecutionId"]
        wait_for(lambda: ((stage_of(client.get_pipeline_state(name="release"), "Prod").get("beforeEntryConditionState")
                           or {}).get("conditionStates") or [{}])[0].get("ruleStates", [{}])[0].get(
            "latestExecution", {}).get("status") == "InProgress", 120, "the held entrance")

        table = ok(daemon, "status", "release")
        assert row(table, "release") == ["release", f"{sha} ✓", f"{sha} ✓",
                                         f"{sha} ◯ held at entry: Manual ◯"]
        assert "⏸ release: Prod held at entry by rule Manual: pipemu override release Prod" in table
        prod_model = as_json(daemon, "status", "release")["pipelines"][0]["stages"][2]
        assert prod_model["conditions"] == [{"conditionType": "BEFORE_ENTRY", "status": "InProgress",
                                             "rules": [{"ruleName": "Manual", "status": "InProgress"}]}]
        assert prod_model["latestExecution"] == {"pipelineExecutionId": first, "status": "InProgress", "revision": sha}

        ok(daemon, "override", "release", "Prod")
        assert ended(client, first)["status"] == "Succeeded"
        table = ok(daemon, "status", "release")
        assert row(table, "release")[3] == f"{sha} ✓"  # an overridden entrance holds no longer
        assert "⏸" not in table and "↶" not in table

        rollback = client.rollback_stage(pipelineName="release", stageName="Prod",
                                         targetPipelineExecutionId=first)["pipelineExecutionId"]
        assert ended(client, rollback)["status"] == "Succeeded"
        table = ok(daemon, "status", "release")
        assert row(table, "release") == ["release", f"{sha} ✓", f"{sha} ✓", f"{sha} ✓ rollback"]
        assert f"↶ release: Prod rolled back to execution {first} (Succeeded)" in table
        prod_model = as_json(daemon, "status", "release")["pipelines"][0]["stages"][2]
        assert prod_model["latestExecution"] == {"pipelineExecutionId": rollback, "status": "Succeeded",
                                                 "revision": sha, "executionType": "ROLLBACK",
                                                 "rollbackTargetPipelineExecutionId": first}
        assert prod_model["conditions"] == []  # a rollback judges no condition
    finally:
        daemon.stop()
