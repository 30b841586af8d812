"""The CLI's client commands as a user runs them (`python -m emulator.cli ...`), against the real
daemon running real containers: output, `--json` and exit codes."""

from __future__ import annotations

import copy
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.e2e import article_pipeline
from tests.e2e.waiting import action_of, settle, stage_of, wait_for
from tests.support.daemon import ROOT, Daemon, commit, free_port, git

pytestmark = pytest.mark.docker
PIPELINE = "svc-pipeline"


# -- helpers -------------------------------------------------------------------------------------


def pipemu(daemon_or_endpoint, *args: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    endpoint = getattr(daemon_or_endpoint, "endpoint", daemon_or_endpoint)
    return subprocess.run([sys.executable, "-m", "emulator.cli", *args, "--endpoint", endpoint], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def ok(daemon, *args: str) -> str:
    result = pipemu(daemon, *args)
    assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def as_json(daemon, *args: str):
    return json.loads(ok(daemon, *args, "--json"))


def fails(daemon, code: int, *args: str) -> subprocess.CompletedProcess:
    result = pipemu(daemon, *args)
    assert result.returncode == code, f"{args}: exit {result.returncode}, wanted {code}\n{result.stdout}\n{result.stderr}"
    return result


def one_line_error(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pipemu: "), result.stderr
    return lines[0]


def row(table: str, first: str) -> list[str]:
    """The cells of the table's row whose first cell is `first` (columns are 2+ spaces apart)."""
    import re

    for line in table.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if cells[0] == first.strip():
            return cells
    raise AssertionError(f"no row {first!r} in\n{table}")


def awaiting(client, stage: str, execution: str | None = None, pipeline: str = PIPELINE) -> dict:
    """The state once `stage`'s approval waits (for `execution` if given) and no container runs."""
    def ready():
        state = settle(client, pipeline)
        approval = action_of(state, stage, "approve").get("latestExecution", {})
        inside = (stage_of(state, stage).get("latestExecution") or {}).get("pipelineExecutionId")
        pending = approval.get("status") == "InProgress" and "token" in approval
        return state if pending and execution in (None, inside) else None

    return wait_for(ready, 120)


def waiting_at(client, stage: str, execution: str, pipeline: str = PIPELINE) -> dict:
    """The state once `execution` waits at `stage`'s entrance and no container runs."""
    def ready():
        state = settle(client, pipeline)
        inbound = stage_of(state, stage).get("inboundExecution") or {}
        return state if inbound.get("pipelineExecutionId") == execution else None

    return wait_for(ready, 120)


def execution_status(client, execution_id: str, pipeline: str = PIPELINE) -> str:
    return client.get_pipeline_execution(pipelineName=pipeline, pipelineExecutionId=execution_id)[
        "pipelineExecution"]["status"]


def building(client) -> bool:
    state = client.get_pipeline_state(name=PIPELINE)
    return action_of(state, "Building", "build").get("latestExecution", {}).get("status") == "InProgress"


@pytest.fixture
def slow_daemon(tmp_path, service_repo, busybox_image):
    """The article's pipeline whose build prints a line, then takes a few seconds."""
    definition = copy.deepcopy(article_pipeline.service_pipeline(PIPELINE, service_repo, busybox_image))
    commands = definition["projects"][f"{PIPELINE}-build"]["buildspec"]["phases"]["build"]["commands"]
    commands[:0] = ["echo warming up", "sleep 4"]
    article_pipeline.write(tmp_path / "pipelines", definition)
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    yield daemon
    daemon.stop()


@pytest.fixture
def product_daemon(tmp_path, service_repo, busybox_image):
    """Product `my` (two service pipelines), `other-pipeline` whose build fails, and a broken file."""
    folder = tmp_path / "pipelines"
    for name in ("my-a-pipeline", "my-b-pipeline"):
        article_pipeline.write(folder, article_pipeline.service_pipeline(name, service_repo, busybox_image))
    # (deep copies: the buildspecs are the module's shared dicts)
    other = copy.deepcopy(article_pipeline.service_pipeline("other-pipeline", service_repo, busybox_image))
    other["projects"]["other-pipeline-build"]["buildspec"]["phases"]["build"]["commands"] = ["echo about to fail", "exit 3"]
    article_pipeline.write(folder, other)
    (folder / "broken.yml").write_text("pipeline:\n  name: [unclosed\n")
    daemon = Daemon(folder, tmp_path / "state").start()
    yield daemon
    daemon.stop()


# -- status --------------------------------------------------------------------------------------


def test_status_shows_cells_waiting_executions_and_approvals(article_daemon, service_repo):
    client = article_daemon.client()
    first_sha = git(service_repo, "rev-parse", "HEAD")
    first = as_json(article_daemon, "start", PIPELINE)["pipelineExecutionId"]
    awaiting(client, "StagingDEV", first)
    second_sha = commit(service_repo, "c2 makes it better")
    second = as_json(article_daemon, "start", PIPELINE)["pipelineExecutionId"]
    waiting_at(client, "StagingDEV", second)

    table = ok(article_daemon, "status", PIPELINE)
    assert row(table, "PIPELINE") == ["PIPELINE", "Source", "Building", "StagingDEV", "StagingQA", "StagingPROD"]
    assert row(table, PIPELINE) == [PIPELINE, f"{second_sha[:7]} ✓", f"{second_sha[:7]} ✓", f"{first_sha[:7]} ◯", "-", "-"]
    assert row(table, "waiting") == ["waiting", second_sha[:7]]  # at StagingDEV's entrance
    assert f"? {PIPELINE}: StagingDEV.approve awaits approval of {first_sha[:7]}" in table
    assert "\x1b[" not in table  # no colour when stdout is not a terminal

    by_message = ok(article_daemon, "status", PIPELINE, "--by", "message")
    assert row(by_message, PIPELINE)[1:4] == ["c2 makes it ✓", "c2 makes it ✓", "initial ◯"]

    snapshot = as_json(article_daemon, "status", PIPELINE)
    assert snapshot["definitionErrors"] == []
    [model] = snapshot["pipelines"]
    dev = model["stages"][2]
    assert dev["latestExecution"] == {"pipelineExecutionId": first, "status": "InProgress", "revision": first_sha[:7]}
    assert dev["waiting"] == [{"pipelineExecutionId": second, "revision": second_sha[:7]}]
    assert dev["pendingApprovals"][0]["actionName"] == "approve" and dev["transitionEnabled"] is True
    assert model["stages"][3]["latestExecution"] is None and model["stages"][3]["cell"] == "-"


def test_product_status_and_definition_errors(product_daemon, service_repo):
    client = product_daemon.client()
    ok(product_daemon, "start", "my-a-pipeline")
    awaiting(client, "StagingDEV", pipeline="my-a-pipeline")
    failing = as_json(product_daemon, "start", "other-pipeline")["pipelineExecutionId"]
    wait_for(lambda: execution_status(client, failing, "other-pipeline") == "Failed", 120)
    sha = git(service_repo, "rev-parse", "HEAD")[:7]

    product = ok(product_daemon, "status", "my")
    assert row(product, "my-a-pipeline")[1:] == [f"{sha} ✓", f"{sha} ✓", f"{sha} ◯", "-", "-"]
    assert row(product, "my-b-pipeline")[1:] == ["-"] * 5
    assert "other-pipeline" not in product
    error_lines = [line for line in product.splitlines() if line.startswith("! ")]
    assert len(error_lines) == 1 and "broken.yml:" in error_lines[0]
    position = error_lines[0][2:].split("broken.yml:")[1].split(":")
    assert position[0].isdigit() and position[1].isdigit()

    everything = as_json(product_daemon, "status")
    assert [p["pipelineName"] for p in everything["pipelines"]] == ["my-a-pipeline", "my-b-pipeline", "other-pipeline"]
    assert len(everything["definitionErrors"]) == 1
    other = everything["pipelines"][2]["stages"]
    assert other[1]["latestExecution"]["status"] == "Failed" and other[1]["cell"].endswith(" ✗")
    assert [p["pipelineName"] for p in as_json(product_daemon, "status", "my-b-pipeline")["pipelines"]] == ["my-b-pipeline"]

    # logs of a failed action: its lines, and exit 1
    failed = pipemu(product_daemon, "logs", "other-pipeline")
    assert failed.returncode == 1 and "about to fail" in failed.stdout
    assert "other-pipeline Building.build" in failed.stderr and failed.stderr.strip().endswith("Failed")


# -- acting on executions ------------------------------------------------------------------------


def test_approve_and_reject_move_executions(article_daemon):
    client = article_daemon.client()
    execution = as_json(article_daemon, "start", PIPELINE)["pipelineExecutionId"]
    awaiting(client, "StagingDEV", execution)
    out = ok(article_daemon, "approve", PIPELINE, "StagingDEV", "--summary", "looks good")
    assert out.strip() == f"approved {PIPELINE} StagingDEV.approve (execution {execution})"
    state = awaiting(client, "StagingQA", execution)
    assert action_of(state, "StagingDEV", "approve")["latestExecution"]["summary"] == "looks good"
    assert stage_of(state, "StagingQA")["latestExecution"] == {"pipelineExecutionId": execution, "status": "InProgress", "type": "STANDARD"}

    again = fails(article_daemon, 1, "approve", PIPELINE, "StagingDEV")
    assert "nothing waits for approval at StagingDEV.approve" in one_line_error(again)

    answer = as_json(article_daemon, "reject", PIPELINE, "StagingQA", "approve", "--summary", "QA found a bug")
    assert (answer["status"], answer["actionName"], answer["pipelineExecutionId"]) == ("Rejected", "approve", execution)
    assert "approvedAt" in answer
    wait_for(lambda: execution_status(client, execution) == "Failed")
    assert as_json(article_daemon, "status", PIPELINE)["pipelines"][0]["stages"][3]["cell"].endswith(" ✗")

    assert "StageNotFoundException: " in one_line_error(fails(article_daemon, 4, "approve", PIPELINE, "Nowhere"))
    assert "ActionNotFoundException: " in one_line_error(fails(article_daemon, 4, "approve", PIPELINE, "StagingQA", "nope"))
    assert "not a manual approval" in one_line_error(fails(article_daemon, 2, "reject", PIPELINE, "StagingQA", "stage"))
    assert "no manual approval" in one_line_error(fails(article_daemon, 2, "approve", PIPELINE, "Building"))


def test_start_with_revision_and_variables(tmp_path, service_repo, busybox_image):
    definition = copy.deepcopy(article_pipeline.service_pipeline(PIPELINE, service_repo, busybox_image))
    definition["pipeline"].update(pipelineType="V2", variables=[{"name": "GREETING", "defaultValue": "hi"}])
    article_pipeline.write(tmp_path / "pipelines", definition)
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    try:
        client = daemon.client()
        old = git(service_repo, "rev-parse", "HEAD")
        commit(service_repo, "c2")
        execution = as_json(daemon, "start", PIPELINE, "--revision", old, "--variable", "GREETING=hello there")[
            "pipelineExecutionId"]
        awaiting(client, "StagingDEV", execution)
        run = client.get_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=execution)["pipelineExecution"]
        assert run["artifactRevisions"][0]["revisionId"] == old
        assert {"name": "GREETING", "resolvedValue": "hello there"} in run["variables"]

        out = ok(daemon, "start", PIPELINE, "--revision", f"source={old}")
        assert out.startswith(f"started {PIPELINE} execution ")
        second = out.split()[-1]
        summary = wait_for(lambda: next((s for s in client.list_pipeline_executions(pipelineName=PIPELINE)[
            "pipelineExecutionSummaries"] if s.get("sourceRevisions")), None))
        assert summary["pipelineExecutionId"] == second and summary["sourceRevisions"][0]["revisionId"] == old

        assert fails(daemon, 2, "start", PIPELINE, "--variable", "GREETING").returncode == 2
        undeclared = fails(daemon, 4, "start", PIPELINE, "--variable", "NOPE=1")
        assert one_line_error(undeclared).startswith("pipemu: ValidationException: ")
    finally:
        daemon.stop()


def test_stop_waits_or_abandons(slow_daemon):
    client = slow_daemon.client()
    assert "nothing runs in" in one_line_error(fails(slow_daemon, 1, "stop", PIPELINE))

    first = as_json(slow_daemon, "start", PIPELINE)["pipelineExecutionId"]
    wait_for(lambda: building(client))
    out = ok(slow_daemon, "stop", PIPELINE, "--reason", "wrong branch")  # the one in Building
    assert out.strip() == f"stopping {PIPELINE} execution {first}"
    assert execution_status(client, first) == "Stopping"
    duplicate = fails(slow_daemon, 4, "stop", PIPELINE, first)
    assert one_line_error(duplicate).startswith("pipemu: DuplicatedStopRequestException: ")
    wait_for(lambda: execution_status(client, first) == "Stopped")
    assert client.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"][0][
        "stopTrigger"] == {"reason": "wrong branch"}

    second = as_json(slow_daemon, "start", PIPELINE)["pipelineExecutionId"]
    wait_for(lambda: building(client))
    assert as_json(slow_daemon, "stop", PIPELINE, second, "--abandon") == {"pipelineExecutionId": second}
    assert execution_status(client, second) == "Stopped"
    state = client.get_pipeline_state(name=PIPELINE)
    assert action_of(state, "Building", "build")["latestExecution"]["status"] == "Abandoned"
    assert row(ok(slow_daemon, "status", PIPELINE), PIPELINE)[2].endswith(" stopped")


def test_retry_failed_or_all_actions(article_daemon):
    client = article_daemon.client()
    execution = as_json(article_daemon, "start", PIPELINE)["pipelineExecutionId"]
    awaiting(client, "StagingDEV", execution)
    ok(article_daemon, "reject", PIPELINE, "StagingDEV")
    wait_for(lambda: execution_status(client, execution) == "Failed")
    assert "nothing ran in StagingQA" in one_line_error(fails(article_daemon, 1, "retry", PIPELINE, "StagingQA"))

    out = ok(article_daemon, "retry", PIPELINE, "StagingDEV")
    assert out.strip() == f"retrying StagingDEV of {PIPELINE} execution {execution} (FAILED_ACTIONS)"
    state = awaiting(client, "StagingDEV", execution)
    assert stage_of(state, "StagingDEV")["latestExecution"] == {"pipelineExecutionId": execution, "status": "InProgress", "type": "STANDARD"}
    approvals = [d for d in client.list_action_executions(pipelineName=PIPELINE)["actionExecutionDetails"]
                 if d["actionName"] == "approve"]
    assert [d["status"] for d in approvals] == ["InProgress", "Failed"]
    tests = [d for d in client.list_action_executions(pipelineName=PIPELINE)["actionExecutionDetails"]
             if d["actionName"] == "test"]
    assert len(tests) == 1  # FAILED_ACTIONS ran only the rejected approval again

    ok(article_daemon, "reject", PIPELINE, "StagingDEV")
    wait_for(lambda: execution_status(client, execution) == "Failed")
    answer = as_json(article_daemon, "retry", PIPELINE, "StagingDEV", "--all", "--execution", execution)
    assert answer == {"pipelineExecutionId": execution}
    awaiting(client, "StagingDEV", execution)
    tests = [d for d in client.list_action_executions(pipelineName=PIPELINE)["actionExecutionDetails"]
             if d["actionName"] == "test"]
    assert len(tests) == 2

    not_retryable = fails(article_daemon, 4, "retry", PIPELINE, "Building")
    assert one_line_error(not_retryable).startswith("pipemu: StageNotRetryableException: ")


def test_disable_and_enable_transition(article_daemon, service_repo):
    client = article_daemon.client()
    answer = as_json(article_daemon, "disable-transition", PIPELINE, "StagingDEV", "--reason", "Freeze for the demo")
    assert answer == {"pipelineName": PIPELINE, "stageName": "StagingDEV", "transitionType": "Inbound",
                      "enabled": False, "reason": "Freeze for the demo"}
    execution = as_json(article_daemon, "start", PIPELINE)["pipelineExecutionId"]
    waiting_at(client, "StagingDEV", execution)
    sha = git(service_repo, "rev-parse", "HEAD")[:7]
    table = ok(article_daemon, "status", PIPELINE)
    assert row(table, "waiting") == ["waiting", f"⊘ {sha}"]
    assert f"⊘ {PIPELINE}: entrance of StagingDEV disabled: Freeze for the demo" in table
    dev = as_json(article_daemon, "status", PIPELINE)["pipelines"][0]["stages"][2]
    assert dev["transitionEnabled"] is False and dev["disabledReason"] == "Freeze for the demo"
    assert dev["waiting"] == [{"pipelineExecutionId": execution, "revision": sha}]

    out = ok(article_daemon, "enable-transition", PIPELINE, "StagingDEV")
    assert out.strip() == f"enabled the transition into StagingDEV of {PIPELINE}"
    state = awaiting(client, "StagingDEV", execution)
    assert stage_of(state, "StagingDEV")["latestExecution"] == {"pipelineExecutionId": execution, "status": "InProgress", "type": "STANDARD"}
    assert "waiting" not in ok(article_daemon, "status", PIPELINE)

    bad = fails(article_daemon, 4, "disable-transition", PIPELINE, "StagingDEV", "--reason", "no #hash")
    assert one_line_error(bad).startswith("pipemu: ValidationException: ")
    assert fails(article_daemon, 2, "disable-transition", PIPELINE, "StagingDEV").returncode == 2  # --reason missing


# -- reading -------------------------------------------------------------------------------------


def test_history(article_daemon, service_repo):
    client = article_daemon.client()
    first = as_json(article_daemon, "start", PIPELINE)["pipelineExecutionId"]
    awaiting(client, "StagingDEV", first)
    sha = commit(service_repo, "c2")
    second = as_json(article_daemon, "start", PIPELINE)["pipelineExecutionId"]
    waiting_at(client, "StagingDEV", second)

    table = ok(article_daemon, "history", PIPELINE)
    lines = table.splitlines()
    assert lines[0].split() == ["EXECUTION", "STATUS", "TRIGGER", "REVISION", "STARTED", "DURATION"]
    assert lines[1].split()[:4] == [second, "InProgress", "StartPipelineExecution", sha[:7]]
    assert lines[2].split()[:2] == [first, "InProgress"] and len(lines) == 3
    assert row(table, second)[-1].endswith("…")  # still running: the duration so far

    summaries = as_json(article_daemon, "history", PIPELINE, "--limit", "1")["pipelineExecutionSummaries"]
    assert [s["pipelineExecutionId"] for s in summaries] == [second]
    assert summaries[0]["sourceRevisions"][0]["revisionId"] == sha
    assert row(ok(article_daemon, "history", PIPELINE, "--by", "message"), second)[3] == "c2"


def test_logs_of_finished_actions(article_daemon):
    client = article_daemon.client()
    execution = as_json(article_daemon, "start", PIPELINE)["pipelineExecutionId"]
    awaiting(client, "StagingDEV", execution)
    latest = pipemu(article_daemon, "logs", PIPELINE)  # StagingDEV.test (the approval after it has no log)
    assert latest.returncode == 0 and "tests passed" in latest.stdout
    assert latest.stderr.startswith(f"# {PIPELINE} StagingDEV.test execution {execution}")

    build = as_json(article_daemon, "logs", PIPELINE, "--stage", "Building", "--execution", execution)
    assert (build["stageName"], build["actionName"], build["status"]) == ("Building", "build", "Succeeded")
    assert any(line["text"].startswith("built ") for line in build["lines"])
    assert [line["seq"] for line in build["lines"]] == sorted(line["seq"] for line in build["lines"])

    missing = fails(article_daemon, 1, "logs", PIPELINE, "--stage", "StagingPROD")
    assert "no action execution of svc-pipeline to show for stage StagingPROD" in one_line_error(missing)
    unknown = fails(article_daemon, 4, "logs", PIPELINE, "--execution", "00000000-0000-0000-0000-000000000000")
    assert one_line_error(unknown).startswith("pipemu: PipelineExecutionNotFoundException: ")


def test_logs_follow_a_running_action(slow_daemon):
    client = slow_daemon.client()
    ok(slow_daemon, "start", PIPELINE)
    wait_for(lambda: building(client))
    started = time.monotonic()
    followed = pipemu(slow_daemon, "logs", PIPELINE, "-f")
    assert followed.returncode == 0, followed.stderr
    assert f"{PIPELINE} Building.build" in followed.stderr and ": InProgress" in followed.stderr
    assert followed.stderr.strip().endswith("# Succeeded")
    texts = followed.stdout.splitlines()
    assert "warming up" in texts and any(t.startswith("built ") for t in texts)
    assert texts.index("warming up") < next(i for i, t in enumerate(texts) if t.startswith("built "))
    assert time.monotonic() - started > 1  # it waited for the action to end

    as_document = as_json(slow_daemon, "logs", PIPELINE, "--stage", "Building", "-f")
    assert as_document["status"] == "Succeeded" and any(line["text"] == "warming up" for line in as_document["lines"])


def test_status_watch_redraws_on_a_change(article_daemon):
    watcher = subprocess.Popen([sys.executable, "-m", "emulator.cli", "status", PIPELINE, "--watch",
                                "--endpoint", article_daemon.endpoint], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in watcher.stdout], daemon=True).start()
    carry: list[str] = []  # the first line of the next frame, once read

    def next_frame(timeout: float = 60) -> str:
        """The lines of the next redraw (each starts with `--- HH:MM:SS` when not on a terminal)."""
        frame, deadline = carry[:], time.monotonic() + timeout
        carry.clear()
        while True:
            try:
                line = lines.get(timeout=1.0)
            except queue.Empty:
                if frame:
                    return "".join(frame)
                assert time.monotonic() < deadline, "no redraw"
                continue
            if line.startswith("--- ") and frame:
                carry.append(line)
                return "".join(frame)
            frame.append(line)

    try:
        first = next_frame()
        assert first.startswith("--- ") and row(first, PIPELINE)[1:] == ["-"] * 5
        ok(article_daemon, "start", PIPELINE)
        deadline = time.monotonic() + 60
        while True:  # redraws follow the execution until it waits for approval in StagingDEV
            frame = next_frame()
            assert frame.startswith("--- ")
            if row(frame, PIPELINE)[3].endswith(" ◯") and "awaits approval" in frame:
                break
            assert time.monotonic() < deadline, frame
    finally:
        watcher.send_signal(signal.SIGINT)  # Ctrl-C
        code = watcher.wait(10)
    assert code == 0, watcher.stderr.read()


