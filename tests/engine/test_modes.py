"""Every execution mode x (waiting, superseded, disabled transition, retry, stop-and-wait, abandon,
approval timeout, cancel on update), on the pure engine with the fake runner."""

from __future__ import annotations

import pytest

from emulator.engine import (
    ActionTimedOut,
    CancelAction,
    EngineError,
    ExecutionStopRequested,
    PipelineDeclared,
    StageRetryRequested,
    StageTransitionChanged,
    plan_from_declaration,
)
from tests.engine.harness import Harness, action, approval

MODES = ["SUPERSEDED", "QUEUED", "PARALLEL"]


def declaration(mode: str, extra_action=None) -> dict:
    work = [action("a"), approval(run_order=2)] + ([extra_action] if extra_action else [])
    return {
        "name": "p",
        "executionMode": mode,
        "stages": [
            {"name": "Source", "actions": [action("source", "Source", "CodeCommit", outputs=["src"])]},
            {"name": "Work", "actions": work},
        ],
    }


class Driver(Harness):
    """Harness with names for what the tables say."""

    def __init__(self, mode: str):
        super().__init__(declaration(mode), auto_run=False)

    def run(self, execution_id: str, action_name: str, succeed: bool = True):
        command = next(c for c in self.pending if (c.execution_id, c.action.name) == (execution_id, action_name))
        return self.finish(command, succeed)

    def arrive(self, *execution_ids: str) -> None:
        """Start each and run its source, so that it reaches Work's entrance."""
        for execution_id in execution_ids:
            self.start(execution_id)
            self.run(execution_id, "source")

    def where(self) -> dict:
        slot = self.pipeline.slots["Work"]
        return {"inside": list(slot.inside), "waiting": list(slot.waiting)}

    def statuses(self) -> dict:
        return {e: x.status for e, x in self.pipeline.executions.items()}


@pytest.mark.parametrize("mode, where", [
    ("SUPERSEDED", {"inside": ["c1"], "waiting": ["c2"]}),
    ("QUEUED", {"inside": ["c1"], "waiting": ["c2"]}),
    ("PARALLEL", {"inside": ["c1", "c2"], "waiting": []}),
])
def test_waiting(mode, where):
    d = Driver(mode)
    d.arrive("c1", "c2")
    assert d.where() == where


@pytest.mark.parametrize("mode, where, superseded", [
    ("SUPERSEDED", {"inside": ["c1"], "waiting": ["c3"]}, ["c2"]),
    ("QUEUED", {"inside": ["c1"], "waiting": ["c2", "c3"]}, []),
    ("PARALLEL", {"inside": ["c1", "c2", "c3"], "waiting": []}, []),
])
def test_superseded(mode, where, superseded):
    d = Driver(mode)
    d.arrive("c1", "c2", "c3")
    assert d.where() == where
    assert [e for e, s in d.statuses().items() if s == "Superseded"] == superseded


@pytest.mark.parametrize("mode, while_disabled, after_enable", [
    ("SUPERSEDED", {"inside": [], "waiting": ["c2"]}, {"inside": ["c2"], "waiting": []}),
    ("QUEUED", {"inside": [], "waiting": ["c1", "c2"]}, {"inside": ["c1"], "waiting": ["c2"]}),
    ("PARALLEL", {"inside": [], "waiting": ["c1", "c2"]}, {"inside": ["c1", "c2"], "waiting": []}),
])
def test_disabled_transition(mode, while_disabled, after_enable):
    d = Driver(mode)
    d.send(StageTransitionChanged("p", "Work", False, "freeze", "ops"))
    d.arrive("c1", "c2")
    assert d.where() == while_disabled
    slot = d.pipeline.slots["Work"]
    assert (slot.transition_enabled, slot.disabled_reason, slot.transition_changed_by) == (False, "freeze", "ops")
    d.send(StageTransitionChanged("p", "Work", True, by="ops"))
    assert d.where() == after_enable
    assert (slot.transition_enabled, slot.disabled_reason) == (True, None)


@pytest.mark.parametrize("mode", MODES)
def test_retry_failed_actions_and_all_actions(mode):
    d = Driver(mode)
    d.arrive("c1")
    d.run("c1", "a", succeed=False)
    assert d.statuses() == {"c1": "Failed"}
    first = d.execution("c1").stage_runs["Work"].actions["a"].action_execution_id
    d.send(StageRetryRequested("p", "c1", "Work", "FAILED_ACTIONS"))
    assert d.statuses() == {"c1": "InProgress"}
    assert d.where() == {"inside": ["c1"], "waiting": []}
    again = d.execution("c1").stage_runs["Work"].actions["a"]
    assert again.action_execution_id != first and again.status == "InProgress"
    d.run("c1", "a")
    d.answer("c1", "Work", "Rejected")
    d.send(StageRetryRequested("p", "c1", "Work", "ALL_ACTIONS"))
    assert [c.action.name for c in d.pending] == ["a"]  # from the first runOrder again
    d.run("c1", "a")
    d.answer("c1", "Work", "Approved")
    assert d.statuses() == {"c1": "Succeeded"}


