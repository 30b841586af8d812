"""Plays a scenario file (scenario.py; the article's c1..c7 by default) against a running daemon
on one pipeline, committing to its repository as a developer would and answering its approvals,
and prints the table after every step beside what the scenario expects. `pipemu demo` plays the
article and tells every row; `pipemu play FILE` stops at the first difference and shows both
tables."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path
from typing import Callable

from . import scenario

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
    def __init__(self, client, pipeline: str, repo: Path, say: Callable[[str], None] = print, timeout: float = 600,
                 story: dict | None = None):
        self.client, self.pipeline, self.repo, self.say, self.timeout = client, pipeline, Path(repo), say, timeout
        self.story = story if story is not None else scenario.load()
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
        stage = next((s for s in state["stageStates"] if s["stageName"] == step.stage), None)
        if stage is None:
            raise RuntimeError(f"{self.pipeline} has no stage {step.stage}")
        # The stage's approval that waits (whatever its name): its token answers it.
        waiting = [a for a in stage["actionStates"]
                   if (a.get("latestExecution") or {}).get("status") == "InProgress" and "token" in a["latestExecution"]]
        latest = (stage.get("latestExecution") or {}).get("pipelineExecutionId")
        if step.commit not in self.ids or not waiting or latest != self.ids[step.commit]:
            raise RuntimeError(f"{step.commit} does not wait for approval in {step.stage}")
        status = "Approved" if step.verb == "approve" else "Rejected"
        self.client.put_approval_result(pipelineName=self.pipeline, stageName=step.stage, actionName=waiting[0]["actionName"],
                                        result={"summary": f"{step.verb} {step.commit} (pipemu)", "status": status},
                                        token=waiting[0]["latestExecution"]["token"])

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

    def play(self, stop_at_difference: bool = False) -> bool:
        """Every row in turn; True when each table was as expected. With `stop_at_difference`
        the first row that differs ends the play, both tables shown up to it."""
        for execution_id in self.clear_the_way():
            self.say(f"(stopped execution {execution_id} that was running, so the story starts clean)")
        columns, stages = self.story["columns"], self.story["stages"]
        width = max(18, *(len(str(c)) + 2 for c in columns))
        first = max(20, *(len(str(row["step"])) + 2 for row in self.story["rows"]))
        header = f"{'step':<{first}}" + "".join(f"{c:<{width}}" for c in columns)
        self.say(header + "expected")
        same, seen = True, []
        for row in self.story["rows"]:
            step = scenario.parse_step(row["step"], self.story)
            self.commit(step.commit) if step.verb == "commit" else self.answer(step)
            cells = self.cells(self.settle())
            missing = [s for s in stages if s not in cells]
            if missing:
                raise RuntimeError(f"{self.pipeline} has no stage {missing[0]} (the scenario's stages: {stages})")
            shown = scenario.shown_columns(cells, columns)
            expected = [str(c) for c in row["expect"]]
            seen.append((row["step"], shown, expected))
            mark = "same" if shown == expected else "differs: " + " | ".join(expected)
            same = same and shown == expected
            self.say(f"{row['step']:<{first}}" + "".join(f"{c:<{width}}" for c in shown) + mark)
            if stop_at_difference and shown != expected:
                for title, pick in (("expected", 2), ("seen", 1)):
                    self.say(f"\n{title}:\n{header}")
                    for entry in seen:
                        self.say(f"{entry[0]:<{first}}" + "".join(f"{c:<{width}}" for c in entry[pick]))
                break
        return same
