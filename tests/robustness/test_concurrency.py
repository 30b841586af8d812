"""Many clients at once: one approval token raced by 50 callers, 200 pollers for 60 s while executions run."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter

import pytest

from tests.e2e.waiting import settle

pytestmark = pytest.mark.docker
PIPELINE = "svc-pipeline"


def _approval(state: dict, stage: str) -> dict:
    stage_state = next(s for s in state["stageStates"] if s["stageName"] == stage)
    return next(a for a in stage_state["actionStates"] if a["actionName"] == "approve").get("latestExecution", {})


def test_50_concurrent_approvals_of_one_token_exactly_one_wins(article_daemon):
    client = article_daemon.client()
    client.start_pipeline_execution(name=PIPELINE)
    token = _approval(settle(client, PIPELINE), "StagingDEV")["token"]
    clients = [article_daemon.client() for _ in range(50)]  # made here: boto3's default session is not thread-safe
    barrier = threading.Barrier(len(clients))
    outcomes: list[str] = []
    lock = threading.Lock()

    def approve(own):
        barrier.wait()
        try:
            own.put_approval_result(pipelineName=PIPELINE, stageName="StagingDEV", actionName="approve",
                                    token=token, result={"summary": "race", "status": "Approved"})
            outcome = "won"
        except own.exceptions.ApprovalAlreadyCompletedException:
            outcome = "already completed"
        except Exception as exc:  # anything else is a failure of the test
            outcome = f"{type(exc).__name__}: {exc}"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=approve, args=(own,)) for own in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert Counter(outcomes) == {"won": 1, "already completed": 49}
    state = settle(client, PIPELINE)
    assert _approval(state, "StagingDEV")["status"] == "Succeeded"
    assert _approval(state, "StagingQA")["status"] == "InProgress"


POLLERS = 200
WINDOW = 60.0


# serial: a load test (200 threads polling for 60 s on a 2-CPU machine) starves the daemons of
# tests beside it, whose own waits and timings would fail for it; it runs alone.
@pytest.mark.serial
def test_200_clients_polling_state_for_60s_while_executions_run(article_daemon):
    body = json.dumps({"name": PIPELINE}).encode()
    headers = {"X-Amz-Target": "CodePipeline_20150709.GetPipelineState",
               "Content-Type": "application/x-amz-json-1.1"}
    stop = threading.Event()
    lock = threading.Lock()
    counts: Counter = Counter()
    errors: list[str] = []
    latencies: list[float] = []

    def poll():
        connection = http.client.HTTPConnection("127.0.0.1", article_daemon.port, timeout=30)
        done, mine = 0, []
        try:
            while not stop.is_set():
                began = time.perf_counter()
                try:
                    connection.request("POST", "/", body=body, headers=headers)
                    answer = connection.getresponse()
                    payload = answer.read()
                    if answer.status != 200 or "stageStates" not in json.loads(payload):
                        raise AssertionError(f"HTTP {answer.status}: {payload[:200]!r}")
                    if answer.getheader("Connection", "").lower() == "close":
                        connection.close()
                except Exception as exc:
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
                    connection.close()
                    continue
                mine.append(time.perf_counter() - began)
                done += 1
        finally:
            connection.close()
            with lock:
                counts["requests"] += done
                latencies.extend(mine)

    pollers = [threading.Thread(target=poll, daemon=True) for _ in range(POLLERS)]
    began = time.monotonic()
    for thread in pollers:
        thread.start()
    client = article_daemon.client()
    # Executions with approvals run during the window: started, approved along, one after another.
    approvals = started = 0
    try:
        while time.monotonic() - began < WINDOW - 5:
            if started < 4:
                client.start_pipeline_execution(name=PIPELINE)
                started += 1
            state = client.get_pipeline_state(name=PIPELINE)
            for stage in ("StagingDEV", "StagingQA"):
                latest = _approval(state, stage)
                if latest.get("status") == "InProgress" and latest.get("token"):
                    client.put_approval_result(pipelineName=PIPELINE, stageName=stage, actionName="approve",
                                               token=latest["token"], result={"summary": "ok", "status": "Approved"})
                    approvals += 1
            time.sleep(1)
        time.sleep(max(0.0, WINDOW - (time.monotonic() - began)))
    finally:
        stop.set()
        for thread in pollers:
            thread.join(60)
    elapsed = time.monotonic() - began
    latencies.sort()
    p50 = latencies[len(latencies) // 2] if latencies else float("nan")
    p99 = latencies[int(len(latencies) * 0.99)] if latencies else float("nan")
    print(f"\n{POLLERS} pollers for {elapsed:.1f}s: {counts['requests']} GetPipelineState requests "
          f"({counts['requests'] / elapsed:.0f}/s, p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms), "
          f"{len(errors)} errors; {started} executions started, {approvals} approvals")
    assert errors == [], errors[:10]
    assert not any(thread.is_alive() for thread in pollers)
    assert counts["requests"] > POLLERS
    assert approvals >= 2  # executions really ran through approvals during the window
    executions = client.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"]
    assert len(executions) == started