# -- errors --------------------------------------------------------------------------------------


def test_unknown_pipeline_is_an_aws_error(article_daemon):
    for args in (["status", "nope"], ["history", "nope"], ["start", "nope"], ["logs", "nope"],
                 ["approve", "nope", "StagingDEV"], ["enable-transition", "nope", "StagingDEV"]):
        result = fails(article_daemon, 4, *args)
        assert one_line_error(result) == "pipemu: PipelineNotFoundException: Account '123456789012' does not have a pipeline with name 'nope'", args
        assert result.stdout == ""


def test_daemon_down_is_exit_3(tmp_path):
    endpoint = f"http://127.0.0.1:{free_port()}"
    for args in (["status"], ["status", "--watch"], ["start", PIPELINE], ["logs", PIPELINE], ["history", PIPELINE]):
        result = pipemu(endpoint, *args, timeout=30)
        assert result.returncode == 3, (args, result.stderr)
        assert one_line_error(result).startswith(f"pipemu: cannot reach the daemon at {endpoint}")
    by_env = subprocess.run([sys.executable, "-m", "emulator.cli", "history", PIPELINE], cwd=ROOT, capture_output=True,
                            text=True, timeout=30, env={**os.environ, "PIPEMU_ENDPOINT": endpoint})
    assert by_env.returncode == 3 and endpoint in by_env.stderr
    assert pipemu(endpoint, "status", "--bogus").returncode == 2  # click's usage error
