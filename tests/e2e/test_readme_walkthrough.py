"""The README's walkthrough, run as written: its ```sh block (found by its heading, not by line
numbers) is played line by line with bash and the real AWS CLI against the sample product, served
as scripts/run-sample.sh serves it (on a copy of the project, without published ports), and what
each line's comment claims is checked through boto3. A README line whose comment has no check
here fails the test, so the walkthrough cannot go stale again."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from emulator import sample
from tests.e2e.waiting import action_of, settle, stage_of, wait_for
from tests.support.daemon import ROOT, Daemon, git

pytestmark = pytest.mark.docker
MARKER = "A walkthrough (another terminal, while `scripts/run-sample.sh` serves)"
README_ENDPOINT = "http://127.0.0.1:7788"  # run-sample.sh's default port, the block's endpoint
SERVICES = ["my-service-a-pipeline", "my-service-b-pipeline"]
RELEASE = "my-release-pipeline"


def walkthrough(readme: Path) -> list[tuple[str, str]]:
    """The block's logical lines (backslash continuations joined), each as (command, comment)."""
    text = readme.read_text()
    assert MARKER in text, "the README's walkthrough heading moved: update MARKER"
    start = text.index("```sh\n", text.index(MARKER)) + len("```sh\n")
    block = text[start:text.index("\n```", start)].replace("\\\n", " ")
    steps = []
    for line in block.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        mark = re.search(r"\s+#\s+", line)  # a comment after the command: what it claims
        command, comment = (line[:mark.start()], line[mark.end():]) if mark else (line, "")
        steps.append((command.strip(), comment.strip()))
    return steps


def latest_of(client, pipeline: str) -> dict:
    return client.list_pipeline_executions(pipelineName=pipeline)["pipelineExecutionSummaries"][0]


def revision_of(client, pipeline: str, execution_id: str) -> str:
    execution = client.get_pipeline_execution(pipelineName=pipeline, pipelineExecutionId=execution_id)
    return execution["pipelineExecution"]["artifactRevisions"][0]["revisionId"]


def waiting_approval(state: dict, stage: str) -> dict | None:
    latest = action_of(state, stage, "approve").get("latestExecution", {})
    return latest if latest.get("status") == "InProgress" and latest.get("token") else None


def awaiting(client, pipeline: str, stage: str, timeout: float = 600) -> dict:
    """The pipeline's state once an approval waits in `stage`."""
    def state():
        found = client.get_pipeline_state(name=pipeline)
        return found if waiting_approval(found, stage) else None
    return wait_for(state, timeout=timeout, what=f"{pipeline}'s approval in {stage}")


class Walk:
    """The sample served by the test's daemon, and the checks of the README's comments."""

    def __init__(self, root: Path, daemon: Daemon):
        self.root, self.daemon, self.client = root, daemon, daemon.client()
        self.c0 = git(root / ".pipemu" / "repos" / "service-a", "rev-parse", "HEAD")
        self.checks = {
            "both services started when they appeared": (self.before_nothing, self.services_started),
            "c0 waits for approval in StagingDEV": (self.c0_reaches_dev_approval, self.c0_waits_in_dev),
            "a commit starts it again": (self.before_nothing, self.c1_started),
            "what the nightly schedule does": (self.services_wait_in_dev, self.release_started),
            "e2e passed; DEV approved in both services": (self.release_settles, self.dev_approved),
            "both services go to PROD": (self.before_nothing, self.both_in_prod),
            "c1 on to QA, the CLI finding the token itself": (self.c1_reaches_dev_approval, self.c1_in_qa),
            "plays the article's scenario c1..c7 on service-a, printing the table": (self.before_nothing,
                                                                                     self.demo_exists),
        }

    def before_nothing(self) -> None:
        pass

    def services_started(self, output: dict) -> None:
        assert sorted(p["name"] for p in output["pipelines"]) == sorted([*SERVICES, RELEASE])
        for name in SERVICES:
            wait_for(lambda: self.client.list_pipeline_executions(pipelineName=name)["pipelineExecutionSummaries"],
                     timeout=60, what=f"{name}'s first execution")

    def c0_reaches_dev_approval(self) -> None:
        awaiting(self.client, SERVICES[0], "StagingDEV")

    def services_wait_in_dev(self) -> None:
        """What the nightly release finds: both services' first versions waiting in DEV."""
        for name in SERVICES:
            awaiting(self.client, name, "StagingDEV")

    def c0_waits_in_dev(self, output: dict) -> None:
        dev = stage_of(output, "StagingDEV")
        assert dev["latestExecution"]["status"] == "InProgress"
        assert action_of(output, "StagingDEV", "test")["latestExecution"]["status"] == "Succeeded"
        assert waiting_approval(output, "StagingDEV")
        assert revision_of(self.client, SERVICES[0], dev["latestExecution"]["pipelineExecutionId"]) == self.c0

    def c1_started(self, output: str) -> None:
        latest = wait_for(lambda: ((e := latest_of(self.client, SERVICES[0])).get("sourceRevisions") or [{}])[0].get(
            "revisionSummary", "").startswith("c1") and e, timeout=120, what="c1's execution")  # once its source ran
        assert latest["status"] in ("InProgress", "Succeeded")  # not Failed, nor yet superseded
        self.c1 = latest["sourceRevisions"][0]["revisionId"]
        assert self.c1 != self.c0

    def release_started(self, output: dict) -> None:
        self.release = output["pipelineExecutionId"]
        assert latest_of(self.client, RELEASE)["pipelineExecutionId"] == self.release

    def release_settles(self) -> None:
        awaiting(self.client, RELEASE, "StagingProd")

    def dev_approved(self, output: dict) -> None:
        assert action_of(output, "E2ETesting", "e2e")["latestExecution"]["status"] == "Succeeded"
        assert action_of(output, "StagingQA", "release")["latestExecution"]["status"] == "Succeeded"
        details = self.client.list_action_executions(pipelineName=RELEASE, filter={
            "pipelineExecutionId": self.release})["actionExecutionDetails"]
        release = next(d for d in details if d["stageName"] == "StagingQA" and d["actionName"] == "release")
        assert release["output"]["outputVariables"] == {"approved": ",".join(SERVICES), "count": "2"}
        for name in SERVICES:  # the approved revision moved on to QA, where it waits for approval
            state = awaiting(self.client, name, "StagingQA")
            if name == SERVICES[0]:  # c0, not c1 (which was still on its way when the release ran)
                qa = stage_of(state, "StagingQA")["latestExecution"]["pipelineExecutionId"]
                assert revision_of(self.client, name, qa) == self.c0

    def both_in_prod(self, output: dict) -> None:
        assert "approvedAt" in output
        wait_for(lambda: self.client.get_pipeline_execution(pipelineName=RELEASE, pipelineExecutionId=self.release)[
            "pipelineExecution"]["status"] == "Succeeded", timeout=300, what="the release's success")
        for name in SERVICES:
            prod = wait_for(lambda: (e := stage_of(settle(self.client, name, timeout=600), "StagingPROD").get(
                "latestExecution")) and e["status"] == "Succeeded" and e, timeout=600, what=f"{name} in PROD")
            if name == SERVICES[0]:
                assert revision_of(self.client, name, prod["pipelineExecutionId"]) == self.c0

    def c1_reaches_dev_approval(self) -> None:
        state = awaiting(self.client, SERVICES[0], "StagingDEV")
        assert revision_of(self.client, SERVICES[0], stage_of(state, "StagingDEV")["latestExecution"][
            "pipelineExecutionId"]) == self.c1

    def c1_in_qa(self, output: str) -> None:
        assert f"approved {SERVICES[0]} StagingDEV.approve" in output
        state = awaiting(self.client, SERVICES[0], "StagingQA")
        qa = stage_of(state, "StagingQA")["latestExecution"]["pipelineExecutionId"]
        assert revision_of(self.client, SERVICES[0], qa) == self.c1

    def demo_exists(self, output: str) -> None:
        assert "--endpoint" in output and "--repo" in output


