"""The Docker engine restarted mid-run: actions fail with a reason or recover, the daemon keeps
serving, nothing is left behind.

This test stops the machine's dockerd and starts it again, so it runs after every other test
(the `engine_restart` marker: tests/conftest.py orders it last) and always leaves an engine up.
"""

from __future__ import annotations

import docker
import pytest

from tests.e2e import article_pipeline
from tests.e2e.waiting import wait_for
from tests.support.daemon import Daemon, commit
from tests.support.engine import Engine, answers
from tests.support.environment import engine_tests_allowed, unavailable

pytestmark = [pytest.mark.docker, pytest.mark.engine_restart]
PIPELINE = "engine-restart"
SLOW = {"version": 0.2, "phases": {"build": {"commands": [
    "echo build began", "if [ ! -f fast.txt ]; then sleep 60; fi", "echo build ended"]}}}


def _definition(repo, image: str) -> dict:
    return {
        "pipeline": {
            "name": PIPELINE,
            "roleArn": "arn:aws:iam::123456789012:role/pipeline",
            "pipelineType": "V2",
            # Executions do not wait for each other: one can start while another's build hangs.
            "executionMode": "PARALLEL",
            "stages": [
                {"name": "Source", "actions": [article_pipeline.codecommit_source("repo")]},
                {"name": "Build", "actions": [article_pipeline.codebuild("build", "slow", ["SourceOutput"])]},
            ],
        },
        "repositories": {"repo": {"path": str(repo)}},
        "projects": {"slow": {"image": image, "buildspec": SLOW}},
    }


def _build(client, execution_id: str) -> dict | None:
    details = client.list_action_executions(
        pipelineName=PIPELINE, filter={"pipelineExecutionId": execution_id})["actionExecutionDetails"]
    return next((d for d in details if d["stageName"] == "Build"), None)


def _error(detail: dict) -> str:
    return detail["output"]["executionResult"]["errorDetails"]["message"]


def _ended(client, execution_id: str):
    execution = client.get_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=execution_id)
    status = execution["pipelineExecution"]["status"]
    return status if status not in ("InProgress", "Stopping") else None


def test_engine_restart_mid_build(tmp_path, service_repo, busybox_image, docker_client):
    engine_tests_allowed()
    engine = Engine.find()
    if isinstance(engine, str):
        unavailable(f"cannot restart the Docker engine here: {engine}")
    article_pipeline.write(tmp_path / "pipelines", _definition(service_repo, busybox_image))
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    client = daemon.client()
    try:
        first = client.start_pipeline_execution(name=PIPELINE)["pipelineExecutionId"]
        running = wait_for(lambda: (b := _build(client, first)) and b["status"] == "InProgress"
                           and "build began" in daemon.action_log(b["actionExecutionId"]) and b,
                           60, what="the build to run")

        engine.stop()
        assert not answers()
        # The daemon keeps serving with no engine: health, state, history, new executions.
        assert daemon.health()["status"] == "ok"
        state = client.get_pipeline_state(name=PIPELINE)
        assert [s["stageName"] for s in state["stageStates"]] == ["Source", "Build"]
        second = client.start_pipeline_execution(name=PIPELINE)["pipelineExecutionId"]
        # A build that starts now fails at once, and says why.
        assert wait_for(lambda: _ended(client, second), 60, what="the second execution to fail") == "Failed"
        failed = _build(client, second)
        assert failed["status"] == "Failed"
        assert _error(failed).startswith("Docker engine unavailable at unix://"), _error(failed)

        engine.start()
        # The build that ran across the restart: the engine stopped its container, so it fails
        # and its reason names the restart (with live-restore it would have gone on and succeeded).
        outcome = wait_for(lambda: _ended(client, first), 120, what="the first execution to end")
        build = _build(client, first)
        log = daemon.action_log(running["actionExecutionId"])
        if outcome == "Failed":
            assert _error(build).endswith("the Docker engine restarted while the build ran"), (_error(build), log)
            assert "the Docker engine stopped answering" in log
        else:
            assert outcome == "Succeeded" and "build ended" in log, log

        # With the engine back, the same daemon runs builds again (no restart of ours needed).
        commit(service_repo, "fast", {"fast.txt": "no sleeping\n"})
        third = client.start_pipeline_execution(name=PIPELINE)["pipelineExecutionId"]
        assert wait_for(lambda: _ended(client, third), 120, what="the third execution to end") == "Succeeded"
        # Every action container is gone, the one left behind by the engine's restart included.
        daemon_id = (tmp_path / "state" / "daemon-id").read_text().strip()
        leftovers = wait_for(lambda: not [
            c["Names"][0] for c in docker.from_env().api.containers(  # summaries: no inspect race
                all=True, filters={"label": [f"pipemu.daemon={daemon_id}", "pipemu.action-execution"]})
        ] and "none", 30, what="action containers to be removed")
        assert leftovers == "none"
        assert daemon.process.poll() is None, daemon.log()
    finally:
        engine.ensure_running()
        daemon.stop()
