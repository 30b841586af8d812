"""An approval notification's approvalReviewLink, opened in a real headless Chromium, shows the
dashboard at that approval: the pipeline, the approval's card marked among others waiting,
ready to approve; once answered, the same link says it no longer waits."""

from __future__ import annotations

import json
import mailbox

import yaml

from tests.e2e import article_pipeline
from tests.e2e.waiting import wait_for
from tests.support.daemon import Daemon, commit, init_repo

LIVE = 60_000


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def approval(name: str) -> dict:
    return {"name": name, "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"},
            "configuration": {"NotificationArn": "arn:aws:sns:us-east-1:123456789012:release-approvals",
                              "CustomData": f"{name}: check the release notes"}}


def test_the_review_link_opens_the_dashboard_at_that_approval(tmp_path, page):
    repo = init_repo(tmp_path / "repo")
    commit(repo, "first")
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "release.yml").write_text(yaml.safe_dump({
        "pipeline": {"name": "release", "stages": [
            {"name": "Source", "actions": [article_pipeline.codecommit_source("repo")]},
            {"name": "Gate", "actions": [approval("Security"), approval("Product")]}]},
        "repositories": {"repo": {"path": str(repo)}},
        "topics": {"release-approvals": {"subscriptions": [{"protocol": "email-json", "endpoint": "qa@example.com"}]}},
    }))
    daemon = Daemon(folder, tmp_path / "state").start()
    try:
        client = daemon.client()
        client.start_pipeline_execution(name="release")
        box = tmp_path / "state" / "mail" / "release-approvals.mbox"
        mails = wait_for(lambda: box.exists() and len(list(mailbox.mbox(str(box)))) == 2 and list(mailbox.mbox(str(box))),
                         60, "both approval mails")
        notices = [json.loads(json.loads(m.get_payload(decode=True))["Message"])["approval"] for m in mails]
        product = next(n for n in notices if n["actionName"] == "Product")
        link = product["approvalReviewLink"]
        assert link.startswith(f"{daemon.endpoint}/ui#/pipeline/release/Gate/Product/approve/")

        page.goto(link)
        expect(page.locator("#pipeline-name")).to_have_text("release", timeout=LIVE)
        expect(page.locator("#approvals .approval")).to_have_count(2, timeout=LIVE)
        marked = page.locator("#approvals .approval.reviewed")
        expect(marked).to_have_count(1)
        expect(marked).to_have_attribute("data-action", "Product")
        expect(marked).to_have_attribute("data-token", product["token"])
        expect(marked.locator(".custom-data")).to_have_text("Product: check the release notes")
        expect(marked.locator("input")).to_be_focused()
        expect(page.locator("#review-note")).to_be_hidden()

        marked.locator("input").fill("notes read")
        marked.get_by_role("button", name="Approve").click()
        expect(page.locator("#approvals .approval")).to_have_count(1, timeout=LIVE)  # Security still waits
        expect(page.locator("#review-note")).to_contain_text("no longer waiting")
        state = client.get_pipeline_state(name="release")
        gate = next(s for s in state["stageStates"] if s["stageName"] == "Gate")
        answered = next(a for a in gate["actionStates"] if a["actionName"] == "Product")["latestExecution"]
        assert answered["status"] == "Succeeded" and answered["summary"] == "notes read"
    finally:
        daemon.stop()
