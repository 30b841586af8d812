"""Overhead of running actions: N sequential no-op CodeBuild actions through the daemon against
N sequential `docker run --rm` of the same image, side by side in one run (ratio; goal <= 1.0,
must stay <= 1.5). Rounds alternate between the two so that machine noise hits both alike."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator.runner.images import ensure_busybox_image  # noqa: E402
from tests.support.daemon import Daemon, commit, init_repo  # noqa: E402


def pipeline(actions: int, image: str, repo: Path) -> dict:
    build = {"version": 0.2, "phases": {"build": {"commands": ["true"]}}}
    return {
        "pipeline": {"name": "overhead", "stages": [
            {"name": "Source", "actions": [{
                "name": "source", "outputArtifacts": [{"name": "src"}],
                "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
                "configuration": {"RepositoryName": "repo", "BranchName": "main", "PollForSourceChanges": "false"}}]},
            {"name": "Work", "actions": [{
                "name": f"noop-{n:02d}", "runOrder": n, "inputArtifacts": [{"name": "src"}],
                "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
                "configuration": {"ProjectName": "noop"}} for n in range(1, actions + 1)]},
        ]},
        "repositories": {"repo": {"path": str(repo)}},
        "projects": {"noop": {"image": image, "buildspec": build}},
    }


def pipeline_seconds(client) -> float:
    """From the first no-op action's start to the last one's end, by the daemon's own clock."""
    execution = client.start_pipeline_execution(name="overhead")["pipelineExecutionId"]
    while True:
        status = client.get_pipeline_execution(pipelineName="overhead", pipelineExecutionId=execution)[
            "pipelineExecution"]["status"]
        if status != "InProgress":
            break
        time.sleep(0.05)
    assert status == "Succeeded", status
    details = client.list_action_executions(pipelineName="overhead", filter={"pipelineExecutionId": execution},
                                            maxResults=100)["actionExecutionDetails"]
    work = [d for d in details if d["stageName"] == "Work"]
    return (max(d["lastUpdateTime"] for d in work) - min(d["startTime"] for d in work)).total_seconds()


def docker_run_seconds(image: str, n: int) -> float:
    began = time.perf_counter()
    for _ in range(n):
        subprocess.run(["docker", "run", "--rm", image, "true"], check=True, capture_output=True)
    return time.perf_counter() - began


def run(actions: int = 10, rounds: int = 3) -> dict:
    image = ensure_busybox_image(docker.from_env())
    with tempfile.TemporaryDirectory(prefix="pipemu-bench-") as tmp:
        tmp = Path(tmp)
        repo = init_repo(tmp / "repo")
        commit(repo, "bench")
        (tmp / "pipelines").mkdir()
        (tmp / "pipelines" / "overhead.yml").write_text(yaml.safe_dump(pipeline(actions, image, repo)))
        daemon = Daemon(tmp / "pipelines", tmp / "state").start()
        try:
            client = daemon.client()
            pipeline_seconds(client)  # warm-up: image cache, first network
            ours, theirs = [], []
            for _ in range(rounds):
                ours.append(pipeline_seconds(client))
                theirs.append(docker_run_seconds(image, actions))
        finally:
            daemon.stop()
    ratios = [a / b for a, b in zip(ours, theirs)]
    return {
        "name": f"{actions} sequential no-op actions vs {actions} x docker run --rm",
        "pipemu_seconds": [round(x, 3) for x in ours],
        "docker_run_seconds": [round(x, 3) for x in theirs],
        "ratio_median": round(statistics.median(ratios), 3),
        "goal": "<= 1.0 (must stay <= 1.5)",
    }


if __name__ == "__main__":
    result = run()
    print(yaml.safe_dump(result, sort_keys=False))
