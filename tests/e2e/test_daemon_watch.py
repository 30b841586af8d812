"""The daemon on its own: commits start pipelines, edited files reload, broken files keep the
last good version, schedules fire, removed files remove their pipelines, SIGTERM stops cleanly."""

from __future__ import annotations

import signal
import time

import pytest
import yaml

from tests.e2e import article_pipeline
from tests.e2e.waiting import settle
from tests.support.daemon import Daemon, commit, git

pytestmark = pytest.mark.docker


def executions(client, name: str) -> list[dict]:
    return client.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"]


def wait_for(predicate, timeout: float = 10, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(step)
    return result


def approval_only(name: str, repo_name: str = "repo", **source_config) -> dict:
    return {"name": name, "pipelineType": "V2", "stages": [
        {"name": "Source", "actions": [{
            "name": "source", "outputArtifacts": [{"name": "src"}],
            "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
            "configuration": {"RepositoryName": repo_name, "BranchName": "main", **source_config}}]},
        {"name": "Gate", "actions": [{"name": "approve", "actionTypeId": {
            "category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}}]},
    ]}


@pytest.fixture
def folder(tmp_path, service_repo):
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    (pipelines / "repos.yml").write_text(yaml.safe_dump({"repositories": {"repo": {"path": str(service_repo)}}}))
    return pipelines


# serial: "within a second" is the product's claim, measured; on a machine shared with parallel
# tests the daemon's watcher may wait for a CPU longer than that, so it is measured alone.
@pytest.mark.serial
def test_a_commit_starts_its_pipeline_within_a_second(folder, tmp_path, service_repo):
    (folder / "watched.yml").write_text(yaml.safe_dump({"pipeline": approval_only("watched")}))
    daemon = Daemon(folder, tmp_path / "state").start()
    try:
        client = daemon.client()
        wait_for(lambda: len(executions(client, "watched")) == 1)  # the creation run
        head = commit(service_repo, "c2")
        committed = time.monotonic()
        started = wait_for(lambda: len(executions(client, "watched")) == 2)
        latency = time.monotonic() - committed
        newest = executions(client, "watched")[0]
        assert newest["trigger"]["triggerType"] == "CloudWatchEvent"
        assert latency < 1.0, f"commit to start took {latency:.2f}s"
        settle(client, "watched")
        newest = executions(client, "watched")[0]
        assert newest["sourceRevisions"][0]["revisionId"] == head
        git(service_repo, "checkout", "-q", "-b", "other")
        commit(service_repo, "on another branch")
        time.sleep(0.8)
        assert len(executions(client, "watched")) == 2 and started
    finally:
        daemon.stop()


def test_v2_push_filters(folder, tmp_path, service_repo):
    declaration = approval_only("filtered")
    declaration["triggers"] = [{"providerType": "CodeStarSourceConnection", "gitConfiguration": {
        "sourceActionName": "source",
        "push": [{"branches": {"includes": ["release/*"]}, "filePaths": {"includes": ["src/**"]}}]}}]
    (folder / "filtered.yml").write_text(yaml.safe_dump({"pipeline": declaration}))
    git(service_repo, "branch", "release/1")
    daemon = Daemon(folder, tmp_path / "state").start()
    try:
        client = daemon.client()
        baseline = len(executions(client, "filtered"))
        commit(service_repo, "main change", {"src/a.py": "1"})  # not a release branch
        git(service_repo, "checkout", "-q", "release/1")
        commit(service_repo, "docs only", {"docs/readme.md": "x"})  # no file under src/
        time.sleep(0.8)
        assert len(executions(client, "filtered")) == baseline
        head = commit(service_repo, "release fix", {"src/b.py": "2"})
        wait_for(lambda: len(executions(client, "filtered")) == baseline + 1, timeout=5)
        newest = executions(client, "filtered")[0]
        assert newest["trigger"]["triggerType"] == "WebhookV2"
        settle(client, "filtered")
        newest = executions(client, "filtered")[0]
        assert newest["sourceRevisions"][0]["revisionId"] == head
        # The branch pushed to, not the configured one (main), as AWS runs a filtered push.
        details = client.list_action_executions(pipelineName="filtered", filter={
            "pipelineExecutionId": newest["pipelineExecutionId"]})["actionExecutionDetails"]
        source = next(d for d in details if d["actionName"] == "source")
        assert source["output"]["outputVariables"]["BranchName"] == "release/1"
    finally:
        daemon.stop()


def test_edits_reload_broken_files_keep_the_last_good_version(folder, tmp_path):
    path = folder / "edited.yml"
    path.write_text(yaml.safe_dump({"pipeline": approval_only("edited", PollForSourceChanges="false")}))
    daemon = Daemon(folder, tmp_path / "state").start()
    try:
        client = daemon.client()
        assert client.get_pipeline(name="edited")["pipeline"]["version"] == 1
        changed = approval_only("edited", PollForSourceChanges="false")
        changed["stages"].append({"name": "Later", "actions": [{"name": "approve", "actionTypeId": {
            "category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}}]})
        path.write_text(yaml.safe_dump({"pipeline": changed}))
        wait_for(lambda: client.get_pipeline(name="edited")["pipeline"]["version"] == 2, timeout=10)

        broken = yaml.safe_dump({"pipeline": changed}).replace("name: Later", "name: Later\n    runOrder: 0")
        path.write_text(broken)
        errors = wait_for(lambda: daemon.health()["definitionErrors"], timeout=10)
        assert any(e.startswith(f"{path}:") and ": pipeline.stages[2]" in e for e in errors), errors
        assert client.get_pipeline(name="edited")["pipeline"]["version"] == 2  # the last good one serves

        path.write_text(yaml.safe_dump({"pipeline": approval_only("edited", PollForSourceChanges="false")}))
        wait_for(lambda: client.get_pipeline(name="edited")["pipeline"]["version"] == 3, timeout=10)
        assert daemon.health()["definitionErrors"] == []
    finally:
        daemon.stop()


def test_a_removed_file_removes_its_pipeline_once_idle(folder, tmp_path):
    path = folder / "gone.yml"
    path.write_text(yaml.safe_dump({"pipeline": approval_only("gone", PollForSourceChanges="false")}))
    daemon = Daemon(folder, tmp_path / "state").start()
    try:
        client = daemon.client()
        execution = client.start_pipeline_execution(name="gone")["pipelineExecutionId"]
        state = settle(client, "gone")
        path.unlink()
        time.sleep(1)
        assert [p["name"] for p in client.list_pipelines()["pipelines"]] == ["gone"]  # still running
        gate = next(s for s in state["stageStates"] if s["stageName"] == "Gate")
        client.put_approval_result(pipelineName="gone", stageName="Gate", actionName="approve",
                                   result={"summary": "bye", "status": "Approved"},
                                   token=gate["actionStates"][0]["latestExecution"]["token"])
        wait_for(lambda: client.list_pipelines()["pipelines"] == [], timeout=10)
        assert execution
    finally:
        daemon.stop()


def test_the_article_schedule_fires(folder, tmp_path):
    (folder / "nightly.yml").write_text(yaml.safe_dump({
        "pipeline": approval_only("nightly", PollForSourceChanges="false"),
        "schedules": [{"expression": "cron(0 1 ? * MON-FRI *)"}],
    }))
    # Monday 2026-11-30, two seconds before 01:00 UTC.
    daemon = Daemon(folder, tmp_path / "state", env={"PIPEMU_SCHEDULE_CLOCK_START": "2026-11-30T00:59:58Z"}).start()
    try:
        client = daemon.client()
        assert executions(client, "nightly") == []
        fired = wait_for(lambda: executions(client, "nightly"), timeout=8)
        assert fired[0]["trigger"]["triggerType"] == "CloudWatchEvent"
        assert "cron(0 1 ? * MON-FRI *)" in fired[0]["trigger"]["triggerDetail"]
    finally:
        daemon.stop()


def test_sigterm_stops_cleanly_and_hands_running_actions_over(tmp_path, service_repo, busybox_image):
    definition = article_pipeline.service_pipeline("svc-pipeline", service_repo, busybox_image)
    definition["projects"]["svc-pipeline-build"]["buildspec"]["phases"]["build"]["commands"].insert(0, "sleep 3")
    article_pipeline.write(tmp_path / "pipelines", definition)
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    client = daemon.client()
    execution = client.start_pipeline_execution(name="svc-pipeline")["pipelineExecutionId"]
    wait_for(lambda: next(s for s in client.get_pipeline_state(name="svc-pipeline")["stageStates"]
                          if s["stageName"] == "Building").get("latestExecution"))
    began = time.monotonic()
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.process.wait(10) == 0
    assert time.monotonic() - began < 8
    assert "stopped" in daemon.log()
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state", port=daemon.port).start()
    try:
        client = daemon.client()
        state = settle(client, "svc-pipeline")
        building = next(s for s in state["stageStates"] if s["stageName"] == "Building")
        assert building["latestExecution"] == {"pipelineExecutionId": execution, "status": "Succeeded", "type": "STANDARD"}
    finally:
        daemon.stop()
