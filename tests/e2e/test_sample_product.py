"""The sample product as the README's main command serves it: both service pipelines reach DEV."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from emulator import sample
from tests.e2e.waiting import settle
from tests.support.daemon import ROOT, Daemon

pytestmark = pytest.mark.docker


def logs_of(root: Path, action_execution_id: str) -> str:
    with sqlite3.connect(f"file:{root / '.pipemu' / 'state.sqlite3'}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT text FROM action_logs WHERE action_execution_id = ? ORDER BY seq", (action_execution_id,)
        ).fetchall()
    return "\n".join(text for (text,) in rows)


def test_sample_product_reaches_dev_approval(tmp_path, busybox_image):
    for folder in ("pipelines", "sample_services"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    made = sample.prepare_repositories(tmp_path)
    assert sorted(p.name for p in made) == ["service-a", "service-b"]
    assert sample.prepare_repositories(tmp_path) == []  # never remade
    daemon = Daemon(tmp_path / "pipelines", tmp_path / ".pipemu").start()
    try:
        client = daemon.client()
        names = [p["name"] for p in client.list_pipelines()["pipelines"]]
        assert names == ["my-service-a-pipeline", "my-service-b-pipeline"]
        for name in names:
            client.start_pipeline_execution(name=name)
        for name in names:
            state = settle(client, name)
            stages = {s["stageName"]: s for s in state["stageStates"]}
            assert stages["Building"]["latestExecution"]["status"] == "Succeeded"
            dev = stages["StagingDEV"]
            assert dev["latestExecution"]["status"] == "InProgress"
            actions = {a["actionName"]: a["latestExecution"] for a in dev["actionStates"]}
            assert actions["test"]["status"] == "Succeeded"
            assert actions["approve"]["status"] == "InProgress" and actions["approve"]["token"]
            # The container's output is kept per action execution in the state folder.
            service = name.split("-")[2]
            assert f"service-{service} tests passed in DEV" in logs_of(tmp_path, actions["test"]["actionExecutionId"])
    finally:
        daemon.stop()
