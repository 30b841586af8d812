"""The dashboard in a real headless Chromium against the real daemon and real containers: the
article's table follows executions live (no reload, no polling), approval cards approve and reject,
a running action's log grows on screen, definition errors show, a daemon with credentials gets
them asked for and signed with; and the README's screenshot is taken during the article's scenario."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.e2e import article_pipeline
from tests.e2e.waiting import settle
from tests.support.daemon import ROOT, Daemon, commit, init_repo

pytestmark = pytest.mark.docker
PIPELINE = "svc-pipeline"
SCREENSHOT = ROOT / "docs" / "dashboard.png"
LIVE = 60_000  # ms: long enough for containers to run a stage on a busy machine


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def open_dashboard(page, daemon: Daemon, pipeline: str | None = None):
    page.goto(daemon.endpoint + "/ui" + (f"#/pipeline/{pipeline}" if pipeline else ""))
    expect(page.locator("#live")).to_have_class("live on")  # subscribed to /pipemu/events
    return page


def cell(page, stage: str, pipeline: str = PIPELINE):
    return page.locator(f'table.article tr[data-pipeline="{pipeline}"] td[data-stage="{stage}"]')


def card(page, stage: str):
    return page.locator(f'.approval[data-stage="{stage}"]')


def stage_state(client, stage: str) -> dict:
    return next(s for s in client.get_pipeline_state(name=PIPELINE)["stageStates"] if s["stageName"] == stage)


def revision_of(client, execution: str) -> str:
    summary = client.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"]
    return next(s for s in summary if s["pipelineExecutionId"] == execution)["sourceRevisions"][0]["revisionId"]


def wait_for(predicate, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return result


def start_at_dev_approval(client, repo: Path, message: str) -> str:
    """Commit, start, and wait until the execution waits for approval in StagingDEV (or at its entrance)."""
    sha = commit(repo, message)
    execution = client.start_pipeline_execution(
        name=PIPELINE, sourceRevisions=[{"actionName": "source", "revisionType": "COMMIT_ID", "revisionValue": sha}],
    )["pipelineExecutionId"]
    settle(client, PIPELINE)
    return execution


def approve(client, stage: str, summary: str = "ok") -> None:
    action = next(a for a in stage_state(client, stage)["actionStates"] if a["actionName"] == "approve")
    client.put_approval_result(pipelineName=PIPELINE, stageName=stage, actionName="approve",
                               result={"summary": summary, "status": "Approved"}, token=action["latestExecution"]["token"])


def test_the_table_follows_an_execution_live_without_reload_or_polling(article_daemon, service_repo, page):
    client = article_daemon.client()
    open_dashboard(page, article_daemon)
    expect(cell(page, "StagingDEV")).to_have_attribute("data-status", "")
    page.evaluate("window.pipemuMarker = 'loaded once'")

    sha = commit(service_repo, "c1")
    execution = client.start_pipeline_execution(name=PIPELINE)["pipelineExecutionId"]
    dev = cell(page, "StagingDEV")
    expect(dev).to_have_attribute("data-execution", execution, timeout=LIVE)
    expect(dev).to_contain_text(sha[:7])
    expect(dev).to_contain_text("◯")
    expect(cell(page, "Source")).to_contain_text(f"{sha[:7]} c1 ✓")
    expect(cell(page, "Building")).to_contain_text("✓")
    expect(card(page, "StagingDEV")).to_contain_text(f"Review {sha}", timeout=LIVE)  # the approval waits
    assert page.evaluate("window.pipemuMarker") == "loaded once"  # the same page all along

    settle(client, PIPELINE)
    page.wait_for_timeout(1000)  # the last event's refetch ends
    asked: list[str] = []
    page.on("request", lambda request: asked.append(f"{request.method} {request.url}"))
    page.wait_for_timeout(2500)
    assert asked == []  # idle: nothing polls


def test_approve_moves_the_execution_to_the_next_stage(article_daemon, service_repo, page):
    client = article_daemon.client()
    execution = start_at_dev_approval(client, service_repo, "c1")
    sha = revision_of(client, execution)
    open_dashboard(page, article_daemon, PIPELINE)
    approval = card(page, "StagingDEV")
    expect(approval.locator(".custom-data")).to_have_text(f"Review {sha}")  # CustomData, resolved
    expect(approval.locator("a.entity-url")).to_have_attribute("href", f"http://review.example.com/{execution}")
    approval.locator("input").fill("DEV looks good")
    approval.get_by_role("button", name="Approve").click()

    expect(cell(page, "StagingQA")).to_have_attribute("data-execution", execution, timeout=LIVE)
    expect(cell(page, "StagingDEV")).to_contain_text("✓")
    expect(card(page, "StagingQA")).to_be_visible(timeout=LIVE)  # the next approval, in QA
    expect(card(page, "StagingDEV")).to_have_count(0)
    assert stage_state(client, "StagingQA")["latestExecution"]["pipelineExecutionId"] == execution
    dev_approval = next(a for a in stage_state(client, "StagingDEV")["actionStates"] if a["actionName"] == "approve")
    assert dev_approval["latestExecution"]["summary"] == "DEV looks good"

    page.locator(f'table.history tr[data-execution="{execution}"]').click()  # the history: any action's log
    ran = page.locator("#execution .action")
    expect(ran.filter(has_text="StagingDEV · approve")).to_contain_text("✓")
    ran.filter(has_text="Building · build").click()
    expect(page.locator("#log-lines")).to_contain_text("built ")


def test_reject_on_the_overview_fails_the_execution(article_daemon, service_repo, page):
    client = article_daemon.client()
    execution = start_at_dev_approval(client, service_repo, "c1")
    open_dashboard(page, article_daemon)
    card(page, "StagingDEV").get_by_role("button", name="Reject").click()

    dev = cell(page, "StagingDEV")
    expect(dev).to_have_attribute("data-status", "Failed", timeout=LIVE)
    expect(dev).to_contain_text("✗")
    expect(card(page, "StagingDEV")).to_have_count(0)
    status = client.get_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=execution)
    assert status["pipelineExecution"]["status"] == "Failed"
    assert "latestExecution" not in stage_state(client, "StagingQA")


def test_disable_and_enable_a_transition(article_daemon, page):
    client = article_daemon.client()
    open_dashboard(page, article_daemon, PIPELINE)
    page.once("dialog", lambda dialog: dialog.accept("Freeze for the demo"))
    page.locator('.stage-block[data-stage="StagingQA"]').get_by_role("button", name="disable transition").click()
    expect(cell(page, "StagingQA").locator(".gate-closed")).to_have_text("⊘ transition disabled: Freeze for the demo")
    transition = stage_state(client, "StagingQA")["inboundTransitionState"]
    assert (transition["enabled"], transition["disabledReason"]) == (False, "Freeze for the demo")
    page.get_by_role("button", name="Enable transition").click()
    expect(cell(page, "StagingQA").locator(".gate-closed")).to_have_count(0)
    assert stage_state(client, "StagingQA")["inboundTransitionState"]["enabled"] is True


@pytest.fixture
def ticking_daemon(tmp_path, service_repo, busybox_image):
    """The article's pipeline whose build prints a line a second for a while."""
    definition = article_pipeline.service_pipeline(PIPELINE, service_repo, busybox_image)
    commands = definition["projects"][f"{PIPELINE}-build"]["buildspec"]["phases"]["build"]["commands"]
    commands.insert(0, "for i in 1 2 3 4 5 6 7 8; do echo tick $i; sleep 1; done")
    article_pipeline.write(tmp_path / "pipelines", definition)
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    yield daemon
    daemon.stop()


