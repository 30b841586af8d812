"""The article's scenario table, row by row, through boto3 against the real daemon and real containers."""

from __future__ import annotations

import pytest

from tests.e2e.waiting import settle
from tests.support import article
from tests.support.daemon import commit

pytestmark = pytest.mark.docker
SCENARIO = article.load()
PIPELINE = "svc-pipeline"


def table(state: dict, labels: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    cells, waiting = {}, {}
    for stage in state["stageStates"]:
        latest = stage.get("latestExecution")
        cells[stage["stageName"]] = (
            article.cell(labels[latest["pipelineExecutionId"]], latest["status"]) if latest else "-"
        )
        if "inboundExecution" in stage:
            waiting[stage["stageName"]] = labels[stage["inboundExecution"]["pipelineExecutionId"]]
    return cells, waiting


def test_article_scenario(article_daemon, service_repo):
    client = article_daemon.client()
    labels: dict[str, str] = {}  # execution id -> cN
    ids: dict[str, str] = {}  # cN -> execution id
    commits: dict[str, str] = {}
    for number, row in enumerate(SCENARIO["rows"], 1):
        step = article.parse_step(row["step"])
        if step.verb == "commit":
            commits[step.commit] = commit(service_repo, step.commit)
            answer = client.start_pipeline_execution(
                name=PIPELINE,
                sourceRevisions=[{"actionName": "source", "revisionType": "COMMIT_ID",
                                  "revisionValue": commits[step.commit]}],
            )
            ids[step.commit] = answer["pipelineExecutionId"]
            labels[answer["pipelineExecutionId"]] = step.commit
        else:
            state = client.get_pipeline_state(name=PIPELINE)
            stage = next(s for s in state["stageStates"] if s["stageName"] == step.stage)
            assert stage["latestExecution"]["pipelineExecutionId"] == ids[step.commit]
            approval = next(a for a in stage["actionStates"] if a["actionName"] == "approve")
            answer = client.put_approval_result(
                pipelineName=PIPELINE, stageName=step.stage, actionName="approve",
                result={"summary": row["step"], "status": "Approved" if step.verb == "approve" else "Rejected"},
                token=approval["latestExecution"]["token"],
            )
            assert answer["approvedAt"]
        state = settle(client, PIPELINE)
        cells, waiting = table(state, labels)
        assert cells == article.expected_stage_cells(row, SCENARIO["stages"]), f"row {number}: {row['step']}"
        assert waiting == row.get("waiting", {}), f"row {number}: {row['step']}"
        if step.verb == "commit":  # the Source action shows the commit it took
            source = next(s for s in state["stageStates"] if s["stageName"] == "Source")["actionStates"][0]
            assert source["currentRevision"]["revisionId"] == commits[step.commit]
        for label in row.get("superseded", []):
            execution = client.get_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=ids[label])
            assert execution["pipelineExecution"]["status"] == "Superseded"

    for label, status in SCENARIO["final"].items():
        execution = client.get_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=ids[label])["pipelineExecution"]
        assert execution["status"] == status, label
        revision = execution["artifactRevisions"][0]
        assert (revision["name"], revision["revisionId"], revision["revisionSummary"]) == (
            "SourceOutput", commits[label], label)
    summaries = client.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"]
    assert [labels[s["pipelineExecutionId"]] for s in summaries] == [f"c{n}" for n in range(7, 0, -1)]