@pytest.fixture
def served(tmp_path, busybox_image):
    """The sample product as scripts/run-sample.sh serves it, on a copy without published ports."""
    for folder in ("pipelines", "sample_services"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    for path in (tmp_path / "pipelines").glob("*.yml"):
        path.write_text(path.read_text().replace("hostPort: 8081", "").replace("hostPort: 8082", ""))
    sample.prepare_repositories(tmp_path)
    sample.prepare_images(log=lambda line: None)
    # The README's `.venv/bin/pipemu`: this checkout's package, under the interpreter of the test.
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    pipemu = tmp_path / ".venv" / "bin" / "pipemu"
    pipemu.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m emulator.cli "$@"\n')
    pipemu.chmod(0o755)
    daemon = Daemon(tmp_path / "pipelines", tmp_path / ".pipemu").start()
    yield tmp_path, daemon
    daemon.stop()


def test_the_readme_walkthrough(served):
    root, daemon = served
    steps = walkthrough(ROOT / "README.md")
    walk = Walk(root, daemon)
    executable = shutil.which("aws", path=os.path.dirname(sys.executable)) or shutil.which("aws")
    assert executable, "the AWS CLI (awscli, in the test extra) is not installed"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(PATH=f"{os.path.dirname(executable)}:{env['PATH']}", PYTHONPATH=str(ROOT),
               PIPEMU_ENDPOINT=daemon.endpoint,  # pipemu's commands' default is the README's endpoint too
               # who commits, as a developer's git config says
               GIT_AUTHOR_NAME="Dev", GIT_AUTHOR_EMAIL="dev@example.com",
               GIT_COMMITTER_NAME="Dev", GIT_COMMITTER_EMAIL="dev@example.com",
               # the CLI's defaults (json output) whatever a ~/.aws/config of the machine says
               AWS_CONFIG_FILE=str(root / "no-aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(root / "no-aws-credentials"))
    prelude: list[str] = []  # the export and the variables set so far: each line runs in a new bash
    checked = []
    for command, comment in steps:
        command = command.replace(README_ENDPOINT, daemon.endpoint)
        if command.startswith("export ") or re.match(r"^[A-Z_]+=\$\(", command):
            prelude.append(command)
            assert not comment, f"a claim on a setup line, with no check: {comment}"
            continue
        assert comment in walk.checks, f"the README's walkthrough claims {comment!r} for {command!r}: no check for it"
        before, after = walk.checks[comment]
        before()
        if command.endswith("pipemu demo"):
            # A short check: the demo plays c1..c7 for minutes, and tests/e2e/test_demo.py plays it in
            # full on this same sample; here it is enough that the README's command is the CLI's.
            command += " --help"
        result = subprocess.run(["bash", "-c", "set -e\n" + "\n".join([*prelude, command])], cwd=root, env=env,
                                capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        output = result.stdout
        if command.startswith("aws "):
            output = json.loads(output) if output.strip() else {}
        after(output)
        checked.append(comment)
    assert checked == list(walk.checks), "every claim of the README's walkthrough, in its order"
