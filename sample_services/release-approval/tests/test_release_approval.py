"""The product's release Lambda (../release_approval.py) tested with pipemu.testing: the product's
own pipelines (pipelines/*.yml), every build and deploy simulated (no Docker), the Lambda real,
run in-process (`simulate: {inProcess: true}`), approvals, stage locks and the API real. Each
test takes seconds; the same story with containers is tests/e2e/test_product_release.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from emulator import sample

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ["my-service-a-pipeline", "my-service-b-pipeline"]
RELEASE = "my-release-pipeline"


def product(tmp_path: Path, pipemu_daemon, simulate: dict | None = None):
    """The sample product in `tmp_path`: the release function runs in-process; `simulate`
    gives projects their own simulation (a test that fails)."""
    for folder in ("pipelines", "sample_services"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    resources = tmp_path / "pipelines" / "my-product.yml"
    data = yaml.safe_load(resources.read_text())
    data["functions"]["my-release-approval"]["simulate"] = {"inProcess": True}
    for project, spec in (simulate or {}).items():
        data["projects"][project]["simulate"] = spec
    resources.write_text(yaml.safe_dump(data, sort_keys=False))
    sample.prepare_repositories(tmp_path)
    kit = pipemu_daemon(tmp_path / "pipelines")
    kit.tag("service-a", "a1")
    kit.tag("service-b", "b1")
    return kit


def test_the_release_approves_the_waiting_services_then_releases_them(tmp_path, pipemu_daemon):
    kit = product(tmp_path, pipemu_daemon)
    # Both service pipelines started when they appeared; each waits for approval in DEV.
    kit.wait()
    kit.assert_table("my-service-a-pipeline", ["a1 ✓", "a1 ✓", "a1 ◯", "-", "-"])
    kit.assert_table("my-service-b-pipeline", ["b1 ✓", "b1 ✓", "b1 ◯", "-", "-"])

    # The nightly release (started as its schedule would): e2e tests, then the Lambda approves DEV.
    kit.start(RELEASE, "r1")
    kit.wait()
    assert kit.output_variables(RELEASE, "StagingQA", "release", "r1") == {"approved": ",".join(SERVICES), "count": "2"}
    log = kit.action_log(RELEASE, "StagingQA", "release", "r1")
    assert "my-service-a-pipeline: approved StagingDEV.approve" in log
    assert "runs in-process" in log
    kit.assert_table(RELEASE, ["r1 ✓", "r1 ✓", "r1 ✓", "r1 ◯"])
    kit.assert_table("my-service-a-pipeline", ["a1 ✓", "a1 ✓", "a1 ✓", "a1 ◯", "-"])
    kit.assert_table("my-service-b-pipeline", ["b1 ✓", "b1 ✓", "b1 ✓", "b1 ◯", "-"])
    approval = kit.action_execution("my-service-a-pipeline", "StagingDEV", "approve", "a1")
    assert approval["output"]["executionResult"]["externalExecutionSummary"] == f"Released by {RELEASE}"

    # The manual approval of the release lets the Lambda approve QA: the product reaches PROD.
    kit.approve(RELEASE, "StagingProd", "r1")
    kit.wait()
    kit.assert_table(RELEASE, ["r1 ✓"] * 4)
    kit.assert_table("my-service-a-pipeline", ["a1 ✓"] * 5)
    kit.assert_table("my-service-b-pipeline", ["b1 ✓"] * 5)


def test_a_service_whose_tests_fail_in_dev_is_left_alone(tmp_path, pipemu_daemon):
    kit = product(tmp_path, pipemu_daemon, simulate={
        "my-service-b-test": {"outcome": "Failed", "duration": 0.1, "message": "integration tests failed"}})
    kit.wait()
    kit.assert_table("my-service-b-pipeline", ["b1 ✓", "b1 ✓", "b1 ✗", "-", "-"])
    kit.start(RELEASE, "r1")
    kit.wait()
    assert kit.output_variables(RELEASE, "StagingQA", "release", "r1") == {
        "approved": "my-service-a-pipeline", "count": "1"}
    assert "my-service-b-pipeline: nothing waits at StagingDEV.approve" in kit.action_log(
        RELEASE, "StagingQA", "release", "r1")
    kit.assert_table("my-service-a-pipeline", ["a1 ✓", "a1 ✓", "a1 ✓", "a1 ◯", "-"])
    kit.assert_table("my-service-b-pipeline", ["b1 ✓", "b1 ✓", "b1 ✗", "-", "-"])


def test_a_release_whose_e2e_tests_fail_approves_nothing(tmp_path, pipemu_daemon):
    kit = product(tmp_path, pipemu_daemon, simulate={"my-e2e-tests": {"outcome": "Failed"}})
    kit.start(RELEASE, "r1")
    kit.wait()
    kit.assert_table(RELEASE, ["r1 ✓", "r1 ✗", "-", "-"])
    kit.assert_table("my-service-a-pipeline", ["a1 ✓", "a1 ✓", "a1 ◯", "-", "-"])
