"""The engine's state in the API's shapes (botocore's CodePipeline model, AWS's field names).

Pure functions from engine state to JSON-ready dicts; timestamps are epoch seconds, which the
JSON 1.1 protocol carries as numbers. Absent values are left out, never sent as null.
"""

from __future__ import annotations

from emulator.engine.plan import PipelinePlan
from emulator.engine.state import ActionRun, Execution, Pipeline

from .condition_views import retry_metadata, rollback_metadata, stage_condition_states

ACCOUNT_ID = "123456789012"


def _clean(mapping: dict) -> dict:
    return {k: v for k, v in mapping.items() if v is not None}


def pipeline_arn(region: str, name: str) -> str:
    return f"arn:aws:codepipeline:{region}:{ACCOUNT_ID}:{name}"


def pipeline_summary(pipeline: Pipeline) -> dict:
    plan = pipeline.plan
    return {
        "name": pipeline.name,
        "version": pipeline.version,
        "pipelineType": plan.declaration.get("pipelineType", "V1"),
        "executionMode": plan.execution_mode,
        "created": pipeline.created,
        "updated": pipeline.updated,
    }


def declaration(plan: PipelinePlan) -> dict:
    return plan.declaration


def action_execution(run: ActionRun) -> dict:
    output = run.output
    error = None
    if run.error_message is not None:
        error = {"code": run.error_code or "JobFailed", "message": run.error_message[:5000]}
    summary = output.summary if output else None
    if run.token is not None:
        # A pending approval shows its CustomData; an answered one the reviewer's summary.
        summary = run.approval_summary or dict(run.configuration).get("CustomData")
    return _clean(
        {
            "actionExecutionId": run.action_execution_id,
            "status": run.status,
            "summary": summary,
            "lastStatusChange": run.last_update_time,
            "token": run.token if run.token and run.status == "InProgress" else None,
            "lastUpdatedBy": run.approved_by or None,
            "externalExecutionId": output.external_execution_id if output else None,
            "externalExecutionUrl": output.external_execution_url if output else None,
            "errorDetails": error,
        }
    )


def stage_states(pipeline: Pipeline) -> list[dict]:
    states = []
    for stage in pipeline.plan.stages:
        slot = pipeline.slot(stage.name)
        state: dict = {"stageName": stage.name}
        if slot.waiting:
            waiting = [_stage_execution(pipeline.executions[e], "InProgress") for e in slot.waiting]
            state["inboundExecution"] = waiting[0]  # the one that enters next
            state["inboundExecutions"] = waiting
        state["inboundTransitionState"] = _clean(
            {
                "enabled": slot.transition_enabled,
                "lastChangedBy": slot.transition_changed_by,
                "lastChangedAt": slot.transition_changed_at,
                "disabledReason": slot.disabled_reason,
            }
        )
        actions = []
        for action in stage.actions:
            action_state: dict = {"actionName": action.name}
            configuration = action.config
            execution_id = slot.latest_action_runs.get(action.name)
            run = None
            if execution_id is not None:
                run = pipeline.executions[execution_id].stage_runs[stage.name].latest_run(action.name)
            if run is not None:
                action_state["latestExecution"] = action_execution(run)
                configuration = dict(run.configuration) or configuration
                if action.category == "Source" and run.output and run.output.revision_id:
                    action_state["currentRevision"] = {
                        "revisionId": run.output.revision_id,
                        "revisionChangeId": run.output.revision_id,
                        "created": run.output.revision_created or run.last_update_time,
                    }
            if action.is_approval and "ExternalEntityLink" in configuration:
                action_state["entityUrl"] = configuration["ExternalEntityLink"]
            actions.append(action_state)
        state["actionStates"] = actions
        if slot.latest_execution is not None:
            execution = pipeline.executions[slot.latest_execution]
            stage_run = execution.stage_runs[stage.name]
            state["latestExecution"] = {**_stage_execution(execution, stage_run.status),
                                        "type": execution.execution_type}
            stage_plan = pipeline.plans[execution.pipeline_version].stage(stage.name) or stage
            state.update(stage_condition_states(stage_plan, stage_run))
            metadata = retry_metadata(stage_run)
            if metadata:
                state["retryStageMetadata"] = metadata
        states.append(state)
    return states


def _stage_execution(execution: Execution, status: str) -> dict:
    return {"pipelineExecutionId": execution.execution_id, "status": status}


