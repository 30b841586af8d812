"""Waiting for the daemon to settle: every non-approval action finished (pipemu.testing and the suite)."""

from __future__ import annotations

import time


def running_actions(state: dict) -> list[str]:
    """The actions that run (approvals aside) and the stage conditions being judged."""
    running = []
    for stage in state["stageStates"]:
        for member in ("beforeEntryConditionState", "onSuccessConditionState", "onFailureConditionState"):
            if (stage.get(member) or {}).get("latestExecution", {}).get("status") == "InProgress":
                running.append(f"{stage['stageName']}.{member}")
        for action in stage["actionStates"]:
            latest = action.get("latestExecution", {})
            if latest.get("status") == "InProgress" and "token" not in latest:
                running.append(f"{stage['stageName']}.{action['actionName']}")
    return running


def settle(client, pipeline: str, timeout: float = 120) -> dict:
    """The pipeline's state once no container action runs (approvals may wait)."""
    deadline = time.monotonic() + timeout
    while True:
        state = client.get_pipeline_state(name=pipeline)
        busy = running_actions(state)
        if not busy:
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"still running after {timeout}s: {busy}")
        time.sleep(0.1)


def wait_for(predicate, timeout: float = 30, what: str = "the condition"):
    """predicate()'s first truthy answer, asked every 50 ms for up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.05)
    return result


def stage_of(state: dict, name: str) -> dict:
    return next(s for s in state["stageStates"] if s["stageName"] == name)


def action_of(state: dict, stage: str, action: str) -> dict:
    return next(a for a in stage_of(state, stage)["actionStates"] if a["actionName"] == action)
