"""The API operations of V2 release safety: RollbackStage, OverrideStageCondition,
ListRuleExecutions and ListRuleTypes."""

from __future__ import annotations

from emulator.engine import ConditionOverridden, RollbackRequested
from emulator.rules.types import rule_types

from . import condition_views
from .errors import ServiceError
from .paging import execution_filter, latest_runs, page


class ConditionOperations:
    def rollback_stage(self, params: dict) -> dict:
        with self.lock:
            pipeline = self._pipeline(params["pipelineName"])
            target = params["targetPipelineExecutionId"]
            if target in pipeline.executions and not self.artifacts_kept(pipeline.name, target):
                raise ServiceError("UnableToRollbackStageException",
                                   f"The artifacts of execution '{target}' are no longer kept (only the newest "
                                   "PIPEMU_ARTIFACT_RETENTION executions' are, and each stage's last good one): "
                                   "it cannot be rolled back to")
            execution_id = self._new_id()
            self.apply(RollbackRequested(params["pipelineName"], params["stageName"],
                                         params["targetPipelineExecutionId"], execution_id, "ManualRollback",
                                         params.get("_caller", "")))
        return {"pipelineExecutionId": execution_id}

    def override_stage_condition(self, params: dict) -> dict:
        with self.lock:
            self._pipeline(params["pipelineName"])
            self.apply(ConditionOverridden(params["pipelineName"], params["pipelineExecutionId"], params["stageName"],
                                           params["conditionType"], params.get("_caller", "")))
        return {}

    def list_rule_executions(self, params: dict) -> dict:
        wanted, only_latest = execution_filter(params)
        with self.lock:
            pipeline = self._pipeline(params["pipelineName"])
            if wanted is not None and wanted not in pipeline.executions:
                raise ServiceError("PipelineExecutionNotFoundException",
                                   f"Execution '{wanted}' of pipeline '{pipeline.name}' not found")
            executions = [pipeline.executions[wanted]] if wanted else list(reversed(pipeline.executions.values()))
            details = [d for e in executions for d in condition_views.rule_execution_details(pipeline, e)]
            if only_latest:
                details = latest_runs(details, "ruleName")
        items, token = page(details, params)
        return {"ruleExecutionDetails": items, **({"nextToken": token} if token else {})}

    def list_rule_types(self, params: dict) -> dict:
        owner = params.get("ruleOwnerFilter")
        return {"ruleTypes": [t for t in rule_types() if owner in (None, t["id"]["owner"])]}
