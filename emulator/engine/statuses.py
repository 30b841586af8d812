"""Statuses (botocore's enums) and the transitions between them, as data.

Every status change in the engine goes through `move()`, which consults these tables: a change
the table does not allow is a bug in the engine, never silently applied.
"""

from __future__ import annotations

# Pipeline execution (PipelineExecutionStatus)
IN_PROGRESS = "InProgress"
STOPPING = "Stopping"
STOPPED = "Stopped"
SUCCEEDED = "Succeeded"
SUPERSEDED = "Superseded"
FAILED = "Failed"
CANCELLED = "Cancelled"
# Stage only (StageExecutionStatus)
SKIPPED = "Skipped"
# Action only (ActionExecutionStatus)
ABANDONED = "Abandoned"
# Conditions only (ConditionExecutionStatus)
ERRORED = "Errored"
OVERRIDDEN = "Overridden"

EXECUTION_TRANSITIONS: dict[str, frozenset[str]] = {
    IN_PROGRESS: frozenset({STOPPING, STOPPED, SUCCEEDED, SUPERSEDED, FAILED, CANCELLED}),
    STOPPING: frozenset({STOPPED, FAILED, CANCELLED}),
    STOPPED: frozenset({IN_PROGRESS}),  # a retried stage resumes a stopped execution
    FAILED: frozenset({IN_PROGRESS}),  # a retried stage resumes a failed execution
    SUCCEEDED: frozenset(),
    SUPERSEDED: frozenset(),
    CANCELLED: frozenset(),
}

STAGE_TRANSITIONS: dict[str, frozenset[str]] = {
    IN_PROGRESS: frozenset({STOPPING, STOPPED, SUCCEEDED, FAILED, CANCELLED, SKIPPED}),
    STOPPING: frozenset({STOPPED, FAILED, CANCELLED}),
    STOPPED: frozenset({IN_PROGRESS}),
    FAILED: frozenset({IN_PROGRESS}),
    SUCCEEDED: frozenset(),
    CANCELLED: frozenset(),
    SKIPPED: frozenset(),
}

ACTION_TRANSITIONS: dict[str, frozenset[str]] = {
    IN_PROGRESS: frozenset({SUCCEEDED, FAILED, ABANDONED}),
    SUCCEEDED: frozenset(),
    FAILED: frozenset(),
    ABANDONED: frozenset(),
}

# A condition's evaluation (ConditionExecutionStatus) and a rule's run (RuleExecutionStatus, the
# four of them a rule can have).
CONDITION_TRANSITIONS: dict[str, frozenset[str]] = {
    IN_PROGRESS: frozenset({SUCCEEDED, FAILED, ERRORED, CANCELLED, ABANDONED, OVERRIDDEN}),
    SUCCEEDED: frozenset(),
    FAILED: frozenset(),
    ERRORED: frozenset(),
    CANCELLED: frozenset(),
    ABANDONED: frozenset(),
    OVERRIDDEN: frozenset(),
}

RULE_TRANSITIONS: dict[str, frozenset[str]] = {
    IN_PROGRESS: frozenset({SUCCEEDED, FAILED, ABANDONED}),
    SUCCEEDED: frozenset(),
    FAILED: frozenset(),
    ABANDONED: frozenset(),
}

EXECUTION_TERMINAL = frozenset({STOPPED, SUCCEEDED, SUPERSEDED, FAILED, CANCELLED})


def move(table: dict[str, frozenset[str]], obj, new_status: str, kind: str) -> None:
    """Set obj.status to new_status if the table allows it; otherwise it is an engine bug."""
    old = obj.status
    if new_status not in table[old]:
        raise AssertionError(f"illegal {kind} transition {old} -> {new_status}")
    obj.status = new_status
