"""pipemu.testing's handle on one daemon: commit as a developer would, answer approvals, wait,
and read the pipelines back as the article's table (emulator/demo/scenario.py's cells).

Executions are named by the label of the commit that started them (`commit("service-a", "c1")`
makes "c1"), so a test reads like the article: `kit.assert_table("my-service-a-pipeline",
["c2 ✓", "c1 ◯", "-"])`.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import yaml

from emulator.demo import scenario

from .daemon import Daemon, init_repo
from .waiting import running_actions, settle, wait_for

GIT_IDENTITY = ["-c", "user.name=pipemu testing", "-c", "user.email=testing@pipemu.local"]


class Pipemu:
    """A started daemon (`daemon`) on the definitions folder `pipelines`."""

    def __init__(self, daemon: Daemon, pipelines: Path, repositories: dict[str, Path]):
        self.daemon, self.pipelines, self.repositories = daemon, Path(pipelines), repositories
        self._client = None
        self._shas: dict[str, str] = {}  # commit id -> label
        self._labels: dict[str, str] = {}  # pipeline execution id -> label

    @property
    def endpoint(self) -> str:
        return self.daemon.endpoint

    def client(self, service: str = "codepipeline"):
        """A boto3 client of the daemon (CodePipeline by default; "lambda", "events", "sns" too)."""
        if service == "codepipeline":
            if self._client is None:
                self._client = self.daemon.client()
            return self._client
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    # -- acting as a developer ----------------------------------------------------------------

    def commit(self, repository: str | Path, label: str, files: dict[str, str] | None = None, *,
               starts: bool = True, timeout: float = 15) -> list[str]:
        """Commit `files` (by default a new `<label>.txt`) to a declared repository (its name) or a
        git folder, labelled `label`; the executions it started (waited for when `starts`)."""
        repo = Path(self.repositories.get(str(repository), repository))
        known = self._all_executions()
        for name, text in (files or {f"{label}.txt": f"change {label} ({uuid.uuid4().hex[:8]})\n"}).items():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_text(text)
        for command in (["git", "add", "-A"], ["git", *GIT_IDENTITY, "commit", "-q", "--allow-empty", "-m", label]):
            subprocess.run(command, cwd=repo, check=True, capture_output=True, text=True)
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True,
                             text=True).stdout.strip()
        self._shas[sha] = label
        if not starts:
            return []
        new = wait_for(lambda: [e for e in self._all_executions() if e not in known], timeout,
                       f"a pipeline to start on commit {label} ({sha[:8]}) in {repo}")
        for execution in new:
            self._labels.setdefault(execution, label)
        return new

    def tag(self, repository: str | Path, label: str) -> str:
        """Label the repository's current commit (one the test did not make, such as the commit
        a pipeline started on when it appeared): its executions show as `label`."""
        repo = Path(self.repositories.get(str(repository), repository))
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True,
                             text=True).stdout.strip()
        self._shas[sha] = label
        return sha

    def start(self, pipeline: str, label: str | None = None, **parameters) -> str:
        """StartPipelineExecution, the execution labelled `label` (by default its id's start)."""
        execution = self.client().start_pipeline_execution(name=pipeline, **parameters)["pipelineExecutionId"]
        self._labels[execution] = label or execution[:8]
        return execution

    def approve(self, pipeline: str, stage: str, which: str | None = None, summary: str = "approved (pipemu.testing)",
                action: str | None = None) -> None:
        """Approve the approval waiting in `stage` for `which` (a label or execution id; any by default)."""
        self._answer(pipeline, stage, which, "Approved", summary, action)

    def reject(self, pipeline: str, stage: str, which: str | None = None, summary: str = "rejected (pipemu.testing)",
               action: str | None = None) -> None:
        self._answer(pipeline, stage, which, "Rejected", summary, action)

    def _answer(self, pipeline, stage, which, status, summary, action) -> None:
        state = self.client().get_pipeline_state(name=pipeline)
        found = next((s for s in state["stageStates"] if s["stageName"] == stage), None)
        if found is None:
            raise AssertionError(f"{pipeline} has no stage {stage}")
        waiting = [a for a in found["actionStates"] if (action is None or a["actionName"] == action)
                   and (a.get("latestExecution") or {}).get("status") == "InProgress" and "token" in a["latestExecution"]]
        latest = (found.get("latestExecution") or {}).get("pipelineExecutionId")
        if not waiting or (which is not None and which not in (latest, self.label(latest))):
            raise AssertionError(f"{which or 'nothing'} waits for approval in {pipeline}.{stage} "
                                 f"(there: {self.label(latest) if latest else 'nothing'})")
        self.client().put_approval_result(pipelineName=pipeline, stageName=stage, actionName=waiting[0]["actionName"],
                                          result={"summary": summary, "status": status},
                                          token=waiting[0]["latestExecution"]["token"])

    # -- waiting and reading ------------------------------------------------------------------

    def wait(self, pipeline: str | None = None, timeout: float = 60) -> dict:
        """The pipeline's state once no action runs but approvals (every pipeline's, as a dict by
        name, without `pipeline`): waits until the whole daemon is quiet."""
        if pipeline is not None:
            return settle(self.client(), pipeline, timeout)
        deadline = time.monotonic() + timeout
        while True:  # a pipeline's action may start another's (a release Lambda approving)
            states = {name: settle(self.client(), name, max(1.0, deadline - time.monotonic()))
                      for name in self.pipeline_names()}
            busy = [n for n in states if running_actions(self.client().get_pipeline_state(name=n))]
            if not busy:
                return states
            if time.monotonic() > deadline:
                raise AssertionError(f"still running after {timeout}s: {busy}")

    def pipeline_names(self) -> list[str]:
        return [p["name"] for p in self.client().list_pipelines()["pipelines"]]

    def label(self, execution_id: str | None) -> str | None:
        """The label of the commit (or start) behind an execution; None for one of no commit of the test."""
        if execution_id is None:
            return None
        if execution_id not in self._labels:
            for pipeline in self.pipeline_names():
                for summary in self._summaries(pipeline):
                    for revision in summary.get("sourceRevisions", []):
                        if revision.get("revisionId") in self._shas:
                            self._labels.setdefault(summary["pipelineExecutionId"], self._shas[revision["revisionId"]])
        return self._labels.get(execution_id)

    def cells(self, pipeline: str, state: dict | None = None) -> dict[str, str]:
        """Each stage's article cell: "c1 ◯", "c1 ✓", "c1 ✗", or "-" where no labelled execution ran."""
        state = state or self.client().get_pipeline_state(name=pipeline)
        cells = {}
        for stage in state["stageStates"]:
            latest = stage.get("latestExecution")
            label = self.label(latest["pipelineExecutionId"]) if latest else None
            cells[stage["stageName"]] = scenario.cell(label, latest["status"] if label else None)
        return cells

    def table(self, pipeline: str, columns: list[str] | None = None) -> list[str]:
        """The article's row for `pipeline`: a cell per column; a column "Source+Building" covers
        both stages (shown once when they agree). By default a column per stage."""
        cells = self.cells(pipeline)
        return scenario.shown_columns(cells, columns or list(cells))

    def assert_table(self, pipeline: str, expected: list[str], columns: list[str] | None = None) -> None:
        """After waiting for the pipeline to settle, its row is `expected` (the assertion shows both)."""
        self.wait(pipeline)
        shown = self.table(pipeline, columns)
        assert shown == list(expected), f"{pipeline}: table {shown} != expected {list(expected)}"

    def action_execution(self, pipeline: str, stage: str, action: str, which: str | None = None) -> dict:
        """The latest action execution detail of `stage`.`action` (of the execution `which`, a label or id)."""
        found = [d for d in self._details(pipeline) if d["stageName"] == stage and d["actionName"] == action
                 and which in (None, d["pipelineExecutionId"], self.label(d["pipelineExecutionId"]))]
        assert found, f"{pipeline}.{stage}.{action} has not run" + (f" for {which}" if which else "")
        return found[0]  # newest first, as AWS lists them

    def output_variables(self, pipeline: str, stage: str, action: str, which: str | None = None) -> dict[str, str]:
        return self.action_execution(pipeline, stage, action, which).get("output", {}).get("outputVariables", {})

    def action_log(self, pipeline: str, stage: str, action: str, which: str | None = None) -> str:
        """The kept log of that action execution (what its container or simulation printed)."""
        return self.daemon.action_log(self.action_execution(pipeline, stage, action, which)["actionExecutionId"])

    def _details(self, pipeline: str) -> list[dict]:
        pages = self.client().get_paginator("list_action_executions").paginate(pipelineName=pipeline)
        return [d for page in pages for d in page["actionExecutionDetails"]]

    def _summaries(self, pipeline: str) -> list[dict]:
        pages = self.client().get_paginator("list_pipeline_executions").paginate(pipelineName=pipeline)
        return [s for page in pages for s in page["pipelineExecutionSummaries"]]

    def _all_executions(self) -> set[str]:
        return {s["pipelineExecutionId"] for p in self.pipeline_names() for s in self._summaries(p)}

    def stop(self) -> None:
        self.daemon.stop()


def start_daemon(root: Path, definitions: Path | dict[str, dict | str], *, simulate: bool = True,
                 env: dict[str, str] | None = None) -> Pipemu:
    """Start a daemon whose state is under `root`. `definitions` is a folder of definition files
    (used where it is: its relative paths stay right) or {file name: mapping or YAML text}, written
    to `root/pipelines`. Declared repositories missing on disk are made (empty, branch main), so
    a test's first commit starts their pipelines. `simulate` starts it with PIPEMU_SIMULATE=1."""
    from emulator.definitions.loader import load_folder

    root = Path(root)
    if isinstance(definitions, dict):
        folder = root / "pipelines"
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in definitions.items():
            text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
            (folder / name).write_text(text, encoding="utf-8")
    else:
        folder = Path(definitions)
    loaded = load_folder(folder)
    if loaded.errors:
        raise ValueError("the definitions do not load:\n" + "\n".join(map(str, loaded.errors)))
    repositories = {}
    for name, repository in loaded.repositories.items():
        path = Path(repository.path)
        if not (path / ".git").exists() and not (path / "HEAD").exists():
            init_repo(path)
        repositories[name] = path
    environment = {"PIPEMU_SIMULATE": "1" if simulate else "0", **(env or {})}
    daemon = Daemon(folder, root / ".pipemu-state", env=environment).start()
    return Pipemu(daemon, folder, repositories)
