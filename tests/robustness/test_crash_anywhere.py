"""kill -9 of the daemon at 20 random moments of the article's scenario: nothing is lost or doubled."""

from __future__ import annotations

import random
import threading
import time

import pytest
from botocore.config import Config

from tests.e2e import article_pipeline
from tests.e2e.test_article_scenario import table
from tests.e2e.waiting import settle
from tests.support import article
from tests.support.daemon import Daemon, commit
from emulator.runner.containers import list_containers

pytestmark = pytest.mark.docker
SCENARIO = article.load()
PIPELINE = "svc-pipeline"
SEED = 20240909
KILLS = 20


def _approval(state: dict, stage: str) -> dict:
    stage_state = next(s for s in state["stageStates"] if s["stageName"] == stage)
    action = next(a for a in stage_state["actionStates"] if a["actionName"] == "approve")
    return action.get("latestExecution", {})


def _executions_of(client, revision: str) -> list[dict]:
    summaries = client.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"]
    return [s for s in summaries if any(r.get("revisionId") == revision for r in s.get("sourceRevisions", []))]


def _soon(predicate, timeout: float) -> bool:
    """Whether `predicate()` holds within `timeout` seconds (asked every 100 ms)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


class Crasher:
    """The daemon, killed with -9 and restarted on the same state folder and port."""

    def __init__(self, daemon: Daemon):
        self.daemon = daemon
        self.kills = 0

    def client(self):
        return self.daemon.client()

    def kill_during(self, call, delay: float) -> None:
        """Issue `call` (if any) in a thread, kill -9 the daemon `delay` seconds later, restart it."""
        outcome: list = []

        def run():
            if call is None:
                return
            try:
                outcome.append(call())
            except Exception as exc:  # the daemon died under the request: lost or not, we check the state
                outcome.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        time.sleep(delay)
        self.daemon.kill()
        self.kills += 1
        thread.join(30)
        assert not thread.is_alive(), "a request hung after kill -9"
        self.daemon = Daemon(self.daemon.pipelines, self.daemon.state, port=self.daemon.port).start()


def test_kill_9_at_20_random_moments_of_the_article(tmp_path, service_repo, busybox_image, docker_client):
    article_pipeline.write(tmp_path / "pipelines", article_pipeline.service_pipeline(PIPELINE, service_repo, busybox_image))
    crasher = Crasher(Daemon(tmp_path / "pipelines", tmp_path / "state").start())
    rng = random.Random(SEED)
    rows = SCENARIO["rows"]
    # 20 kills spread over the rows (a row may get several), each at 0-300 ms after its step is sent.
    kills_at = [0] * len(rows)
    for index in list(range(len(rows)))[:KILLS] + rng.choices(range(len(rows)), k=KILLS - min(KILLS, len(rows))):
        kills_at[index] += 1
    assert sum(kills_at) == KILLS
    labels: dict[str, str] = {}
    ids: dict[str, str] = {}
    commits: dict[str, str] = {}
    tokens: dict[str, str] = {}  # every approval token seen -> its stage
    try:
        for number, row in enumerate(rows, 1):
            step = article.parse_step(row["step"])
            if step.verb == "commit":
                revision = commits[step.commit] = commit(service_repo, step.commit)

                def send(client=None):
                    client = client or crasher.client()
                    # Idempotent (clientRequestToken): a start that took before the kill is not
                    # started twice when the step is sent again.
                    return client.start_pipeline_execution(
                        name=PIPELINE, clientRequestToken=f"{step.commit}-{revision[:12]}",
                        sourceRevisions=[{"actionName": "source", "revisionType": "COMMIT_ID", "revisionValue": revision}])

                def done() -> bool:  # the commit's execution, found by its revision
                    return bool(_executions_of(crasher.client(), revision))
            else:
                state = crasher.client().get_pipeline_state(name=PIPELINE)
                stage = next(s for s in state["stageStates"] if s["stageName"] == step.stage)
                assert stage["latestExecution"]["pipelineExecutionId"] == ids[step.commit], f"row {number}"
                token = _approval(state, step.stage)["token"]
                tokens[token] = step.stage

                def send(client=None, stage_name=step.stage, token=token, summary=row["step"], verb=step.verb):
                    client = client or crasher.client()
                    return client.put_approval_result(
                        pipelineName=PIPELINE, stageName=stage_name, actionName="approve", token=token,
                        result={"summary": summary, "status": "Approved" if verb == "approve" else "Rejected"})

                def done(stage_name=step.stage, token=token) -> bool:  # re-sent only while it still waits
                    latest = _approval(crasher.client().get_pipeline_state(name=PIPELINE), stage_name)
                    return not (latest.get("status") == "InProgress" and latest.get("token") == token)

            for _ in range(kills_at[number - 1]):
                # The step again if it was lost; once it took, the kill hits the actions it set off.
                crasher.kill_during(None if done() else send, rng.uniform(0, 0.3))
            # A commit's execution shows its revision once its Source action ran, which may take
            # a moment after a restart (under load, more): wait for it before calling it lost.
            if not _soon(done, 15):  # lost with the daemon: sent again, once
                send()
            assert _soon(done, 60), f"row {number}: {row['step']} did not take"

            client = crasher.client()
            if step.verb == "commit":
                found = _executions_of(client, commits[step.commit])
                assert len(found) == 1, f"row {number}: executions of {step.commit}: {found}"
                ids[step.commit] = found[0]["pipelineExecutionId"]
                labels[ids[step.commit]] = step.commit
            state = settle(client, PIPELINE)
            for stage_name in ("StagingDEV", "StagingQA"):
                latest = _approval(state, stage_name)
                if latest.get("token"):
                    tokens[latest["token"]] = stage_name
            cells, waiting = table(state, labels)
            assert cells == article.expected_stage_cells(row, SCENARIO["stages"]), f"row {number}: {row['step']}"
            assert waiting == row.get("waiting", {}), f"row {number}: {row['step']}"
            for label in row.get("superseded", []):
                execution = client.get_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=ids[label])
                assert execution["pipelineExecution"]["status"] == "Superseded", label

        assert crasher.kills == KILLS
        client = crasher.client()
        # No lost or duplicated execution: exactly one per commit, by revision, and nothing else.
        summaries = client.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"]
        assert len(summaries) == len(commits)
        for label, revision in commits.items():
            assert len(_executions_of(client, revision)) == 1, label
        for label, status in SCENARIO["final"].items():
            execution = client.get_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=ids[label])
            assert execution["pipelineExecution"]["status"] == status, label
        # Every approval token: still waiting and valid, or cleanly completed.
        state = client.get_pipeline_state(name=PIPELINE)
        waiting_tokens = {
            _approval(state, s).get("token") for s in ("StagingDEV", "StagingQA")
            if _approval(state, s).get("status") == "InProgress"}
        for token, stage_name in tokens.items():
            if token in waiting_tokens:
                continue
            with pytest.raises(client.exceptions.ApprovalAlreadyCompletedException):
                client.put_approval_result(pipelineName=PIPELINE, stageName=stage_name, actionName="approve",
                                           token=token, result={"summary": "again", "status": "Approved"})
        assert waiting_tokens == {_approval(state, "StagingDEV")["token"], _approval(state, "StagingQA")["token"]}
        # No orphan container: every container of this daemon runs an in-progress action.
        running = {
            a["latestExecution"]["actionExecutionId"] for s in state["stageStates"] for a in s["actionStates"]
            if a.get("latestExecution", {}).get("status") == "InProgress" and "actionExecutionId" in a["latestExecution"]}
        daemon_id = (tmp_path / "state" / "daemon-id").read_text().strip()
        deadline = time.monotonic() + 10
        while True:
            orphans = [
                (c.name, c.labels.get("pipemu.action-execution"))
                for c in list_containers(docker_client, {"label": f"pipemu.daemon={daemon_id}"})
                if c.labels.get("pipemu.action-execution") not in running]
            if not orphans or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert orphans == []
        print(f"\ncrash-anywhere: {crasher.kills} kill -9 over {len(rows)} rows (seed {SEED}), "
              f"{len(summaries)} executions, {len(tokens)} approval tokens checked")
    finally:
        crasher.daemon.stop()
