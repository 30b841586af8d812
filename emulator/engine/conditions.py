"""Stage conditions as policy data: what a condition's outcome does, beside gates.py.

A stage may declare three conditions (CodePipeline V2), each checked by ordered rules at one
moment of the stage (Prefect's orchestration rules are the model: named, ordered, fired at a
transition, answering go on / stop):

- `BEFORE_ENTRY`: when an execution enters the stage, before its actions. Met: the actions run.
  Not met: the condition's result engages, FAIL (the stage and execution fail) or SKIP (the
  stage is Skipped and the execution goes on to the next stage).
- `ON_SUCCESS`: when every action of the stage succeeded. Met: the stage succeeds. Not met:
  FAIL, or ROLLBACK (the stage fails and is rolled back).
- `ON_FAILURE`: when the stage failed. Its result (ROLLBACK, or RETRY with a retryMode) engages
  when its rules are met, or at once when it has none (AWS's automatic rollback and retry).

The rules of a condition run one after another in their declared order; the first that fails
fails the condition and the rest do not run (AWS says a condition is met when all its rules
succeed, and one failing rule fails it; running the others could only cost time and, for a
Commands or CodeBuild rule, containers). The machine (machine.py) applies what is decided here.

Where AWS's documentation is silent, chosen here and said in the README: a ROLLBACK execution
evaluates no conditions of its stage and is neither retried nor rolled back itself; a stage
retries itself automatically once (AWS allows one automatic attempt).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import statuses as S
from .plan import ConditionPlan, PipelinePlan

BEFORE_ENTRY, ON_SUCCESS, ON_FAILURE = "BEFORE_ENTRY", "ON_SUCCESS", "ON_FAILURE"
STANDARD, ROLLBACK = "STANDARD", "ROLLBACK"
AUTOMATIC_RETRIES = 1  # RetryStageMetadata.autoStageRetryAttempt: AWS allows one


@dataclass(frozen=True)
class Outcome:
    """What happens to the stage after a condition was judged (or there was nothing to judge)."""

    name: str  # ENTER | SUCCEED | SKIP | FAIL | ROLLBACK | RETRY
    retry_mode: str | None = None


ENTER, SUCCEED, SKIP, FAIL, ROLLBACK_STAGE, RETRY = (
    Outcome("ENTER"), Outcome("SUCCEED"), Outcome("SKIP"), Outcome("FAIL"), Outcome("ROLLBACK"), Outcome("RETRY"))


def outcome(condition: ConditionPlan, met: bool) -> Outcome:
    """What a judged condition does to its stage (`met`: every rule passed, or it was overridden)."""
    if condition.kind == BEFORE_ENTRY:
        return ENTER if met else (SKIP if condition.result == "SKIP" else FAIL)
    if condition.kind == ON_SUCCESS:
        return SUCCEED if met else (ROLLBACK_STAGE if condition.result == "ROLLBACK" else FAIL)
    if not met:  # ON_FAILURE: the stage stays failed
        return FAIL
    if condition.result == "RETRY":
        return Outcome("RETRY", condition.retry_mode or "FAILED_ACTIONS")
    return ROLLBACK_STAGE if condition.result == "ROLLBACK" else FAIL


def rolls_back(execution_mode: str) -> bool:
    """AWS: "For pipelines in PARALLEL mode, stage rollback is not available" (executions there
    have no order a stage could be taken back along)."""
    return execution_mode != "PARALLEL"


def runs_conditions(execution_type: str) -> bool:
    """A ROLLBACK execution restores what ran before: no condition holds it back or repeats it."""
    return execution_type != ROLLBACK


def on_failure(condition: ConditionPlan | None, auto_retries: int) -> Outcome | None:
    """What a failed stage does before any rule runs: None when its onFailure has rules to judge
    first (or nothing is declared, then the stage just fails: FAIL)."""
    if condition is None or condition.result is None:
        return FAIL
    if condition.rules:
        return None
    if condition.result == "RETRY" and auto_retries >= AUTOMATIC_RETRIES:
        return FAIL
    return outcome(condition, met=True)


def rollback_target(executions, stage: str, version: int, excluding: str | None = None):
    """The newest execution that can be rolled back to in `stage`: a STANDARD one of the current
    pipeline version whose run of the stage succeeded (AWS's automatic rollback picks it)."""
    for execution in reversed(list(executions)):
        if execution.execution_id == excluding or not is_rollback_target(execution, stage, version):
            continue
        return execution
    return None


def is_rollback_target(execution, stage: str, version: int) -> bool:
    stage_run = execution.stage_runs.get(stage)
    return (execution.execution_type == STANDARD and execution.pipeline_version == version
            and stage_run is not None and stage_run.status == S.SUCCEEDED)


def rollback_refusal(plan: PipelinePlan, stage: str, target, version: int) -> str | None:
    """Why `target` cannot be rolled back to in `stage` (UnableToRollbackStageException), or None."""
    if plan.stages and plan.stages[0].name == stage:
        return f"Stage '{stage}' is a source stage: source stages cannot be rolled back"
    if target.execution_type == ROLLBACK:
        return f"Execution '{target.execution_id}' is itself a rollback and cannot be a rollback target"
    stage_run = target.stage_runs.get(stage)
    if stage_run is None or stage_run.status != S.SUCCEEDED:
        status = stage_run.status if stage_run else "did not run"
        return (f"Execution '{target.execution_id}' cannot be a rollback target: stage '{stage}' "
                f"{'is ' + status if stage_run else status} in it; it must have succeeded there")
    return None
