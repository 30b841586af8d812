"""The dashboard's Event deliveries panel in a real headless Chromium: a rule's delivery that
failed shows with its reason, live (the page follows /pipemu/events?aws=true)."""

from __future__ import annotations

import yaml

from tests.support.daemon import Daemon, commit, init_repo


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def test_a_failed_delivery_shows_with_its_reason(tmp_path, page):
    repo = init_repo(tmp_path / "repo")
    commit(repo, "initial", {"README.md": "x\n"})
    (tmp_path / "pipelines").mkdir()
    source = {"name": "Source", "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
              "configuration": {"RepositoryName": "app", "BranchName": "main", "PollForSourceChanges": "false"},
              "outputArtifacts": [{"name": "src"}]}
    approval = {"name": "SignOff", "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}}
    (tmp_path / "pipelines" / "web.yml").write_text(yaml.safe_dump({
        "pipeline": {"name": "web", "stages": [{"name": "Source", "actions": [source]},
                                               {"name": "Approve", "actions": [approval]}]},
        "repositories": {"app": {"path": str(repo)}},
        "eventRules": [{"name": "web-started", "eventPattern": {
            "source": ["aws.codepipeline"], "detail-type": ["CodePipeline Pipeline Execution State Change"],
            "detail": {"pipeline": ["web"], "state": ["STARTED"]}},
            "targets": [{"url": "http://127.0.0.1:1/hook"}]}],
    }))
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    try:
        page.goto(daemon.endpoint + "/ui")
        expect(page.locator("#live")).to_have_class("live on")
        daemon.client().start_pipeline_execution(name="web")
        row = page.locator('.deliveries tr[data-rule="web-started"]')
        expect(row.locator(".delivery-status")).to_have_text("failed")
        expect(row.locator(".delivery-reason")).to_contain_text("POST http://127.0.0.1:1/hook")
        expect(row).to_contain_text("url:http://127.0.0.1:1/hook")
    finally:
        daemon.stop()
