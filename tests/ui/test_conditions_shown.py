"""Release safety on the dashboard, in a real headless Chromium against the real daemon and real
containers: an entrance held by a stage condition shows (in the article's table and on the stage
block, each rule with its status), a rule's log opens in the log panel, and a ROLLBACK execution
is marked in the table and the history."""

from __future__ import annotations

import re

import pytest

from tests.e2e.test_conditions import definition, ended, rule, start
from tests.e2e.waiting import stage_of
from tests.support.daemon import commit, init_repo
from tests.ui.test_dashboard import LIVE, expect, open_dashboard

pytestmark = pytest.mark.docker

# A function that says something and reports nothing: its rule waits until overridden.
HELD = '''def handler(event, context):
    print("waiting for the release manager")
    return {"job": event["CodePipeline.job"]["id"]}
'''


def prod_cell(page):
    return page.locator('table.article tr[data-pipeline="release"] td[data-stage="Prod"]')


def test_a_held_entrance_its_rules_their_logs_and_a_rollback(tmp_path, page, busybox_image, python_image):
    repo = init_repo(tmp_path / "repo")
    commit(repo, "release v1", {"app.txt": "v1\n"})
    (tmp_path / "held").mkdir()
    (tmp_path / "held" / "app.py").write_text(HELD)
    functions = {"held": {"runtime": "python3.12", "handler": "app.handler", "code": str(tmp_path / "held")}}
    prod = {"beforeEntry": {"conditions": [{"result": "FAIL", "rules": [
        rule("ReleaseCommit", "VariableCheck", Variable="#{SourceVariables.CommitMessage}", Value="release",
             Operator="CONTAINS"),
        rule("ReleaseManager", "LambdaInvoke", FunctionName="held")]}]}}
    daemon = start(tmp_path, definition(repo, busybox_image, prod, functions))
    try:
        client = daemon.client()
        open_dashboard(page, daemon)
        first = client.start_pipeline_execution(name="release")["pipelineExecutionId"]

        # The overview's table: Prod's cell says who holds its entrance.
        note = prod_cell(page).locator('.condition-note[data-condition="BEFORE_ENTRY"]')
        expect(note).to_contain_text("held at entry: rule ReleaseManager InProgress", timeout=LIVE)
        expect(prod_cell(page)).to_have_attribute("data-execution", first)

        # The pipeline's page: the condition on Prod's block, each rule with its status.
        page.locator('tr[data-pipeline="release"] a').click()
        block = page.locator('.stage-block[data-stage="Prod"]')
        condition = block.locator('.condition[data-condition="BEFORE_ENTRY"]')
        expect(condition).to_have_attribute("data-status", "InProgress")
        expect(condition.locator(".condition-head")).to_contain_text("held at entry: rule ReleaseManager InProgress")
        expect(condition.locator('.rule[data-rule="ReleaseCommit"]')).to_have_attribute("data-status", "Succeeded")
        manager = condition.locator('.rule[data-rule="ReleaseManager"]')
        expect(manager).to_have_attribute("data-status", "InProgress")
        expect(block.locator('.action[data-action="Deploy"]')).to_have_attribute("data-status", "")  # not run

        # Its log, by its rule execution id, followed like an action's.
        held = stage_of(client.get_pipeline_state(name="release"), "Prod")["beforeEntryConditionState"]
        rule_id = next(r for r in held["conditionStates"][0]["ruleStates"]
                       if r["ruleName"] == "ReleaseManager")["latestExecution"]["ruleExecutionId"]
        expect(manager).to_have_attribute("data-action-execution", rule_id)
        with page.expect_request(lambda request: f"/pipemu/logs/{rule_id}?" in request.url):
            manager.click()
        expect(page.locator("#log-title")).to_have_text("Prod · rule ReleaseManager")
        expect(page.locator("#log-lines")).to_contain_text("waiting for the release manager", timeout=LIVE)
        expect(page.locator("#log-status")).to_contain_text("following")
        expect(manager).to_have_class(re.compile(r"\bselected\b"))

        # Let it in: the condition shows overridden, the cell's note goes.
        client.override_stage_condition(pipelineName="release", stageName="Prod", pipelineExecutionId=first,
                                        conditionType="BEFORE_ENTRY")
        expect(page.locator("#log-status")).to_contain_text("Abandoned", timeout=LIVE)
        assert ended(client, first)["status"] == "Succeeded"
        expect(condition).to_have_attribute("data-status", "Overridden", timeout=LIVE)
        expect(condition.locator(".condition-head")).to_have_text(
            "⤼ entry condition Overridden by arn:aws:iam::123456789012:user/testing")
        expect(prod_cell(page).locator(".condition-note")).to_have_count(0)
        expect(block.locator('.action[data-action="Deploy"]')).to_have_attribute("data-status", "Succeeded")

        # A ROLLBACK execution: marked in the table's cell, on the stage and in the history.
        rollback = client.rollback_stage(pipelineName="release", stageName="Prod",
                                         targetPipelineExecutionId=first)["pipelineExecutionId"]
        assert ended(client, rollback)["status"] == "Succeeded"
        expect(prod_cell(page)).to_have_attribute("data-execution", rollback, timeout=LIVE)
        expect(prod_cell(page).locator(".badge.rollback")).to_have_text(f"rollback → {first[:7]}")
        expect(block.locator("header .badge.rollback")).to_have_text(f"rollback → {first[:7]}")
        expect(condition).to_have_count(0)  # a rollback judges no condition
        history = page.locator("table.history")
        expect(history.locator(f'tr[data-execution="{rollback}"] .badge.rollback')).to_have_text(
            f"rollback → {first[:7]}")
        expect(history.locator(f'tr[data-execution="{rollback}"] .trigger')).to_contain_text("ManualRollback")
        expect(history.locator(f'tr[data-execution="{first}"] .badge')).to_have_count(0)
        expect(page.locator('table.article td[data-stage="Build"] .badge')).to_have_count(0)

        # The history keeps the first execution's rules, and their logs.
        history.locator(f'tr[data-execution="{first}"]').click()
        ran = page.locator("#execution .action")
        expect(ran.filter(has_text="Build · Package")).to_contain_text("✓")
        expect(ran.filter(has_text="Prod · rule ReleaseCommit")).to_contain_text("✓")
        expect(page.locator('#execution .rule[data-rule="ReleaseManager"]')).to_contain_text("abandoned")
        page.locator("#log-lines").evaluate("pane => pane.replaceChildren()")
        page.locator('#execution .rule[data-rule="ReleaseManager"]').click()
        expect(page.locator("#log-lines")).to_contain_text("waiting for the release manager")
        history.locator(f'tr[data-execution="{rollback}"]').click()
        expect(page.locator("#execution h3 .badge.rollback")).to_have_text(f"rollback → {first[:7]}")
        expect(ran.filter(has_text="Prod · Deploy")).to_have_count(1)
        expect(page.locator("#execution .rule")).to_have_count(0)
    finally:
        daemon.stop()


