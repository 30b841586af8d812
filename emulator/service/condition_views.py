"""Stage conditions, rule runs, retries and rollbacks in the API's shapes (botocore's
StageConditionState, ConditionState, RuleState, RuleExecution, RuleExecutionDetail,
RetryStageMetadata, rollbackMetadata). Pure functions of the engine's state, as views.py."""

from __future__ import annotations

from emulator.engine.plan import ConditionPlan, StagePlan
from emulator.engine.state import ConditionRun, Execution, Pipeline, RuleRun, StageRun

# GetPipelineState's member for each condition kind.
STATE_MEMBERS = {"BEFORE_ENTRY": "beforeEntryConditionState", "ON_SUCCESS": "onSuccessConditionState",
                 "ON_FAILURE": "onFailureConditionState"}


def _clean(mapping: dict) -> dict:
    return {k: v for k, v in mapping.items() if v is not None}


def rule_execution(run: RuleRun) -> dict:
    error = {"code": run.error_code or "RuleFailed", "message": run.error_message[:5000]} if run.error_message else None
    return _clean({
        "ruleExecutionId": run.rule_execution_id,
        "status": run.status,
        "summary": run.summary,
        "lastStatusChange": run.last_update_time,
        "lastUpdatedBy": run.updated_by,
        "externalExecutionId": run.external_execution_id,
        "errorDetails": error,
    })


def condition_state(plan: ConditionPlan, run: ConditionRun) -> dict:
    """A StageConditionState: one condition (AWS's list holds one), its rules in declared order."""
    rules = []
    for rule in plan.rules:
        state: dict = {"ruleName": rule.name}
        if rule.name in run.rules:
            state["latestExecution"] = rule_execution(run.rules[rule.name])
        rules.append(state)
    summary = run.summary if run.overridden_by is None else f"Overridden by {run.overridden_by}"
    latest = _clean({"status": run.status, "summary": summary})
    return {
        "latestExecution": latest,
        "conditionStates": [{"latestExecution": {**latest, "lastStatusChange": run.last_update_time},
                             "ruleStates": rules}],
    }


def stage_condition_states(stage: StagePlan, stage_run: StageRun | None) -> dict:
    """The members of a stage's state for the conditions its latest execution judged."""
    found = {}
    for kind, member in STATE_MEMBERS.items():
        plan = stage.condition(kind)
        run = stage_run.conditions.get(kind) if stage_run else None
        if plan is not None and plan.rules and run is not None:
            found[member] = condition_state(plan, run)
    return found


def retry_metadata(stage_run: StageRun | None) -> dict | None:
    if stage_run is None or stage_run.latest_retry_trigger is None:
        return None
    return _clean({
        "autoStageRetryAttempt": stage_run.auto_retries or None,
        "manualStageRetryAttempt": stage_run.manual_retries or None,
        "latestRetryTrigger": stage_run.latest_retry_trigger,
    })


def rollback_metadata(execution: Execution) -> dict | None:
    if execution.rollback_target is None:
        return None
    return {"rollbackTargetPipelineExecutionId": execution.rollback_target}


def rule_execution_details(pipeline: Pipeline, execution: Execution) -> list[dict]:
    """ListRuleExecutions' entries of one execution, newest first (earlier evaluations included)."""
    plan = pipeline.plans[execution.pipeline_version]
    runs = [rule for stage_run in execution.stage_runs.values()
            for condition in (*stage_run.earlier_conditions, *stage_run.conditions.values())
            for rule in condition.rules.values()]
    runs.sort(key=lambda r: r.start_time, reverse=True)
    details = []
    for run in runs:
        rule = next(r for r in plan.stage(run.stage).condition(run.kind).rules if r.name == run.name)
        error = {"code": run.error_code or "RuleFailed", "message": run.error_message[:5000]} if run.error_message else None
        details.append(_clean({
            "pipelineExecutionId": execution.execution_id,
            "ruleExecutionId": run.rule_execution_id,
            "pipelineVersion": execution.pipeline_version,
            "stageName": run.stage,
            "ruleName": run.name,
            "startTime": run.start_time,
            "lastUpdateTime": run.last_update_time,
            "updatedBy": run.updated_by,
            "status": run.status,
            "input": _clean({
                "ruleTypeId": {"category": "Rule", "owner": "AWS", "provider": rule.provider, "version": rule.version},
                "configuration": rule.config,
                "resolvedConfiguration": dict(run.configuration),
                "roleArn": rule.role_arn,
                "region": rule.region,
                "inputArtifacts": [{"name": a.name} for a in run.input_artifacts],
            }),
            "output": {"executionResult": _clean({
                "externalExecutionId": run.external_execution_id,
                "externalExecutionSummary": run.summary,
                "errorDetails": error,
            })},
        }))
    return details
