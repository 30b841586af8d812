"""The dashboard's execution timeline and a product's aligned grid, in a real headless Chromium
against the real daemon and real containers: a selected execution shows one bar per action, its
width proportional to the action's duration as ListActionExecutions tells it, growing live while
it runs; the overview puts a product's pipelines in one grid, same-named stages in one column."""

from __future__ import annotations

import re
import time

import pytest

from tests.support.daemon import ROOT, Daemon, commit, init_repo
from tests.ui.test_dashboard import LIVE, expect, open_dashboard

pytestmark = pytest.mark.docker
SCREENSHOT = ROOT / "docs" / "timeline.png"  # the README's picture of the timeline

# Two services of the product "shop", written as a team writes them: the API has a Test stage
# (a slow unit suite beside a quick lint) the web front end does not have.
API = """\
pipeline:
  name: shop-api-pipeline
  roleArn: arn:aws:iam::123456789012:role/shop-pipelines
  pipelineType: V2
  stages:
    - name: Source
      actions:
        - name: source
          actionTypeId: {category: Source, owner: AWS, provider: CodeCommit, version: "1"}
          configuration: {RepositoryName: shop-api, BranchName: main, PollForSourceChanges: "false"}
          outputArtifacts: [{name: SourceOutput}]
    - name: Build
      actions:
        - name: build
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          configuration: {ProjectName: shop-quick}
          inputArtifacts: [{name: SourceOutput}]
    - name: Test
      actions:
        - name: unit
          actionTypeId: {category: Test, owner: AWS, provider: CodeBuild, version: "1"}
          configuration: {ProjectName: shop-slow}
          inputArtifacts: [{name: SourceOutput}]
        - name: lint
          actionTypeId: {category: Test, owner: AWS, provider: CodeBuild, version: "1"}
          configuration: {ProjectName: shop-quick}
          inputArtifacts: [{name: SourceOutput}]
    - name: Deploy
      actions:
        - name: deploy
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          configuration: {ProjectName: shop-quick}
          inputArtifacts: [{name: SourceOutput}]
"""
WEB = """\
pipeline:
  name: shop-web-pipeline
  roleArn: arn:aws:iam::123456789012:role/shop-pipelines
  pipelineType: V2
  stages:
    - name: Source
      actions:
        - name: source
          actionTypeId: {category: Source, owner: AWS, provider: CodeCommit, version: "1"}
          configuration: {RepositoryName: shop-web, BranchName: main, PollForSourceChanges: "false"}
          outputArtifacts: [{name: SourceOutput}]
    - name: Build
      actions:
        - name: build
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          configuration: {ProjectName: shop-quick}
          inputArtifacts: [{name: SourceOutput}]
    - name: Deploy
      actions:
        - name: deploy
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          configuration: {ProjectName: shop-quick}
          inputArtifacts: [{name: SourceOutput}]
"""
RESOURCES = """\
repositories:
  shop-api: {{path: {api}}}
  shop-web: {{path: {web}}}
projects:
  shop-quick:
    image: {image}
    buildspec: {{version: 0.2, phases: {{build: {{commands: ["echo quick"]}}}}}}
  shop-slow:
    image: {image}
    buildspec: {{version: 0.2, phases: {{build: {{commands: ["echo unit tests", "sleep 6", "echo passed"]}}}}}}
"""


@pytest.fixture
def shop(tmp_path, busybox_image):
    repos = {name: init_repo(tmp_path / name) for name in ("api", "web")}
    for repo in repos.values():
        commit(repo, "first version", {"index.txt": "v1\n"})
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "shop-api-pipeline.yml").write_text(API)
    (folder / "shop-web-pipeline.yml").write_text(WEB)
    (folder / "shop-product.yml").write_text(RESOURCES.format(image=busybox_image, **repos))
    daemon = Daemon(folder, tmp_path / "state").start()
    assert daemon.health()["definitionErrors"] == []
    yield daemon
    daemon.stop()


def box(locator) -> dict:
    found = locator.bounding_box()
    assert found, "not drawn"
    return found


