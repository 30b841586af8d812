"""The three CodePipeline events EventBridge carries, derived from what one engine event changed.

The service takes a `snapshot` of the statuses of the executions an event may touch before the
engine handles it, and `derive` compares them with the state after: every status that moved is
one AWS event (a new execution, stage run or action run is STARTED). Deriving from the state
rather than from each engine event keeps this in step with the engine without knowing its rules
(supersession, automatic retries, conditions...).

AWS's states ("Monitoring CodePipeline events"): pipeline STARTED, STOPPING, STOPPED, SUCCEEDED,
RESUMED, FAILED, CANCELED, SUPERSEDED; stage STARTED, STOPPING, STOPPED, SUCCEEDED, RESUMED,
FAILED, CANCELED; action STARTED, SUCCEEDED, FAILED, ABANDONED, CANCELED. A stage Skipped by a
condition has no AWS state: nothing is emitted for it.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from emulator.engine import statuses as S

ACCOUNT_ID = "123456789012"
SOURCE = "aws.codepipeline"
PIPELINE_CHANGE = "CodePipeline Pipeline Execution State Change"
STAGE_CHANGE = "CodePipeline Stage Execution State Change"
ACTION_CHANGE = "CodePipeline Action Execution State Change"
DETAIL_TYPES = (PIPELINE_CHANGE, STAGE_CHANGE, ACTION_CHANGE)

# Engine status -> AWS event state, for a run that existed before the event.
_ENDED = {S.SUCCEEDED: "SUCCEEDED", S.FAILED: "FAILED", S.STOPPED: "STOPPED", S.STOPPING: "STOPPING",
          S.CANCELLED: "CANCELED", S.SUPERSEDED: "SUPERSEDED", S.ABANDONED: "ABANDONED"}
_ACTIVE = (S.IN_PROGRESS, S.STOPPING)


@dataclass
class _ExecutionSnapshot:
    status: str
    stages: dict[str, str] = field(default_factory=dict)  # stage -> status
    actions: dict[str, str] = field(default_factory=dict)  # action execution id -> status


@dataclass
class Snapshot:
    executions: dict[tuple[str, str], _ExecutionSnapshot]  # (pipeline, execution id) -> statuses
    counts: dict[str, int]  # pipeline -> how many executions it had (new ones come after, in order)


class Tracker:
    """Which executions may change: those in progress after the last event (kept here, so that an
    event costs the executions in progress, not the whole history: 100k ended executions stay
    unread), the one an event names (a retry resumes it), and the ones it starts."""

    def __init__(self) -> None:
        self._active: set[tuple[str, str]] | None = None  # None: not known yet (after a replay)

    def snapshot(self, engine, named: tuple[str, str] | None = None) -> Snapshot:
        if self._active is None:  # once: the replayed state's executions in progress
            self._active = {(p.name, e.execution_id) for p in engine.pipelines.values()
                            for e in p.executions.values() if e.status in _ACTIVE}
        taken = Snapshot({}, {name: len(p.executions) for name, p in engine.pipelines.items()})
        for key in self._active | ({named} if named else set()):
            pipeline = engine.pipelines.get(key[0])
            execution = pipeline.executions.get(key[1]) if pipeline is not None else None
            if execution is not None:
                taken.executions[key] = _of(execution)
        return taken

    def derive(self, engine, before: Snapshot, now: float, region: str,
               new_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> list[dict]:
        """The AWS events for what changed since `before` (see `derive_events`); the executions
        in progress are noted for the next event."""
        candidates = []
        for name, pipeline in engine.pipelines.items():
            known = before.counts.get(name, 0)
            added = len(pipeline.executions) - known
            for key in before.executions:
                if key[0] == name and key[1] in pipeline.executions:
                    candidates.append((pipeline, pipeline.executions[key[1]]))
            if added > 0:  # started by this event: the newest ones, in start order
                newest = list(itertools.islice(reversed(pipeline.executions.values()), added))
                candidates.extend((pipeline, execution) for execution in reversed(newest))
        self._active = {(p.name, e.execution_id) for p, e in candidates if e.status in _ACTIVE}
        found: list[dict] = []
        for pipeline, execution in candidates:
            old = before.executions.get((pipeline.name, execution.execution_id))
            found.extend(_changes(pipeline, execution, old, now, region, new_id))
        return found


def snapshot(engine, named: tuple[str, str] | None = None) -> Snapshot:
    """A snapshot that reads every execution (for one-off use; the service keeps a Tracker)."""
    return Tracker().snapshot(engine, named)


def _of(execution) -> _ExecutionSnapshot:
    return _ExecutionSnapshot(
        execution.status,
        {name: run.status for name, run in execution.stage_runs.items()},
        {run.action_execution_id: run.status for stage in execution.stage_runs.values() for run in stage.actions.values()})


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(at * 1000) % 1000:03d}Z"


def envelope(detail_type: str, detail: dict, pipeline: str, region: str, at: float, new_id: Callable[[], str]) -> dict:
    """An event as EventBridge delivers it (its `time` has whole seconds, as AWS's)."""
    return {
        "version": "0",
        "id": new_id(),
        "detail-type": detail_type,
        "source": SOURCE,
        "account": ACCOUNT_ID,
        "time": datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:codepipeline:{region}:{ACCOUNT_ID}:{pipeline}"],
        "detail": detail,
    }


def derive(engine, before: Snapshot, now: float, region: str,
           new_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> list[dict]:
    """The AWS events for what changed since `before`, in the order AWS emits them: the pipeline
    starting (or resuming, or stopping), then stage by stage the stage starting, its actions
    ending and starting, the stage ending; the pipeline's end last."""
    return Tracker().derive(engine, before, now, region, new_id)


def _changes(pipeline, execution, old: _ExecutionSnapshot | None, now: float, region: str, new_id) -> list[dict]:
    plan = pipeline.plans.get(execution.pipeline_version, pipeline.plan)
    attempt = 1 + sum(run.manual_retries + run.auto_retries for run in execution.stage_runs.values())
    base = {"pipeline": pipeline.name, "execution-id": execution.execution_id,
            "start-time": _iso(execution.start_time), "version": float(execution.pipeline_version),
            "pipeline-execution-attempt": float(attempt)}

    def emit(detail_type: str, detail: dict) -> dict:
        return envelope(detail_type, detail, pipeline.name, region, now, new_id)

    def pipeline_event(state: str) -> dict:
        detail = {**base, "execution-trigger": {"trigger-type": execution.trigger_type,
                                                "trigger-detail": execution.trigger_detail}, "state": state}
        if state == "STOPPING" and execution.stop_reason:
            detail["stop-execution-comments"] = execution.stop_reason
        return emit(PIPELINE_CHANGE, detail)

    events: list[dict] = []
    last: list[dict] = []
    status = execution.status
    if old is None:
        events.append(pipeline_event("STARTED"))
        if status != S.IN_PROGRESS:
            (events if status == S.STOPPING else last).append(pipeline_event(_ENDED[status]))
    elif old.status != status:
        if status == S.IN_PROGRESS:
            events.append(pipeline_event("RESUMED"))
        elif status == S.STOPPING:
            events.append(pipeline_event("STOPPING"))
        else:
            if old.status == S.IN_PROGRESS and status == S.STOPPED:
                events.append(pipeline_event("STOPPING"))  # a stop that ended at once went through it
            last.append(pipeline_event(_ENDED[status]))
    stage_order = {stage.name: i for i, stage in enumerate(plan.stages)}
    for name, run in sorted(execution.stage_runs.items(), key=lambda item: stage_order.get(item[0], 1 << 30)):
        was = old.stages.get(name) if old else None
        stage_detail = {**base, "stage": name}
        if was is None or (was != run.status and run.status == S.IN_PROGRESS):
            state = "STARTED" if was is None else "RESUMED"
            detail = {**stage_detail, "state": state}
            if state == "RESUMED":
                detail["stage-last-retry-attempt-time"] = _iso(run.last_update_time)
            if run.status != S.SKIPPED:
                events.append(emit(STAGE_CHANGE, detail))
        stage_plan = plan.stage(name)
        for action in run.actions.values():
            before = old.actions.get(action.action_execution_id) if old else None
            if before == action.status:
                continue
            action_plan = stage_plan.action(action.name) if stage_plan else None
            detail = {**stage_detail, "action-execution-id": action.action_execution_id, "action": action.name,
                      "region": region}
            if action_plan is not None:
                detail["type"] = {"owner": action_plan.owner, "provider": action_plan.provider,
                                  "category": action_plan.category, "version": action_plan.version}
            if before is None:
                events.append(emit(ACTION_CHANGE, {**detail, "state": "STARTED"}))
            if action.status != S.IN_PROGRESS:
                state = _ENDED[action.status]
                if state == "ABANDONED" and (execution.cancel_pending or status == S.CANCELLED):
                    state = "CANCELED"  # AWS: "canceled because the pipeline structure was updated"
                events.append(emit(ACTION_CHANGE, {**detail, **_result(action), "state": state}))
        if run.status not in (S.IN_PROGRESS, S.SKIPPED) and run.status != was:
            events.append(emit(STAGE_CHANGE, {**stage_detail, "state": _ENDED[run.status]}))
    return events + last


def _result(action) -> dict:
    """`execution-result` of an action that ended, as AWS gives it for SUCCEEDED and FAILED."""
    result: dict = {}
    output = action.output
    if output is not None:
        for key, value in (("external-execution-summary", output.summary),
                           ("external-execution-id", output.external_execution_id),
                           ("external-execution-url", output.external_execution_url)):
            if value:
                result[key] = value
    if action.status == S.FAILED:
        if action.error_message:
            result.setdefault("external-execution-summary", action.error_message)
        result["error-code"] = action.error_code or "JobFailed"
    return {"execution-result": result} if result else {}