def test_a_running_actions_log_grows_on_screen(ticking_daemon, page):
    client = ticking_daemon.client()
    open_dashboard(page, ticking_daemon, PIPELINE)
    client.start_pipeline_execution(name=PIPELINE)
    build = page.locator('.stage-block[data-stage="Building"] .action[data-action="build"]')
    expect(build).to_have_attribute("data-status", "InProgress", timeout=LIVE)
    build.click()

    log, status = page.locator("#log-lines"), page.locator("#log-status")
    expect(log).to_contain_text("tick 1", timeout=LIVE)
    seen = page.evaluate("document.querySelectorAll('#log-lines .log-line').length")
    expect(log).to_contain_text("tick 3", timeout=LIVE)
    grown = page.evaluate("[document.querySelectorAll('#log-lines .log-line').length,"
                          " document.querySelector('#log-status').textContent]")
    assert grown[0] > seen and "following" in grown[1]  # more lines, while the build still runs
    expect(log).to_contain_text("tick 8", timeout=LIVE)
    expect(status).to_contain_text("Succeeded", timeout=LIVE)
    expect(log).to_contain_text("built ")
    assert page.evaluate("document.querySelectorAll('#log-lines .log-line').length") > grown[0]


def test_definition_errors_show_and_follow_the_folder(tmp_path, page):
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "broken.yml").write_text("pipeline: {name: broken, stages: [\n")
    daemon = Daemon(folder, tmp_path / "state").start()
    try:
        open_dashboard(page, daemon)
        errors = page.locator("#definition-errors")
        expect(errors).to_be_visible()
        expect(errors).to_contain_text("broken.yml:")
        expect(page.locator("#view")).to_contain_text("No pipelines yet")
        (folder / "also-broken.yml").write_text(yaml.safe_dump({"pipeline": {"name": "also-broken", "stages": []}}))
        expect(errors).to_contain_text("also-broken.yml", timeout=LIVE)  # hot reload, shown live
        expect(errors.locator("li")).to_have_count(2)

        with urllib.request.urlopen(daemon.endpoint + "/ui", timeout=10) as answer:
            assert answer.headers["X-Frame-Options"] == "DENY"  # no clickjacking of Approve
            assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(daemon.endpoint + "/ui/..%2Fui.py", timeout=10)
        assert missing.value.code == 404
    finally:
        daemon.stop()


