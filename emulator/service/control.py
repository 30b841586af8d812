"""The API operations that steer executions: stop, retry, stage transitions, action history."""

from __future__ import annotations

from emulator.engine import ExecutionStopRequested, StageRetryRequested, StageTransitionChanged

from . import views
from .errors import ServiceError, validation
from .paging import execution_filter, latest_runs, page


class ControlOperations:
    def stop_pipeline_execution(self, params: dict) -> dict:
        with self.lock:
            self._pipeline(params["pipelineName"])
            self.apply(
                ExecutionStopRequested(
                    params["pipelineName"], params["pipelineExecutionId"],
                    abandon=bool(params.get("abandon", False)), reason=params.get("reason"),
                )
            )
        return {"pipelineExecutionId": params["pipelineExecutionId"]}

    def retry_stage_execution(self, params: dict) -> dict:
        with self.lock:
            self._pipeline(params["pipelineName"])
            self.apply(
                StageRetryRequested(
                    params["pipelineName"], params["pipelineExecutionId"], params["stageName"], params["retryMode"]
                )
            )
        return {"pipelineExecutionId": params["pipelineExecutionId"]}

    def disable_stage_transition(self, params: dict) -> dict:
        return self._transition(params, enabled=False)

    def enable_stage_transition(self, params: dict) -> dict:
        return self._transition(params, enabled=True)

    def _transition(self, params: dict, enabled: bool) -> dict:
        if params["transitionType"] != "Inbound":
            # Only inbound transitions show in GetPipelineState; outbound ones we do not emulate.
            raise validation("transitionType Outbound is not supported by pipeline-emulator: use Inbound")
        with self.lock:
            self._pipeline(params["pipelineName"])
            self.apply(
                StageTransitionChanged(
                    params["pipelineName"], params["stageName"], enabled,
                    reason=params.get("reason"), by=params.get("_caller", ""),
                )
            )
        return {}

    def list_action_executions(self, params: dict) -> dict:
        wanted, only_latest = execution_filter(params)
        with self.lock:
            pipeline = self._pipeline(params["pipelineName"])
            if wanted is not None and wanted not in pipeline.executions:
                raise ServiceError(
                    "PipelineExecutionNotFoundException",
                    f"Execution '{wanted}' of pipeline '{pipeline.name}' not found",
                )
            executions = [pipeline.executions[wanted]] if wanted else list(reversed(pipeline.executions.values()))
            details = [d for e in executions for d in views.action_execution_details(pipeline, e)]
            for detail in details:  # a Custom action's secret values are only its job's
                for key in self.secret_keys(detail["input"]["actionTypeId"]):
                    for member in ("configuration", "resolvedConfiguration"):
                        if key in (detail["input"].get(member) or {}):
                            detail["input"][member] = {**detail["input"][member], key: "****"}
            if only_latest:
                details = latest_runs(details, "actionName")
        items, token = page(details, params)
        return {"actionExecutionDetails": items, **({"nextToken": token} if token else {})}
