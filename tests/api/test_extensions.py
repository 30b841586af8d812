"""pipemu's own endpoints: action logs (with long-poll), change events (SSE), cross-site refusal."""

from __future__ import annotations

import json
import threading
import urllib.request

import pytest

from tests.e2e.waiting import settle

pytestmark = pytest.mark.docker
PIPELINE = "svc-pipeline"


def get(daemon, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(daemon.endpoint + path, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_logs_of_an_action_execution(article_daemon):
    client = article_daemon.client()
    client.start_pipeline_execution(name=PIPELINE)
    state = settle(client, PIPELINE)
    build = state["stageStates"][1]["actionStates"][0]["latestExecution"]["actionExecutionId"]
    status, body = get(article_daemon, f"/pipemu/logs/{build}")
    assert status == 200 and (body["stageName"], body["actionName"], body["status"]) == ("Building", "build", "Succeeded")
    texts = [line["text"] for line in body["lines"]]
    assert any(t.startswith("built ") for t in texts)
    seqs = [line["seq"] for line in body["lines"]]
    status, rest = get(article_daemon, f"/pipemu/logs/{build}?after={seqs[2]}&wait=5")
    assert [line["seq"] for line in rest["lines"]] == seqs[3:]  # an ended action answers at once
    assert get(article_daemon, "/pipemu/logs/nope")[1]["__type"] == "ActionExecutionNotFoundException"


def test_change_events_stream(article_daemon):
    seen: list[str] = []
    ready = threading.Event()

    def listen():
        with urllib.request.urlopen(article_daemon.endpoint + "/pipemu/events", timeout=30) as stream:
            for raw in stream:
                line = raw.decode().strip()
                if line.startswith("data:"):
                    seen.append(line)
                    ready.set()
                    if len(seen) >= 2:
                        return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(10)
    article_daemon.client().start_pipeline_execution(name=PIPELINE)
    thread.join(20)
    first, second = (json.loads(s[5:])["changes"] for s in seen[:2])
    assert second > first


def test_cross_site_requests_are_refused(article_daemon):
    request = urllib.request.Request(
        article_daemon.endpoint + "/", data=b'{"name": "svc-pipeline"}', method="POST",
        headers={"X-Amz-Target": "CodePipeline_20150709.StartPipelineExecution",
                 "Content-Type": "application/x-amz-json-1.1", "Origin": "http://evil.example"})
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    assert raised.value.code == 403
    assert json.loads(raised.value.read())["__type"] == "AccessDeniedException"
    assert article_daemon.client().list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"] == []
