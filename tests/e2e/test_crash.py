"""The state folder survives kill -9 of the daemon: executions, waiting positions, approval tokens."""

from __future__ import annotations

import pytest

from tests.e2e import article_pipeline
from tests.e2e.waiting import settle
from tests.support.daemon import Daemon
from emulator.runner.containers import list_containers

pytestmark = pytest.mark.docker
PIPELINE = "svc-pipeline"


def approval_of(state: dict, stage: str) -> dict:
    stage_state = next(s for s in state["stageStates"] if s["stageName"] == stage)
    return next(a for a in stage_state["actionStates"] if a["actionName"] == "approve")["latestExecution"]


def test_pending_approval_survives_kill_9(tmp_path, service_repo, busybox_image):
    article_pipeline.write(tmp_path / "pipelines", article_pipeline.service_pipeline(PIPELINE, service_repo, busybox_image))
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    client = daemon.client()
    first = client.start_pipeline_execution(name=PIPELINE)["pipelineExecutionId"]
    settle(client, PIPELINE)
    second = client.start_pipeline_execution(name=PIPELINE)["pipelineExecutionId"]
    before = settle(client, PIPELINE)
    token = approval_of(before, "StagingDEV")["token"]
    daemon.kill()

    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state", port=daemon.port).start()
    try:
        client = daemon.client()
        after = client.get_pipeline_state(name=PIPELINE)
        # Same state: the same execution inside DEV with the same token, the second one waiting.
        assert approval_of(after, "StagingDEV") == approval_of(before, "StagingDEV")
        dev = next(s for s in after["stageStates"] if s["stageName"] == "StagingDEV")
        assert dev["inboundExecution"]["pipelineExecutionId"] == second
        assert dev["latestExecution"] == {"pipelineExecutionId": first, "status": "InProgress", "type": "STANDARD"}
        assert after["pipelineVersion"] == before["pipelineVersion"] == 1
        # And still approvable: the first moves to QA, the second enters DEV.
        client.put_approval_result(
            pipelineName=PIPELINE, stageName="StagingDEV", actionName="approve",
            result={"summary": "after the crash", "status": "Approved"}, token=token,
        )
        state = settle(client, PIPELINE)
        stages = {s["stageName"]: s.get("latestExecution") for s in state["stageStates"]}
        assert stages["StagingQA"] == {"pipelineExecutionId": first, "status": "InProgress", "type": "STANDARD"}
        assert stages["StagingDEV"] == {"pipelineExecutionId": second, "status": "InProgress", "type": "STANDARD"}
        with pytest.raises(client.exceptions.ApprovalAlreadyCompletedException):
            client.put_approval_result(
                pipelineName=PIPELINE, stageName="StagingDEV", actionName="approve",
                result={"summary": "again", "status": "Approved"}, token=token,
            )
    finally:
        daemon.stop()


def test_left_over_containers_of_ended_actions_are_removed_on_start(tmp_path, service_repo, busybox_image,
                                                                      docker_client):
    article_pipeline.write(tmp_path / "pipelines", article_pipeline.service_pipeline(PIPELINE, service_repo, busybox_image))
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    daemon_id = (tmp_path / "state" / "daemon-id").read_text().strip()
    stray = docker_client.containers.create(
        busybox_image, ["sleep", "60"], labels={"pipemu.daemon": daemon_id, "pipemu.action-execution": "gone"})
    other = docker_client.containers.create(
        busybox_image, ["sleep", "60"], labels={"pipemu.daemon": "someone-else", "pipemu.action-execution": "x"})
    try:
        daemon.kill()
        daemon = Daemon(tmp_path / "pipelines", tmp_path / "state", port=daemon.port).start()
        names = {c.name for c in list_containers(docker_client)}
        assert stray.name not in names  # ours, and no action of ours runs: removed
        assert other.name in names  # another daemon's: untouched
    finally:
        other.remove(force=True)
        daemon.stop()


def test_action_running_at_kill_9_is_finished_after_restart(tmp_path, service_repo, busybox_image, docker_client):
    definition = article_pipeline.service_pipeline(PIPELINE, service_repo, busybox_image)
    definition["projects"][f"{PIPELINE}-build"]["buildspec"] = {
        "version": 0.2,
        "phases": {"build": {"commands": ["sleep 3", "mkdir -p dist", "echo slow > dist/app.txt"]}},
        "artifacts": {"files": ["**/*"], "base-directory": "dist"},
    }
    article_pipeline.write(tmp_path / "pipelines", definition)
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    client = daemon.client()
    execution = client.start_pipeline_execution(name=PIPELINE)["pipelineExecutionId"]
    import time

    deadline = time.monotonic() + 30
    while True:  # kill once the build's container runs
        state = client.get_pipeline_state(name=PIPELINE)
        build = next(s for s in state["stageStates"] if s["stageName"] == "Building")["actionStates"][0]
        build_id = build.get("latestExecution", {}).get("actionExecutionId")
        running = build_id and docker_client.api.containers(  # a summary list: no inspect to race with
            filters={"label": f"pipemu.action-execution={build_id}", "status": "running"})
        if running:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    daemon.kill()
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state", port=daemon.port).start()
    try:
        client = daemon.client()
        state = settle(client, PIPELINE)
        stages = {s["stageName"]: s.get("latestExecution") for s in state["stageStates"]}
        assert stages["Building"] == {"pipelineExecutionId": execution, "status": "Succeeded", "type": "STANDARD"}
        assert stages["StagingDEV"] == {"pipelineExecutionId": execution, "status": "InProgress", "type": "STANDARD"}
        # The build container was re-attached (not run again), finished and removed.
        logs = daemon.action_log(build_id)
        assert logs.count("[pipemu] re-attaching to container") == 1
        assert logs.count("[Container] Entering phase BUILD") == 1, logs
        # A container goes once its action's result is committed, so just after the state shows it.
        removal = time.monotonic() + 10
        while left := list_containers(docker_client, {"label": f"pipemu.execution={execution}"}):
            assert time.monotonic() < removal, [c.name for c in left]
            time.sleep(0.1)
    finally:
        daemon.stop()
