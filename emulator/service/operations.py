"""The CodePipeline API, one method per operation, in botocore's names and shapes.

Requests arrive already checked against the service model's shapes (api/), so a method only
checks what the model cannot express (does the pipeline exist, is the token right) and answers
with AWS's exceptions.
"""

from __future__ import annotations

import copy

from emulator.engine import ApprovalResultSubmitted, ExecutionStarted

from . import views
from .core import ServiceCore
from .conditions import ConditionOperations
from .control import ControlOperations
from .deploy_targets import DeployTargetOperations
from .errors import ServiceError, pipeline_not_found, validation
from .paging import page, page_of
from .jobs import JobOperations
from .action_types import ActionTypeOperations
from .worker_jobs import WorkerJobOperations
from .revisions import RevisionOperations
from .pipelines import PipelineOperations
from .webhooks import WebhookOperations


class CodePipeline(WebhookOperations, DeployTargetOperations, ControlOperations, ConditionOperations, PipelineOperations, JobOperations,
                   WorkerJobOperations, ActionTypeOperations, RevisionOperations, ServiceCore):
    def _pipeline(self, name: str):
        pipeline = self.engine.pipelines.get(name)
        if pipeline is None:
            raise pipeline_not_found(name)
        return pipeline

    def list_pipelines(self, params: dict) -> dict:
        with self.lock:
            summaries = [views.pipeline_summary(p) for _, p in sorted(self.engine.pipelines.items())]
        chunk, token = page(summaries, params, default_size=100)  # AWS pages by 100
        return {"pipelines": chunk, **({"nextToken": token} if token else {})}

    def get_pipeline(self, params: dict) -> dict:
        with self.lock:
            pipeline = self._pipeline(params["name"])
            version = params.get("version", pipeline.version)
            plan = pipeline.plans.get(version)
            if plan is None:
                raise ServiceError(
                    "PipelineVersionNotFoundException",
                    f"Version {version} of pipeline '{pipeline.name}' not found",
                )
            return {
                "pipeline": self.mask_custom_secrets(copy.deepcopy(views.declaration(plan))),
                "metadata": {
                    "pipelineArn": views.pipeline_arn(self.region, pipeline.name),
                    "created": pipeline.created,
                    "updated": pipeline.updated,
                },
            }

    def get_pipeline_state(self, params: dict) -> dict:
        with self.lock:
            pipeline = self._pipeline(params["name"])
            return {
                "pipelineName": pipeline.name,
                "pipelineVersion": pipeline.version,
                "stageStates": views.stage_states(pipeline),
                "created": pipeline.created,
                "updated": pipeline.updated,
            }

    def start_pipeline_execution(self, params: dict) -> dict:
        name = params["name"]
        revisions = []
        for override in params.get("sourceRevisions") or ():
            if override["revisionType"] != "COMMIT_ID":
                raise validation(
                    f"revisionType {override['revisionType']} is not supported here: only COMMIT_ID"
                )
            revisions.append((override["actionName"], override["revisionValue"]))
        variables = tuple((v["name"], v["value"]) for v in params.get("variables") or ())
        request_token = params.get("clientRequestToken")
        with self.lock:
            pipeline = self._pipeline(name)
            if request_token in pipeline.request_tokens:  # a retried request: the same execution
                return {"pipelineExecutionId": pipeline.request_tokens[request_token]}
            execution_id = self._new_id()
            self.apply(
                ExecutionStarted(
                    name,
                    execution_id,
                    trigger_type="StartPipelineExecution",
                    trigger_detail=params.get("_caller", "pipemu"),
                    source_revisions=self.pinned_sources(name, tuple(revisions)),
                    variables=variables,
                    client_request_token=request_token,
                )
            )
        return {"pipelineExecutionId": execution_id}

    def get_pipeline_execution(self, params: dict) -> dict:
        with self.lock:
            pipeline = self._pipeline(params["pipelineName"])
            execution = pipeline.executions.get(params["pipelineExecutionId"])
            if execution is None:
                raise ServiceError(
                    "PipelineExecutionNotFoundException",
                    f"Execution '{params['pipelineExecutionId']}' of pipeline '{pipeline.name}' not found",
                )
            return {"pipelineExecution": views.pipeline_execution(pipeline, execution)}

    def list_pipeline_executions(self, params: dict) -> dict:
        with self.lock:
            pipeline = self._pipeline(params["pipelineName"])
            # Lazily, newest first: a page reads only its own executions, however long the history.
            newest_first = reversed(pipeline.executions.values())
            total = len(pipeline.executions)
            stage = ((params.get("filter") or {}).get("succeededInStage") or {}).get("stageName")
            if stage is not None:
                newest_first = (
                    e for e in newest_first
                    if e.stage_runs.get(stage) is not None and e.stage_runs[stage].status == "Succeeded"
                )
                total = None
            chunk, token = page_of(newest_first, params, total=total)
            summaries = [views.execution_summary(pipeline, e) for e in chunk]
        return {"pipelineExecutionSummaries": summaries, **({"nextToken": token} if token else {})}

    def put_approval_result(self, params: dict) -> dict:
        result = params["result"]
        with self.lock:
            pipeline = self._pipeline(params["pipelineName"])
            where = pipeline.tokens.get(params["token"])
            self.apply(
                ApprovalResultSubmitted(
                    pipeline=params["pipelineName"],
                    stage=params["stageName"],
                    action=params["actionName"],
                    token=params["token"],
                    status=result["status"],
                    summary=result["summary"],
                    by=params.get("_caller", "anonymous"),
                )
            )
            # Accepted, so the token was known: its run holds the time (even if the pipeline
            # went meanwhile, its file removed and its last execution now ended).
            run = pipeline.executions[where[0]].stage_runs[where[1]].actions[where[2]]
            return {"approvedAt": run.approved_at}
