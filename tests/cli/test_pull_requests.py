"""`pipemu pr open|update|close` against the real daemon and a real git repository: pipelines
whose V2 triggers filter pull requests start on the source branch's head, with trigger WebhookV2
and the source variables of that branch; the events, destination branches and file paths that
do not pass say why."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest
import yaml

from tests.e2e.waiting import wait_for
from tests.support.daemon import ROOT, Daemon, commit, git, init_repo

CONNECTION = "arn:aws:codeconnections:us-east-1:123456789012:connection/5c2b7e8a-1f3d-4b6a-9e0c-7d8f9a0b1c2d"


def pipeline(name: str, pull_request: list[dict]) -> dict:
    """A V2 pipeline as the user guide's trigger examples write one: a connection source, its
    trigger filtering pull requests, and an approval to hold the execution."""
    return {
        "name": name,
        "pipelineType": "V2",
        "executionMode": "QUEUED",
        "triggers": [{"providerType": "CodeStarSourceConnection",
                      "gitConfiguration": {"sourceActionName": "Source", "pullRequest": pull_request}}],
        "stages": [
            {"name": "Source", "actions": [{
                "name": "Source", "namespace": "SourceVariables",
                "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeStarSourceConnection",
                                 "version": "1"},
                "configuration": {"ConnectionArn": CONNECTION, "FullRepositoryId": "acme/shop-api",
                                  "BranchName": "main", "DetectChanges": "false"},
                "outputArtifacts": [{"name": "SourceArtifact"}],
            }]},
            {"name": "Review", "actions": [{
                "name": "LookAtIt",
                "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"},
            }]},
        ],
    }


@pytest.fixture
def setup(tmp_path):
    repo = init_repo(tmp_path / "shop-api")
    commit(repo, "Initial service", {"src/app.py": "print('shop')\n", "docs/README.md": "# Shop\n"})
    git(repo, "checkout", "-q", "-b", "feature/cart")
    head = commit(repo, "Add a cart", {"src/cart.py": "CART = []\n"})
    git(repo, "checkout", "-q", "main")
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "pr-checks.yml").write_text(yaml.safe_dump({
        "pipeline": pipeline("pr-checks", [{"events": ["OPEN", "UPDATED"],
                                            "branches": {"includes": ["main", "release/**"]},
                                            "filePaths": {"includes": ["src/**"], "excludes": ["**/*.md"]}}]),
        "repositories": {"acme/shop-api": {"path": str(repo)}},
    }))
    (folder / "pr-closed.yml").write_text(yaml.safe_dump({
        "pipeline": pipeline("pr-closed", [{"events": ["CLOSED"], "branches": {"includes": ["main"]}}]),
    }))
    daemon = Daemon(folder, tmp_path / "state").start()
    yield daemon, repo, head
    daemon.stop()


def pr(daemon, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "emulator.cli", "pr", *args, "--endpoint", daemon.endpoint, "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def source_run(client, pipeline: str, execution_id: str) -> dict:
    def finished():
        details = client.list_action_executions(pipelineName=pipeline, filter={"pipelineExecutionId": execution_id})
        return [d for d in details["actionExecutionDetails"] if d["actionName"] == "Source" and d["status"] != "InProgress"]
    return wait_for(finished, what=f"{pipeline}'s source action")[0]


def test_open_update_close_drive_the_pipelines(setup):
    daemon, repo, head = setup
    client = daemon.client()

    opened = pr(daemon, "open", "acme/shop-api", "--source", "feature/cart", "--destination", "main",
                "--title", "Shopping cart")
    assert opened["pullRequest"]["id"] == 1 and opened["pullRequest"]["status"] == "OPEN"
    assert [s["pipelineName"] for s in opened["started"]] == ["pr-checks"]
    assert opened["notMatched"] == [{"pipelineName": "pr-closed", "reason": "event OPEN is not one of CLOSED"}]
    first = opened["started"][0]["pipelineExecutionId"]
    execution = client.get_pipeline_execution(pipelineName="pr-checks", pipelineExecutionId=first)["pipelineExecution"]
    assert execution["trigger"]["triggerType"] == "WebhookV2"
    assert "acme/shop-api#1 OPEN" in execution["trigger"]["triggerDetail"]
    run = source_run(client, "pr-checks", first)
    assert run["status"] == "Succeeded", run
    variables = run["output"]["outputVariables"]
    assert (variables["CommitId"], variables["BranchName"], variables["FullRepositoryName"]) == (
        head, "feature/cart", "acme/shop-api")
    assert variables["CommitMessage"] == "Add a cart"

    git(repo, "checkout", "-q", "feature/cart")
    newer = commit(repo, "Cart totals", {"src/cart.py": "CART = []\nTOTAL = 0\n"})
    git(repo, "checkout", "-q", "main")
    updated = pr(daemon, "update", "acme/shop-api", "--source", "feature/cart")
    assert updated["pullRequest"]["commits"] == [head, newer]
    second = updated["started"][0]["pipelineExecutionId"]
    run = source_run(client, "pr-checks", second)
    assert run["output"]["outputVariables"]["CommitId"] == newer

    closed = pr(daemon, "close", "acme/shop-api", "1", "--merge")
    assert closed["pullRequest"]["status"] == "MERGED"
    assert [s["pipelineName"] for s in closed["started"]] == ["pr-closed"]
    assert "event CLOSED is not one of OPEN, UPDATED" in closed["notMatched"][0]["reason"]
    trigger = client.get_pipeline_execution(pipelineName="pr-closed",
                                            pipelineExecutionId=closed["started"][0]["pipelineExecutionId"])
    assert trigger["pipelineExecution"]["trigger"]["triggerType"] == "WebhookV2"

    listed = pr(daemon, "list", "acme/shop-api")
    assert [(p["id"], p["status"], p["title"]) for p in listed] == [(1, "MERGED", "Shopping cart")]
    # No push started anything: pull-request triggers only.
    for name in ("pr-checks", "pr-closed"):
        summaries = client.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"]
        assert {s["trigger"]["triggerType"] for s in summaries} <= {"WebhookV2", "CreatePipeline"}


def test_branch_and_file_path_filters_that_do_not_pass(setup):
    daemon, repo, _ = setup
    git(repo, "checkout", "-q", "-b", "docs-only")
    commit(repo, "Explain the cart", {"docs/cart.md": "The cart keeps items.\n", "src/NOTES.md": "notes\n"})
    git(repo, "checkout", "-q", "-b", "develop", "main")
    git(repo, "checkout", "-q", "main")

    docs = pr(daemon, "open", "acme/shop-api", "--source", "docs-only", "--destination", "main")
    assert docs["started"] == []
    reason = {n["pipelineName"]: n["reason"] for n in docs["notMatched"]}["pr-checks"]
    assert "none of the changed files" in reason and "docs/cart.md" in reason

    elsewhere = pr(daemon, "open", "acme/shop-api", "--source", "feature/cart", "--destination", "develop")
    assert elsewhere["started"] == []
    reason = {n["pipelineName"]: n["reason"] for n in elsewhere["notMatched"]}["pr-checks"]
    assert reason.startswith("destination branch develop does not pass branches")

    client = daemon.client()
    before = client.list_pipeline_executions(pipelineName="pr-checks")["pipelineExecutionSummaries"]
    assert [s for s in before if s["trigger"]["triggerType"] == "WebhookV2"] == []
    # A push to the configured branch starts nothing either: the trigger filters pull requests only.
    commit(repo, "Hotfix on main", {"src/app.py": "print('shop!')\n"})
    time.sleep(2)  # the git watcher reports a commit within a second
    after = client.list_pipeline_executions(pipelineName="pr-checks")["pipelineExecutionSummaries"]
    assert len(after) == len(before)


def test_what_the_daemon_refuses(setup):
    daemon, _, _ = setup
    cases = [
        (["open", "acme/nothing", "--source", "feature/cart", "--destination", "main"], "no repository 'acme/nothing'"),
        (["open", "acme/shop-api", "--source", "no-such-branch", "--destination", "main"], "no-such-branch"),
        (["update", "acme/shop-api", "7"], "no pull request #7"),
        (["open", "acme/shop-api", "--source", "feature/cart", "--destination", "main"], "open already"),
    ]
    # What a person reads: what started, with its execution id, and what did not and why.
    proc = subprocess.run([sys.executable, "-m", "emulator.cli", "pr", "open", "acme/shop-api", "--source", "feature/cart",
                           "--destination", "main", "--endpoint", daemon.endpoint],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("pull request acme/shop-api#1 (OPEN): feature/cart -> main at ")
    assert re.fullmatch(r"  started pr-checks: [0-9a-f-]{36}", lines[1]), lines
    assert lines[2] == "  not started pr-closed: event OPEN is not one of CLOSED"
    for args, words in cases:
        proc = subprocess.run([sys.executable, "-m", "emulator.cli", "pr", *args, "--endpoint", daemon.endpoint],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 4, (args, proc.stdout, proc.stderr)
        assert words in proc.stderr