def test_timeline_bars_and_the_aligned_grid(shop, page):
    client = shop.client()

    # The overview: one grid for the product, same-named stages in one column.
    open_dashboard(page, shop)
    grid = page.locator('section.product[data-product="shop"] table.article')
    expect(grid).to_have_count(1)
    expect(grid.locator("thead th[data-stage]")).to_have_text(["Source", "Build", "Test", "Deploy"])
    web_test = grid.locator('tr[data-pipeline="shop-web-pipeline"] td[data-stage="Test"]')
    expect(web_test).to_have_attribute("data-absent", "")  # the web front end has no Test stage
    for stage in ("Source", "Build", "Deploy"):
        api, web = (box(grid.locator(f'tr[data-pipeline="{name}"] td[data-stage="{stage}"]'))
                    for name in ("shop-api-pipeline", "shop-web-pipeline"))
        assert abs(api["x"] - web["x"]) < 1 and abs(api["width"] - web["width"]) < 1, stage
        assert api["y"] < web["y"]  # one row per pipeline, the columns shared

    # The sample product's columns: the release pipeline's E2ETesting sits before the StagingQA it
    # shares with the services (AWS's stage names are case-sensitive: StagingProd is not StagingPROD).
    services = ["Source", "Building", "StagingDEV", "StagingQA", "StagingPROD"]
    release = ["Source", "E2ETesting", "StagingQA", "StagingProd"]
    columns = page.evaluate("async (lists) => (await import('/ui/timeline.js')).alignedColumns(lists)",
                            [services, services, release])
    assert columns == ["Source", "Building", "StagingDEV", "E2ETesting", "StagingQA", "StagingPROD", "StagingProd"]

    # A running execution, selected in the history: its timeline grows live.
    execution = client.start_pipeline_execution(name="shop-api-pipeline")["pipelineExecutionId"]
    page.goto(shop.endpoint + "/ui#/pipeline/shop-api-pipeline")
    expect(page.locator("#live")).to_have_class("live on")
    page.locator(f'table.history tr[data-execution="{execution}"]').click(timeout=LIVE)
    panel = page.locator("#timeline-panel")
    unit = panel.locator('.timeline-stage[data-stage="Test"] .timeline-row[data-action="unit"] .timeline-bar')
    expect(unit).to_have_attribute("data-status", "InProgress", timeout=LIVE)
    first = float(unit.get_attribute("data-duration"))
    time.sleep(1.5)  # the running bar stretches with the clock, with no click or reload
    assert float(unit.get_attribute("data-duration")) > first
    expect(unit).to_have_attribute("data-status", "Succeeded", timeout=LIVE)  # a change notice refetched it
    expect(panel.locator('.timeline-row[data-action="deploy"] .timeline-bar')).to_have_attribute(
        "data-status", "Succeeded", timeout=LIVE)

    # One bar per action execution, each as wide as its duration says, on one axis.
    details = client.list_action_executions(pipelineName="shop-api-pipeline",
                                            filter={"pipelineExecutionId": execution})["actionExecutionDetails"]
    assert len(details) == 5
    bars = panel.locator(".timeline-bar")
    expect(bars).to_have_count(len(details))
    expect(panel.locator(".timeline-stage")).to_have_count(4)
    expect(panel.locator(".timeline-stage-name")).to_have_text(["Source", "Build", "Test", "Deploy"])
    start = min(d["startTime"].timestamp() for d in details)
    end = max(d["lastUpdateTime"].timestamp() for d in details)
    track = box(panel.locator(".timeline-axis .timeline-track"))
    for detail in details:
        bar = panel.locator(f'.timeline-row[data-action-execution="{detail["actionExecutionId"]}"] .timeline-bar')
        seconds = detail["lastUpdateTime"].timestamp() - detail["startTime"].timestamp()
        drawn = box(bar)
        expected_width = max(track["width"] * seconds / (end - start), 2)  # 2 px: an instant stays visible
        assert abs(drawn["width"] - expected_width) < 3, (detail["actionName"], drawn, expected_width)
        offset = track["width"] * (detail["startTime"].timestamp() - start) / (end - start)
        assert abs(drawn["x"] - track["x"] - offset) < 3, detail["actionName"]
        expect(bar).to_have_class(re.compile(rf"\bs-{detail['status']}\b"))
    unit_box, lint_box = (box(panel.locator(f'.timeline-row[data-action="{name}"] .timeline-bar'))
                          for name in ("unit", "lint"))
    assert unit_box["width"] > 3 * lint_box["width"]  # six seconds of unit tests against a quick lint
    panel.screenshot(path=str(SCREENSHOT))