@pytest.mark.parametrize("mode", MODES)
def test_retry_refusals(mode):
    d = Driver(mode)
    d.arrive("c1")
    with pytest.raises(EngineError) as raised:  # still running
        d.send(StageRetryRequested("p", "c1", "Work", "FAILED_ACTIONS"))
    assert raised.value.code == "StageNotRetryableException"
    d.run("c1", "a", succeed=False)
    d.arrive("c2")  # enters the freed stage
    with pytest.raises(EngineError) as raised:
        d.send(StageRetryRequested("p", "c1", "Work", "FAILED_ACTIONS"))
    assert raised.value.code == "NotLatestPipelineExecutionException"
    with pytest.raises(EngineError) as raised:
        d.send(StageRetryRequested("p", "c2", "Nowhere", "FAILED_ACTIONS"))
    assert raised.value.code == "StageNotFoundException"


@pytest.mark.parametrize("mode, second_meanwhile", [
    ("SUPERSEDED", {"inside": ["c1"], "waiting": ["c2"]}),
    ("QUEUED", {"inside": ["c1"], "waiting": ["c2"]}),
    ("PARALLEL", {"inside": ["c1", "c2"], "waiting": []}),
])
def test_stop_and_wait(mode, second_meanwhile):
    d = Driver(mode)
    d.arrive("c1")
    d.send(ExecutionStopRequested("p", "c1", reason="hold on"))
    assert d.statuses()["c1"] == "Stopping"
    assert d.execution("c1").stage_runs["Work"].status == "Stopping"
    with pytest.raises(EngineError) as raised:
        d.send(ExecutionStopRequested("p", "c1"))
    assert raised.value.code == "DuplicatedStopRequestException"
    d.arrive("c2")
    assert d.where() == second_meanwhile
    d.run("c1", "a")  # the running action ends; nothing after it starts
    assert d.statuses()["c1"] == "Stopped"
    assert d.execution("c1").stage_runs["Work"].status == "Stopped"
    assert d.execution("c1").status_summary == "Execution stopped: hold on"
    assert "approve" not in d.execution("c1").stage_runs["Work"].actions
    assert d.where()["inside"] == ["c2"]
    with pytest.raises(EngineError) as raised:
        d.send(ExecutionStopRequested("p", "c1"))
    assert raised.value.code == "PipelineExecutionNotStoppableException"


@pytest.mark.parametrize("mode", MODES)
def test_abandon(mode):
    d = Driver(mode)
    d.arrive("c1")
    d.send(ExecutionStopRequested("p", "c1"))
    commands = d.send(ExecutionStopRequested("p", "c1", abandon=True))  # abandon may follow a stop
    run = d.execution("c1").stage_runs["Work"].actions["a"]
    assert run.status == "Abandoned"
    assert CancelAction("p", "c1", run.action_execution_id) in commands
    assert d.statuses()["c1"] == "Stopped"
    assert d.where() == {"inside": [], "waiting": []}
    with pytest.raises(EngineError):  # the abandoned action's late result is refused
        d.run("c1", "a")
    d.arrive("c2")
    assert d.where()["inside"] == ["c2"]


@pytest.mark.parametrize("mode", MODES)
def test_stop_while_waiting_ends_at_once(mode):
    d = Driver(mode)
    d.send(StageTransitionChanged("p", "Work", False, "freeze"))
    d.arrive("c1")
    d.send(ExecutionStopRequested("p", "c1", reason="not this one"))
    assert d.statuses() == {"c1": "Stopped"}
    assert d.where() == {"inside": [], "waiting": []}


@pytest.mark.parametrize("mode, then_inside", [
    ("SUPERSEDED", ["c2"]), ("QUEUED", ["c2"]), ("PARALLEL", ["c2"]),
])
def test_approval_timeout(mode, then_inside):
    d = Driver(mode)
    d.arrive("c1")
    d.run("c1", "a")
    d.arrive("c2")
    run = d.execution("c1").stage_runs["Work"].actions["approve"]
    d.send(ActionTimedOut("p", "c1", "Work", "approve", run.action_execution_id))
    assert d.statuses()["c1"] == "Failed"
    assert d.where()["inside"] == then_inside


@pytest.mark.parametrize("mode", MODES)
def test_cancel_on_update(mode):
    d = Driver(mode)
    d.arrive("c1")
    d.send(StageTransitionChanged("p", "Work", False, "freeze"))
    d.arrive("c2")
    d.send(PipelineDeclared("p", 2, plan_from_declaration(declaration(mode, action("b", run_order=3)))))
    assert d.statuses() == {"c1": "InProgress", "c2": "Cancelled"}
    d.run("c1", "a")
    assert d.statuses() == {"c1": "Cancelled", "c2": "Cancelled"}
    assert d.where() == {"inside": [], "waiting": []}


def test_client_request_token_is_idempotent():
    d = Driver("SUPERSEDED")
    from emulator.engine import ExecutionStarted

    d.send(ExecutionStarted("p", "c1", client_request_token="once"))
    with pytest.raises(EngineError) as raised:
        d.send(ExecutionStarted("p", "c2", client_request_token="once"))
    assert "c1" in raised.value.message
    assert d.pipeline.request_tokens == {"once": "c1"}
