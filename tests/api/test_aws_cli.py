"""The real AWS CLI (awscli from PyPI) with only AWS_ENDPOINT_URL set: reads, an approval, an error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.e2e.waiting import settle

pytestmark = pytest.mark.docker
PIPELINE = "svc-pipeline"


def aws(daemon, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=daemon.endpoint, AWS_ACCESS_KEY_ID="cli", AWS_SECRET_ACCESS_KEY="cli",
               AWS_DEFAULT_REGION="us-east-1")
    executable = shutil.which("aws", path=os.path.dirname(sys.executable)) or shutil.which("aws")
    assert executable, "the AWS CLI (awscli, in the test extra) is not installed"
    return subprocess.run([executable, "codepipeline", *args, "--output", "json"], env=env,
                          capture_output=True, text=True, timeout=60)


def test_aws_cli_reads_approves_and_gets_errors(article_daemon):
    listed = aws(article_daemon, "list-pipelines")
    assert listed.returncode == 0, listed.stderr
    assert [p["name"] for p in json.loads(listed.stdout)["pipelines"]] == [PIPELINE]

    started = aws(article_daemon, "start-pipeline-execution", "--name", PIPELINE)
    assert started.returncode == 0, started.stderr
    execution = json.loads(started.stdout)["pipelineExecutionId"]
    settle(article_daemon.client(), PIPELINE)

    state = json.loads(aws(article_daemon, "get-pipeline-state", "--name", PIPELINE).stdout)
    dev = next(s for s in state["stageStates"] if s["stageName"] == "StagingDEV")
    token = next(a for a in dev["actionStates"] if a["actionName"] == "approve")["latestExecution"]["token"]
    approved = aws(article_daemon, "put-approval-result", "--pipeline-name", PIPELINE, "--stage-name",
                   "StagingDEV", "--action-name", "approve", "--result", "summary=ship it,status=Approved",
                   "--token", token)
    assert approved.returncode == 0, approved.stderr
    assert "approvedAt" in json.loads(approved.stdout)
    settle(article_daemon.client(), PIPELINE)
    got = json.loads(aws(article_daemon, "get-pipeline-execution", "--pipeline-name", PIPELINE,
                         "--pipeline-execution-id", execution).stdout)
    assert got["pipelineExecution"]["status"] == "InProgress"

    again = aws(article_daemon, "put-approval-result", "--pipeline-name", PIPELINE, "--stage-name",
                "StagingDEV", "--action-name", "approve", "--result", "summary=again,status=Approved",
                "--token", token)
    assert again.returncode != 0
    assert "ApprovalAlreadyCompletedException" in again.stderr
    missing = aws(article_daemon, "get-pipeline-state", "--name", "missing")
    assert missing.returncode != 0 and "PipelineNotFoundException" in missing.stderr


def test_aws_cli_release_safety_operations(article_daemon):
    """The V2 operations the CLI sends as AWS's users type them: list-rule-types,
    list-rule-executions, rollback-stage and override-stage-condition with their errors."""
    types = json.loads(aws(article_daemon, "list-rule-types", "--rule-owner-filter", "AWS").stdout)
    assert {t["id"]["provider"] for t in types["ruleTypes"]} >= {"VariableCheck", "DeploymentWindow", "Commands"}
    started = json.loads(aws(article_daemon, "start-pipeline-execution", "--name", PIPELINE).stdout)
    settle(article_daemon.client(), PIPELINE)
    runs = aws(article_daemon, "list-rule-executions", "--pipeline-name", PIPELINE,
               "--filter", f"pipelineExecutionId={started['pipelineExecutionId']}")
    assert runs.returncode == 0 and json.loads(runs.stdout)["ruleExecutionDetails"] == []  # no conditions here
    refused = aws(article_daemon, "rollback-stage", "--pipeline-name", PIPELINE, "--stage-name", "StagingQA",
                  "--target-pipeline-execution-id", started["pipelineExecutionId"])
    assert refused.returncode != 0 and "UnableToRollbackStageException" in refused.stderr  # it never reached QA
    held = aws(article_daemon, "override-stage-condition", "--pipeline-name", PIPELINE, "--stage-name", "StagingDEV",
               "--pipeline-execution-id", started["pipelineExecutionId"], "--condition-type", "BEFORE_ENTRY")
    assert held.returncode != 0 and "ConditionNotOverridableException" in held.stderr
