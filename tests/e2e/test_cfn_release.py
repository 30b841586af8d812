"""Templates written for AWS, imported unchanged with `pipemu import` (a service pipeline template
deployed twice with different parameters; a releasing pipeline with an inline Node.js Lambda on
the old bundled SDK and an EventBridge schedule), then the product released end to end."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from emulator import sample
from tests.e2e.test_product_release import action, release_output, settle_all, stage, wait_until
from tests.e2e.waiting import settle
from tests.support.daemon import ROOT, Daemon

pytestmark = pytest.mark.docker
TEMPLATES = ROOT / "sample_services" / "cloudformation"
SERVICES = ["my-service-a-pipeline", "my-service-b-pipeline"]
RELEASE = "my-release-pipeline"


def pipemu(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "emulator.cli", *args], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_imported_templates_release_the_product(tmp_path, busybox_image):
    shutil.copytree(ROOT / "sample_services", tmp_path / "sample_services")
    sample.prepare_repositories(tmp_path)
    sample.prepare_images(log=lambda line: None)
    folder = tmp_path / "pipelines"
    for service in ("service-a", "service-b"):
        result = pipemu("import", str(TEMPLATES / "service-pipeline.yml"), "--parameter", f"ServiceName={service}",
                        "--stack-name", f"my-{service}", "--map", f"repo:{service}=../.pipemu/repos/{service}",
                        "--out", str(folder), cwd=tmp_path)
        assert "ignored PipelineRole (AWS::IAM::Role)" in result.stdout
    result = pipemu("import", str(TEMPLATES / "release-pipeline.yml"), "--map", "repo:e2e-tests=../.pipemu/repos/e2e-tests",
                    "--out", str(folder), cwd=tmp_path)
    assert "nodejs8.10" in result.stderr  # runs on the nearest supported runtime, with a warning
    code = folder / "functions" / "release-pipeline" / "my-release-approval" / "index.js"
    assert "require('aws-sdk')" in code.read_text()  # the inline code, unchanged
    # What AWS keeps elsewhere stands beside the imports: the stacks the deploys run.
    (folder / "local.yml").write_text(yaml.safe_dump({"stacks": {
        name: {"dockerfile": "Dockerfile", "port": 8080, "healthCheck": {"path": "/health", "interval": 0.5}}
        for name in ("service-a", "service-b")}}))
    assert pipemu("validate", str(folder), cwd=tmp_path).stdout.strip() == "ok"
    imported = yaml.safe_load((folder / "my-release-pipeline.yml").read_text())
    assert imported["schedules"][0]["expression"] == "cron(0 1 ? * MON-FRI *)"

    daemon = Daemon(folder, tmp_path / ".pipemu").start()
    try:
        client = daemon.client()
        states = settle_all(client, SERVICES)  # both started when they appeared (commit triggers on)
        for name, state in states.items():
            assert action(state, "StagingDEV", "approve")["status"] == "InProgress", name
        release = client.start_pipeline_execution(name=RELEASE)["pipelineExecutionId"]
        state = settle(client, RELEASE, timeout=600)
        assert action(state, "E2ETesting", "e2e")["status"] == "Succeeded"
        assert release_output(client, release, "StagingQA") == {"approved": ",".join(SERVICES)}
        states = settle_all(client, SERVICES)
        for name, service_state in states.items():
            assert action(service_state, "StagingQA", "approve")["status"] == "InProgress", name
        client.put_approval_result(pipelineName=RELEASE, stageName="StagingProd", actionName="approve",
                                   result={"summary": "go", "status": "Approved"},
                                   token=action(state, "StagingProd", "approve")["token"])
        wait_until(lambda: client.get_pipeline_execution(pipelineName=RELEASE, pipelineExecutionId=release)[
            "pipelineExecution"]["status"] == "Succeeded")
        for name, service_state in settle_all(client, SERVICES).items():
            assert stage(service_state, "StagingPROD")["latestExecution"]["status"] == "Succeeded", name
    finally:
        daemon.stop()


def test_templates_placed_in_the_pipelines_folder(tmp_path, service_repo):
    folder = tmp_path / "pipelines"
    folder.mkdir()
    shutil.copy(TEMPLATES / "release-pipeline.yml", folder / "release-pipeline.yml")
    shutil.copy(TEMPLATES / "service-pipeline.yml", folder / "service-pipeline.yml")  # ServiceName has no value
    (folder / "local.yml").write_text(yaml.safe_dump({"repositories": {"e2e-tests": {"path": str(service_repo)}}}))
    result = subprocess.run([sys.executable, "-m", "emulator.cli", "validate", str(folder)], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 1
    [error] = [line for line in result.stdout.splitlines() if ": warning: " not in line]
    assert error.startswith(f"{folder / 'service-pipeline.yml'}:") and "ServiceName" in error
    daemon = Daemon(folder, tmp_path / "state").start()
    try:
        client = daemon.client()
        assert [p["name"] for p in client.list_pipelines()["pipelines"]] == ["my-release-pipeline"]
        stages = [s["name"] for s in client.get_pipeline(name="my-release-pipeline")["pipeline"]["stages"]]
        assert stages == ["Source", "E2ETesting", "StagingQA", "StagingProd"]
        assert any("ServiceName" in e for e in daemon.health()["definitionErrors"])
        assert (folder / ".pipemu-imports" / "release-pipeline" / "my-release-approval" / "index.js").exists()
    finally:
        daemon.stop()