def test_a_failed_entrance_names_its_rule_and_an_automatic_retry_shows(tmp_path, page, busybox_image):
    repo = init_repo(tmp_path / "repo")
    commit(repo, "chore: tidy", {"app.txt": "v1\n"})
    prod = {"beforeEntry": {"conditions": [{"result": "FAIL", "rules": [
        rule("ReleaseCommit", "VariableCheck", Variable="#{SourceVariables.CommitMessage}", Value="release",
             Operator="CONTAINS")]}]},
            "onFailure": {"result": "RETRY", "retryConfiguration": {"retryMode": "FAILED_ACTIONS"}}}
    daemon = start(tmp_path, definition(repo, busybox_image, prod))
    try:
        client = daemon.client()
        open_dashboard(page, daemon, "release")
        tidy = client.start_pipeline_execution(name="release")["pipelineExecutionId"]
        assert ended(client, tidy)["status"] == "Failed"
        note = prod_cell(page).locator('.condition-note[data-condition="BEFORE_ENTRY"]')
        expect(note).to_contain_text("entry condition Failed: rule ReleaseCommit: 'chore: tidy' CONTAINS 'release' "
                                     "is false", timeout=LIVE)
        condition = page.locator('.stage-block[data-stage="Prod"] .condition[data-condition="BEFORE_ENTRY"]')
        expect(condition).to_have_attribute("data-status", "Failed")
        expect(condition.locator('.rule[data-rule="ReleaseCommit"] .action-error')).to_contain_text("is false")

        commit(repo, "release: bad", {"app.txt": "bad\n"})  # in at the entrance, then the deploy fails twice
        bad = client.start_pipeline_execution(name="release")["pipelineExecutionId"]
        assert ended(client, bad)["status"] == "Failed"
        expect(prod_cell(page)).to_have_attribute("data-execution", bad, timeout=LIVE)
        expect(prod_cell(page).locator(".condition-note")).to_have_count(0)  # its entrance passed
        expect(page.locator('.stage-block[data-stage="Prod"] header .retry-meta')).to_have_text("↻ auto retry 1")
        expect(condition).to_have_attribute("data-status", "Succeeded")
        expect(condition.locator(".condition-head")).to_contain_text("entry condition Succeeded")
        expect(page.locator('.stage-block[data-stage="Build"] .retry-meta')).to_have_count(0)
    finally:
        daemon.stop()