def test_definition_warnings_are_folded_and_name_the_fields(tmp_path, page):
    folder = tmp_path / "pipelines"
    folder.mkdir()
    source = article_pipeline.codecommit_source("nowhere")
    deploy = {"name": "deploy", "actionTypeId": {"category": "Deploy", "owner": "AWS", "provider": "CodeDeploy",
                                                 "version": "1"},
              "configuration": {"ApplicationName": "a", "DeploymentGroupName": "g"},
              "inputArtifacts": [{"name": "SourceOutput"}]}
    (folder / "v2.yml").write_text(yaml.safe_dump({"pipeline": {"name": "v2", "pipelineType": "V2", "stages": [
        {"name": "Source", "actions": [source]},
        {"name": "Prod", "actions": [deploy], "onFailure": {"result": "ROLLBACK"}}]}}))
    daemon = Daemon(folder, tmp_path / "state").start()
    try:
        open_dashboard(page, daemon)
        expect(page.locator("#definition-errors")).to_be_hidden()
        warnings = page.locator("#definition-warnings")
        expect(warnings).to_be_visible()
        expect(warnings.locator("summary")).to_contain_text("Not carried out here (2 warnings)")
        expect(warnings.locator("li").first).to_be_hidden()  # folded until asked for
        warnings.locator("summary").click()
        expect(warnings).to_contain_text("AWS/CodeDeploy (Deploy) actions are not emulated yet")
        expect(warnings).to_contain_text("repository nowhere is not declared")
        expect(page.locator("#view")).to_contain_text("v2")  # the pipeline itself loaded
        assert "WARNING" in daemon.log() and "AWS/CodeDeploy (Deploy) actions are not emulated yet" in daemon.log()
        assert "onFailure" not in warnings.inner_text()  # automatic rollback is carried out: nothing to warn of
    finally:
        daemon.stop()


