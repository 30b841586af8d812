"""Plays the article's scenario (c1..c7, approvals and rejections) against a running daemon on
one service pipeline, committing to its repository as a developer would, and prints the
article's table after every step beside what the article says."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path
from typing import Callable

from . import scenario

STAGES = ["Source", "Building", "StagingDEV", "StagingQA", "StagingPROD"]
JUDGED = ("beforeEntryConditionState", "onSuccessConditionState", "onFailureConditionState")  # a stage's conditions


def client_for(endpoint: str, region: str = "us-east-1"):
    """A CodePipeline client from botocore (any credentials: the daemon accepts them)."""
    import botocore.session

    session = botocore.session.get_session()
    return session.create_client("codepipeline", region_name=region, endpoint_url=endpoint,
                                 aws_access_key_id="pipemu-demo", aws_secret_access_key="pipemu-demo")


def git_commit(repo: Path, label: str) -> str:
    """Commit a change labelled `label`: its content is new on every run (a demo played again
    commits c1 again, and git refuses a commit that changes nothing)."""
    identity = ["-c", "user.name=pipemu demo", "-c", "user.email=demo@pipemu.local"]
    (repo / "demo").mkdir(exist_ok=True)
    (repo / "demo" / f"{label}.txt").write_text(f"change {label} ({uuid.uuid4().hex[:8]}, {time.ctime()})\n")
    for command in (["git", "add", "-A"], ["git", *identity, "commit", "-q", "-m", label]):
        done = subprocess.run(command, cwd=repo, capture_output=True, text=True)
        if done.returncode != 0:
            reason = (done.stderr or done.stdout).strip().splitlines()
            what = "git commit" if "commit" in command else "git add"
            raise RuntimeError(f"{what} in {repo} failed: {reason[-1] if reason else f'exit status {done.returncode}'}")
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


class Demo:
    def __init__(self, client, pipeline: str, repo: Path, say: Callable[[str], None] = print, timeout: float = 600):
        self.client, self.pipeline, self.repo, self.say, self.timeout = client, pipeline, Path(repo), say, timeout
        self.ids: dict[str, str] = {}  # cN -> execution id
        self.labels: dict[str, str] = {}

    def state(self) -> dict:
        return self.client.get_pipeline_state(name=self.pipeline)

    def settle(self) -> dict:
        """Wait until no container action runs and no stage condition is judged (approvals may wait)."""
        deadline = time.monotonic() + self.timeout
        while True:
            state = self.state()
            busy = [a for s in state["stageStates"] for a in s["actionStates"]
                    if a.get("latestExecution", {}).get("status") == "InProgress" and "token" not in a["latestExecution"]]
            busy += [s["stageName"] for s in state["stageStates"] for member in JUDGED
                     if (s.get(member) or {}).get("latestExecution", {}).get("status") == "InProgress"]
            if not busy:
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.pipeline} still busy after {self.timeout:g}s")
            time.sleep(0.2)

    def commit(self, label: str) -> None:
        known = {s["pipelineExecutionId"] for s in self.client.list_pipeline_executions(
            pipelineName=self.pipeline)["pipelineExecutionSummaries"]}
        sha = git_commit(self.repo, label)
        deadline = time.monotonic() + 5
        new = []
        while not new and time.monotonic() < deadline:  # the commit trigger starts it
            new = [s["pipelineExecutionId"] for s in self.client.list_pipeline_executions(
                pipelineName=self.pipeline)["pipelineExecutionSummaries"] if s["pipelineExecutionId"] not in known]
            time.sleep(0.1)
        if not new:  # change detection off: start it, as a developer would with the CLI
            new = [self.client.start_pipeline_execution(
                name=self.pipeline, sourceRevisions=[{"actionName": "source", "revisionType": "COMMIT_ID",
                                                      "revisionValue": sha}])["pipelineExecutionId"]]
        self.ids[label] = new[0]
        self.labels[new[0]] = label

    def answer(self, step: scenario.Step) -> None:
        state = self.state()
        stage = next(s for s in state["stageStates"] if s["stageName"] == step.stage)
        approval = next(a for a in stage["actionStates"] if a["actionName"] == "approve")["latestExecution"]
        if approval.get("status") != "InProgress" or stage["latestExecution"]["pipelineExecutionId"] != self.ids[step.commit]:
            raise RuntimeError(f"{step.commit} does not wait for approval in {step.stage}")
        status = "Approved" if step.verb == "approve" else "Rejected"
        self.client.put_approval_result(pipelineName=self.pipeline, stageName=step.stage, actionName="approve",
                                        result={"summary": f"{step.verb} {step.commit} (pipemu demo)", "status": status},
                                        token=approval["token"])

    def clear_the_way(self) -> list[str]:
        """The story starts on an empty pipeline: executions still running are abandoned."""
        stopped = []
        for summary in self.client.list_pipeline_executions(pipelineName=self.pipeline)["pipelineExecutionSummaries"]:
            if summary["status"] in ("InProgress", "Stopping"):
                self.client.stop_pipeline_execution(pipelineName=self.pipeline, abandon=True,
                                                    pipelineExecutionId=summary["pipelineExecutionId"],
                                                    reason="pipemu demo: the article's scenario starts")
                stopped.append(summary["pipelineExecutionId"])
        return stopped

    def cells(self, state: dict) -> dict[str, str]:
        """Each stage's latest execution of the story; what ran before the story shows as "-"."""
        cells = {}
        for stage in state["stageStates"]:
            latest = stage.get("latestExecution")
            label = self.labels.get(latest["pipelineExecutionId"]) if latest else None
            cells[stage["stageName"]] = scenario.cell(label, latest["status"] if label else None)
        return cells

    def play(self) -> bool:
        for execution_id in self.clear_the_way():
            self.say(f"(stopped execution {execution_id} that was running, so the story starts clean)")
        data = scenario.load()
        columns = data["columns"]
        width = 18
        self.say(f"{'step':<20}" + "".join(f"{c:<{width}}" for c in columns) + "article")
        same = True
        for row in data["rows"]:
            step = scenario.parse_step(row["step"])
            self.commit(step.commit) if step.verb == "commit" else self.answer(step)
            cells = self.cells(self.settle())
            shown = [cells["Source"], *(cells[s] for s in STAGES[2:])]
            expected = row["expect"]
            mark = "same" if shown == expected else "differs: " + " | ".join(expected)
            same = same and shown == expected
            self.say(f"{row['step']:<20}" + "".join(f"{c:<{width}}" for c in shown) + mark)
        return same