def artifact_revisions(execution: Execution, plan: PipelinePlan) -> list[dict]:
    revisions = []
    for action in plan.stages[0].actions:
        output = execution.source_outputs.get(action.name)
        if output is None:
            continue
        for name in action.output_artifacts:
            revisions.append(
                _clean(
                    {
                        "name": name,
                        "revisionId": output.revision_id,
                        "revisionChangeIdentifier": output.revision_id,
                        "revisionSummary": output.revision_summary,
                        "created": output.revision_created,
                    }
                )
            )
    return revisions


def pipeline_execution(pipeline: Pipeline, execution: Execution) -> dict:
    plan = pipeline.plans[execution.pipeline_version]
    return _clean(
        {
            "pipelineName": pipeline.name,
            "pipelineVersion": execution.pipeline_version,
            "pipelineExecutionId": execution.execution_id,
            "status": execution.status,
            "statusSummary": execution.status_summary,
            "artifactRevisions": artifact_revisions(execution, plan),
            "variables": [{"name": k, "resolvedValue": v} for k, v in execution.variables.items()],
            "trigger": _trigger(execution),
            "executionMode": plan.execution_mode,
            "executionType": execution.execution_type,
            "rollbackMetadata": rollback_metadata(execution),
        }
    )


def execution_summary(pipeline: Pipeline, execution: Execution) -> dict:
    plan = pipeline.plans[execution.pipeline_version]
    sources = []
    for action in plan.stages[0].actions:
        output = execution.source_outputs.get(action.name)
        if output is not None:
            sources.append(
                _clean(
                    {
                        "actionName": action.name,
                        "revisionId": output.revision_id,
                        "revisionSummary": output.revision_summary,
                    }
                )
            )
    return _clean(
        {
            "pipelineExecutionId": execution.execution_id,
            "status": execution.status,
            "statusSummary": execution.status_summary,
            "startTime": execution.start_time,
            "lastUpdateTime": execution.last_update_time,
            "sourceRevisions": sources,
            "trigger": _trigger(execution),
            "stopTrigger": {"reason": execution.stop_reason or ""} if execution.status in ("Stopping", "Stopped") else None,
            "executionMode": plan.execution_mode,
            "executionType": execution.execution_type,
            "rollbackMetadata": rollback_metadata(execution),
        }
    )


def _trigger(execution: Execution) -> dict:
    return _clean({"triggerType": execution.trigger_type, "triggerDetail": execution.trigger_detail or None})


def action_execution_details(pipeline: Pipeline, execution: Execution) -> list[dict]:
    """ListActionExecutions' entries of one execution, newest first (retried runs included)."""
    plan = pipeline.plans[execution.pipeline_version]
    runs = [r for stage_run in execution.stage_runs.values() for r in (*stage_run.earlier, *stage_run.actions.values())]
    runs.sort(key=lambda r: r.start_time, reverse=True)
    details = []
    for run in runs:
        action = plan.stage(run.stage).action(run.name)
        output = run.output
        error = {"code": run.error_code or "JobFailed", "message": run.error_message[:5000]} if run.error_message else None
        details.append(
            _clean(
                {
                    "pipelineExecutionId": execution.execution_id,
                    "actionExecutionId": run.action_execution_id,
                    "pipelineVersion": execution.pipeline_version,
                    "stageName": run.stage,
                    "actionName": run.name,
                    "startTime": run.start_time,
                    "lastUpdateTime": run.last_update_time,
                    "updatedBy": run.approved_by or None,
                    "status": run.status,
                    "input": _clean(
                        {
                            "actionTypeId": {
                                "category": action.category, "owner": action.owner,
                                "provider": action.provider, "version": action.version,
                            },
                            "configuration": action.config,
                            "resolvedConfiguration": dict(run.configuration),
                            "region": None,
                            "inputArtifacts": [{"name": a.name} for a in run.input_artifacts],
                            "namespace": action.namespace,
                        }
                    ),
                    "output": _clean(
                        {
                            "outputArtifacts": [{"name": a.name} for a in (output.artifacts if output else ())],
                            "executionResult": _clean(
                                {
                                    "externalExecutionId": output.external_execution_id if output else None,
                                    "externalExecutionSummary": (run.approval_summary or None) if run.token else (output.summary if output else None),
                                    "externalExecutionUrl": output.external_execution_url if output else None,
                                    "errorDetails": error,
                                }
                            ),
                            "outputVariables": dict(output.output_variables) if output else None,
                        }
                    ),
                }
            )
        )
    return details