def test_only_http_links_are_links(tmp_path, page):
    """An approval's ExternalEntityLink of another scheme (javascript:) is shown as text."""
    repo = init_repo(tmp_path / "repo")
    commit(repo, "first")
    folder = tmp_path / "pipelines"
    folder.mkdir()
    source = article_pipeline.codecommit_source("repo")
    gate = {"name": "approve", "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"},
            "configuration": {"ExternalEntityLink": "javascript:alert(document.domain)", "CustomData": "look"}}
    (folder / "links.yml").write_text(yaml.safe_dump({"pipeline": {"name": "links", "stages": [
        {"name": "Source", "actions": [source]}, {"name": "Gate", "actions": [gate]}]},
        "repositories": {"repo": {"path": str(repo)}}}))
    daemon = Daemon(folder, tmp_path / "state").start()
    try:
        daemon.client().start_pipeline_execution(name="links")
        open_dashboard(page, daemon, "links")
        shown = page.locator(".entity-url")
        expect(shown).to_contain_text("javascript:alert(document.domain)", timeout=LIVE)
        expect(page.locator("a.entity-url")).to_have_count(0)
    finally:
        daemon.stop()


def test_with_credentials_configured_the_page_asks_for_them_and_signs(tmp_path, service_repo, busybox_image, page):
    key, secret = "AKIDTRAINER", "trainer-secret"
    article_pipeline.write(tmp_path / "pipelines",
                           article_pipeline.service_pipeline(PIPELINE, service_repo, busybox_image))
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state",
                    env={"PIPEMU_ACCESS_KEY": key, "PIPEMU_SECRET_KEY": secret}).start()
    try:
        page.goto(daemon.endpoint + "/ui")
        dialog = page.locator("dialog#credentials")
        expect(dialog).to_be_visible()
        dialog.locator("input[name=accessKey]").fill(key)
        dialog.locator("input[name=secretKey]").fill("wrong")
        dialog.get_by_role("button", name="Sign in").click()
        expect(dialog.locator("#credentials-error")).to_contain_text("signature we calculated does not match")
        dialog.locator("input[name=secretKey]").fill(secret)
        dialog.get_by_role("button", name="Sign in").click()
        expect(dialog).to_be_hidden()
        expect(cell(page, "Source")).to_have_attribute("data-status", "")

        page.locator(f'tr[data-pipeline="{PIPELINE}"] a').click()
        page.get_by_role("button", name="Release change").click()  # a signed state change
        client = daemon.client(key, secret)
        started = wait_for(lambda: client.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"])
        assert started[0]["trigger"]["triggerDetail"].endswith(f"user/{key}")
        expect(cell(page, "StagingDEV")).to_have_attribute("data-execution", started[0]["pipelineExecutionId"],
                                                            timeout=LIVE)
        # The log is read signed too (the daemon answers /pipemu/logs to no one else).
        build = page.locator('.stage-block[data-stage="Building"] .action[data-action="build"]')
        expect(build).to_have_attribute("data-status", "Succeeded", timeout=LIVE)
        build.click()
        expect(page.locator("#log-lines")).to_contain_text("built ", timeout=LIVE)
        kept = json.loads(page.evaluate("sessionStorage.getItem('pipemu.credentials')"))
        assert kept == {"accessKey": key, "secretKey": secret, "region": "us-east-1"}
    finally:
        daemon.stop()


def test_screenshot_of_the_article_scenario(article_daemon, service_repo, page):
    """The README's picture: the article's row 'commit c3' (c1 in QA, c2 waiting at its entrance, c3 in DEV)."""
    client = article_daemon.client()
    start_at_dev_approval(client, service_repo, "c1")
    approve(client, "StagingDEV", "c1 passed DEV")
    settle(client, PIPELINE)
    c2 = start_at_dev_approval(client, service_repo, "c2")
    approve(client, "StagingDEV", "c2 passed DEV")
    settle(client, PIPELINE)
    c3 = start_at_dev_approval(client, service_repo, "c3")

    open_dashboard(page, article_daemon, PIPELINE)
    expect(cell(page, "StagingQA").locator(f'[data-waiting="{c2}"]')).to_be_visible()  # c2 waits at QA's entrance
    expect(cell(page, "StagingQA")).to_contain_text("c1")
    expect(cell(page, "StagingDEV")).to_have_attribute("data-execution", c3)
    page.locator('.stage-block[data-stage="StagingDEV"] .action[data-action="test"]').click()
    expect(page.locator("#log-status")).to_contain_text("Succeeded")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000
