"""Latency a developer feels: from `git commit` returning to the Source action's start on a
pipeline that watches the repository (the daemon's own startTime in ListActionExecutions against
the wall clock at the commit's return; median of 5), and the article's scenario end to end
(c1..c7 with its approvals and rejections, real busybox containers), in seconds."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import docker
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator.runner.images import ensure_busybox_image  # noqa: E402
from tests.e2e import article_pipeline  # noqa: E402
from tests.e2e.waiting import settle  # noqa: E402
from tests.support import article  # noqa: E402
from tests.support.daemon import Daemon, commit, git, init_repo  # noqa: E402


def watched(repo: Path) -> dict:
    return {
        "pipeline": {"name": "watched", "stages": [
            {"name": "Source", "actions": [{
                "name": "source", "outputArtifacts": [{"name": "src"}],
                "configuration": {"RepositoryName": "repo", "BranchName": "main"},
                "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"}}]},
            {"name": "Gate", "actions": [{"name": "approve", "actionTypeId": {
                "category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}}]},
        ]},
        "repositories": {"repo": {"path": str(repo)}},
    }


def executions(client) -> list[str]:
    return [s["pipelineExecutionId"] for s in
            client.list_pipeline_executions(pipelineName="watched")["pipelineExecutionSummaries"]]


def commit_latencies(tmp: Path, samples: int) -> list[float]:
    repo = init_repo(tmp / "repo")
    commit(repo, "initial")
    (tmp / "pipelines").mkdir()
    (tmp / "pipelines" / "watched.yml").write_text(yaml.safe_dump(watched(repo)))
    daemon = Daemon(tmp / "pipelines", tmp / "state").start()
    latencies = []
    try:
        client = daemon.client()
        time.sleep(1.5)  # whatever the initial commit starts settles
        for n in range(samples):
            known = set(executions(client))
            (repo / f"change-{n}.txt").write_text(f"{n}\n")
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "-m", f"change {n}")
            committed = time.time()
            deadline = time.monotonic() + 10
            new = []
            while not new and time.monotonic() < deadline:
                new = [e for e in executions(client) if e not in known]
                time.sleep(0.01)
            assert new, "the commit started nothing in 10 s"
            details = []
            while not details and time.monotonic() < deadline:
                details = [d for d in client.list_action_executions(
                    pipelineName="watched", filter={"pipelineExecutionId": new[0]})["actionExecutionDetails"]
                    if d["stageName"] == "Source"]
            latencies.append(details[0]["startTime"].timestamp() - committed)
            time.sleep(0.5)
    finally:
        daemon.stop()
    return latencies


def article_seconds(tmp: Path, image: str) -> float:
    repo = init_repo(tmp / "svc-repo")
    commit(repo, "initial", {"initial.txt": "initial\n"})
    article_pipeline.write(tmp / "svc-pipelines", article_pipeline.service_pipeline("svc-pipeline", repo, image))
    daemon = Daemon(tmp / "svc-pipelines", tmp / "svc-state").start()
    scenario = article.load()
    try:
        client = daemon.client()
        began = time.perf_counter()
        for row in scenario["rows"]:
            step = article.parse_step(row["step"])
            if step.verb == "commit":
                revision = commit(repo, step.commit)
                client.start_pipeline_execution(name="svc-pipeline", sourceRevisions=[{
                    "actionName": "source", "revisionType": "COMMIT_ID", "revisionValue": revision}])
            else:
                state = client.get_pipeline_state(name="svc-pipeline")
                stage = next(s for s in state["stageStates"] if s["stageName"] == step.stage)
                approval = next(a for a in stage["actionStates"] if a["actionName"] == "approve")
                client.put_approval_result(
                    pipelineName="svc-pipeline", stageName=step.stage, actionName="approve",
                    result={"summary": row["step"], "status": "Approved" if step.verb == "approve" else "Rejected"},
                    token=approval["latestExecution"]["token"])
            settle(client, "svc-pipeline", timeout=120)
        elapsed = time.perf_counter() - began
        summaries = client.list_pipeline_executions(pipelineName="svc-pipeline")["pipelineExecutionSummaries"]
        finals = {s["status"] for s in summaries}
        assert len(summaries) == len([r for r in scenario["rows"] if r["step"].startswith("commit")]), finals
    finally:
        daemon.stop()
    return elapsed


def run(samples: int = 5) -> dict:
    image = ensure_busybox_image(docker.from_env())
    with tempfile.TemporaryDirectory(prefix="pipemu-latency-") as tmp:
        tmp = Path(tmp)
        latencies = commit_latencies(tmp, samples)
        scenario = article_seconds(tmp, image)
    return {
        "name": "commit to Source start (watched repo); article scenario",
        "commit_to_start_seconds": [round(x, 3) for x in latencies],
        "commit_to_start_median": round(statistics.median(latencies), 3),
        "article_scenario_seconds": round(scenario, 2),
        "goal": "commit to start < 0.5 s",
    }


if __name__ == "__main__":
    print(yaml.safe_dump(run(), sort_keys=False))
