"""Debugging a failed build: its workspace kept (a project's keepFailed), entered with
`pipemu shell` (files, environment with secrets masked, working folder), the build fixed and run
again alone with `pipemu rerun` (AWS's retry of the stage's failed actions), then cleaned up."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import yaml

from tests.e2e import article_pipeline as ap
from tests.e2e.waiting import settle
from tests.support.daemon import ROOT, Daemon, commit, init_repo

pytestmark = pytest.mark.docker

FAILING = {"version": 0.2, "phases": {"build": {"commands": [
    "echo half-made > made.txt", "test -f fixed.txt"]}}}


def definition(repo, image, buildspec) -> dict:
    return {
        "pipeline": {"name": "dbg", "stages": [
            {"name": "Source", "actions": [ap.codecommit_source("dbg-repo")]},
            {"name": "Build", "actions": [
                ap.codebuild("build", "dbg-build", ["SourceOutput"]),
                ap.codebuild("lint", "dbg-lint", ["SourceOutput"])]},
        ]},
        "repositories": {"dbg-repo": {"path": str(repo)}},
        "projects": {
            "dbg-build": {"image": image, "buildspec": buildspec, "keepFailed": True,
                          "environmentVariables": [{"name": "GREETING", "value": "hello"},
                                                   {"name": "API_TOKEN", "value": "tok-12345678"}]},
            "dbg-lint": {"image": image, "buildspec": {"version": 0.2, "phases": {"build": {"commands": ["true"]}}}},
        },
    }


def pipemu(daemon, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emulator.cli", *args, "--endpoint", daemon.endpoint], cwd=ROOT,
                          input=stdin, capture_output=True, text=True, timeout=300)


def test_shell_into_a_failed_build_then_rerun_it_alone(tmp_path, busybox_image, docker_client):
    repo = init_repo(tmp_path / "repo")
    commit(repo, "initial", {"app.txt": "app\n"})
    ap.write(tmp_path / "pipelines", definition(repo, busybox_image, FAILING))
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    daemon_id = (tmp_path / "state" / "daemon-id").read_text().strip()
    try:
        client = daemon.client()
        execution = client.start_pipeline_execution(name="dbg")["pipelineExecutionId"]
        settle(client, "dbg")
        assert client.get_pipeline_execution(pipelineName="dbg", pipelineExecutionId=execution)[
            "pipelineExecution"]["status"] == "Failed"

        inside = pipemu(daemon, "shell", "dbg", "Build", "build", "-c", "cat made.txt app.txt; pwd; echo $GREETING $API_TOKEN")
        assert inside.returncode == 0, inside.stderr
        assert inside.stdout.split() == ["half-made", "app", "/codebuild/output/src", "hello", "tok-12345678"]
        assert "#   GREETING=hello" in inside.stderr and "#   API_TOKEN=***" in inside.stderr
        assert "tok-12345678" not in inside.stderr  # printed environment: the secret masked
        assert "(Failed)" in inside.stderr.splitlines()[0]
        # Interactive use reads the shell's commands from stdin; its exit status is the command's.
        typed = pipemu(daemon, "shell", "dbg", "Build", "build", stdin="ls; exit 7\n")
        assert typed.returncode == 7 and "made.txt" in typed.stdout.split()
        # The lint succeeded: nothing kept for it, and the answer says how to get a workspace.
        none = pipemu(daemon, "shell", "dbg", "Build", "lint")
        assert none.returncode == 1 and "no workspace was kept" in none.stderr and "--keep-failed" in none.stderr
        refused = pipemu(daemon, "rerun", "dbg", "Build", "lint")
        assert refused.returncode == 1 and "Succeeded, not Failed" in refused.stderr

        # Fixed (the project now makes what the test wants) and run again alone.
        fixed = definition(repo, busybox_image, {"version": 0.2, "phases": {"build": {"commands": [
            "echo ok > fixed.txt", "test -f fixed.txt"]}}})
        (tmp_path / "pipelines" / "dbg.yml").write_text(yaml.safe_dump(fixed))
        time.sleep(1.5)  # the folder watcher's debounce
        again = pipemu(daemon, "rerun", "dbg", "Build", "build")
        assert again.returncode == 0, again.stderr
        assert f"running Build.build of dbg execution {execution} again" in again.stdout
        settle(client, "dbg")
        runs = client.list_action_executions(pipelineName="dbg", filter={"pipelineExecutionId": execution})[
            "actionExecutionDetails"]
        assert [r["status"] for r in runs if r["actionName"] == "build"] == ["Succeeded", "Failed"]
        assert [r["status"] for r in runs if r["actionName"] == "lint"] == ["Succeeded"]  # not run again
        assert [r["status"] for r in runs if r["stageName"] == "Source"] == ["Succeeded"]
        assert client.get_pipeline_execution(pipelineName="dbg", pipelineExecutionId=execution)[
            "pipelineExecution"]["status"] == "Succeeded"
    finally:
        daemon.process.terminate()
        daemon.process.wait(30)
    down = subprocess.run([sys.executable, "-m", "emulator.cli", "down", "--state-dir", str(tmp_path / "state")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert down.returncode == 0 and "removed kept workspace pipemu-kept:" in down.stdout, down.stdout + down.stderr
    assert docker_client.images.list(filters={"label": f"pipemu.daemon={daemon_id}"}) == []
    daemon.stop()
