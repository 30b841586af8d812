"""A handful of the public-style templates (tests/definitions/cfn/corpus) imported unchanged and
run end to end on real containers: their sources are local git repositories (a GitHub v1 source
is `Owner/Repo`) and folders for S3 buckets, their builds run in containers, the action types
pipemu does not emulate (CodeDeploy, ...) are recorded, approvals are approved
through boto3, and each execution must succeed."""

from __future__ import annotations

import io
import json
import time
import zipfile

import pytest
import yaml

from emulator.definitions.action_types import git_source
from tests.definitions.test_cfn_corpus import CASES, imported_folder
from tests.support.daemon import Daemon, commit, init_repo

pytestmark = pytest.mark.docker

# Templates whose builds read the buildspec.yml of their source (an inline buildspec of a real
# template calls npm, docker or mvn, which the local busybox image does not have).
# (b07's Commands action runs its commands, which `pip install` from PyPI: unreachable offline.
# tests/e2e/test_commands_action.py runs Commands actions.)
RUN = ["a04-s3-source-codedeploy.json", "a05-github-codedeploy-approval.yml", "a16-legacy-codecommit-node.json",
       "a08-cross-region-cfn.yml"]
# (b09 and a13 deploy templates whose parameters come from files their builds would write: the
# stand-in files made here do not know them, and CloudFormation's checks rightly fail those.)
BUILDSPEC = """\
version: 0.2
phases:
  build:
    commands:
      - echo "built by pipemu from $CODEBUILD_RESOLVED_SOURCE_VERSION"
      - mkdir -p out && echo ok > out/result.txt
artifacts:
  files: ['**/*']
"""


def _sources(folder, loaded) -> None:
    """What AWS keeps elsewhere, made locally where the import put its folders."""
    branches = {}  # a repository's branch, as its source actions name it
    for _, definition in loaded.pipelines.values():
        for action in definition.stages[0].actions:
            source = git_source(action.actionTypeId.provider, action.configuration or {})
            if source:
                branches[source[0]] = source[1]
    files = {"buildspec.yml": BUILDSPEC, "index.html": "<h1>hello</h1>\n"}
    for _, definition in loaded.pipelines.values():  # the templates the deploys name, as a build would make them
        for stage in definition.stages:
            for action in stage.actions:
                config = action.configuration or {}
                if action.actionTypeId.provider == "CloudFormation" and "::" in config.get("TemplatePath", ""):
                    overrides = json.loads(config.get("ParameterOverrides") or "{}")
                    files[config["TemplatePath"].split("::", 1)[1]] = json.dumps({
                        "AWSTemplateFormatVersion": "2010-09-09",
                        "Parameters": {key: {"Type": "String", "Default": ""} for key in overrides},
                        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
                if action.actionTypeId.provider == "CloudFormation" and "::" in config.get("TemplateConfiguration", ""):
                    files[config["TemplateConfiguration"].split("::", 1)[1]] = json.dumps({"Parameters": {}, "Tags": {}})
    for name, repository in loaded.repositories.items():
        repo = init_repo(repository.path, branches.get(name, "main"))
        commit(repo, "first", files)
    for bucket in loaded.buckets.values():
        bucket.path.mkdir(parents=True, exist_ok=True)
    for path, definition in loaded.pipelines.values():
        for stage in definition.stages:
            for action in stage.actions:
                config = action.configuration or {}
                if action.actionTypeId.provider == "S3" and action.actionTypeId.category == "Source":
                    data = io.BytesIO()
                    with zipfile.ZipFile(data, "w") as archive:
                        for name, text in files.items():
                            archive.writestr(name, text)
                    target = loaded.buckets[config["S3Bucket"]].path / config["S3ObjectKey"]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data.getvalue())


def _run_to_the_end(client, name: str, timeout: float = 240) -> dict:
    """Start `name`, approve every approval it reaches, and return its ended execution."""
    execution = client.start_pipeline_execution(name=name)["pipelineExecutionId"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ended = client.get_pipeline_execution(pipelineName=name, pipelineExecutionId=execution)["pipelineExecution"]
        if ended["status"] != "InProgress":
            return ended
        for stage in client.get_pipeline_state(name=name)["stageStates"]:
            for action in stage.get("actionStates", []):
                latest = action.get("latestExecution", {})
                if latest.get("token") and latest.get("status") == "InProgress":
                    client.put_approval_result(pipelineName=name, stageName=stage["stageName"],
                                               actionName=action["actionName"], token=latest["token"],
                                               result={"status": "Approved", "summary": "corpus run"})
        time.sleep(0.2)
    raise AssertionError(f"{name} did not end in {timeout}s")


@pytest.mark.parametrize("file", RUN)
def test_a_public_style_template_runs_end_to_end(file, tmp_path, busybox_image):
    case = next(c for c in CASES if c["file"] == file)
    folder = tmp_path / "pipelines"
    folder.mkdir()
    _, loaded = imported_folder(case, folder)
    assert loaded.errors == []
    _sources(folder, loaded)
    daemon = Daemon(folder, tmp_path / "state").start()
    try:
        client = daemon.client()
        for name in loaded.pipelines:
            execution = _run_to_the_end(client, name)
            actions = client.list_action_executions(
                pipelineName=name, filter={"pipelineExecutionId": execution["pipelineExecutionId"]})["actionExecutionDetails"]
            failed = {a["actionName"]: a.get("output", {}).get("executionResult") for a in actions if a["status"] != "Succeeded"}
            assert execution["status"] == "Succeeded", (name, failed, daemon.log()[-3000:])
            ran = {a["input"]["actionTypeId"]["provider"] for a in actions}
            logs = "\n".join(daemon.action_log(a["actionExecutionId"]) for a in actions)
            if "CodeBuild" in ran:
                assert "built by pipemu from" in logs  # a real container ran the repository's buildspec
            if "CodeDeploy" in ran:
                assert "actions are not emulated yet: recorded" in logs
    finally:
        daemon.stop()
