"""The CodePipeline API, one method per operation, in botocore's names and shapes.

Requests arrive already checked against the service model's shapes (api/), so a method only
checks what the model cannot express (does the pipeline exist, is the token right) and answers
with AWS's exceptions.
"""

from __future__ import annotations

import base64

from emulator.engine import ApprovalResultSubmitted, ExecutionStarted

from . import views
from .core import ServiceCore
from .errors import ServiceError, pipeline_not_found, validation


def _page(items: list, params: dict, default_size: int = 100) -> tuple[list, str | None]:
    """AWS-style pagination with an opaque nextToken (here: the offset, base64-encoded)."""
    start = 0
    token = params.get("nextToken")
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise ServiceError("InvalidNextTokenException", "The next token is not valid") from None
    size = params.get("maxResults") or default_size
    page = items[start : start + size]
    more = start + size < len(items)
    return page, base64.urlsafe_b64encode(str(start + size).encode()).decode() if more else None


class CodePipeline(ServiceCore):
    def _pipeline(self, name: str):
        pipeline = self.engine.pipelines.get(name)
        if pipeline is None:
            raise pipeline_not_found(name)
        return pipeline

    def list_pipelines(self, params: dict) -> dict:
        with self.lock:
            summaries = [views.pipeline_summary(p) for _, p in sorted(self.engine.pipelines.items())]
        page, token = _page(summaries, params, default_size=1000)
        return {"pipelines": page, **({"nextToken": token} if token else {})}

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
                "pipeline": views.declaration(plan),
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
        with self.lock:
            self._pipeline(name)
            execution_id = self._new_id()
            self.apply(
                ExecutionStarted(
                    name,
                    execution_id,
                    trigger_type="StartPipelineExecution",
                    trigger_detail="pipemu",
                    source_revisions=tuple(revisions),
                    variables=variables,
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
            newest_first = list(reversed(pipeline.executions.values()))
            page, token = _page(newest_first, params)
            summaries = [views.execution_summary(pipeline, e) for e in page]
        return {"pipelineExecutionSummaries": summaries, **({"nextToken": token} if token else {})}

    def put_approval_result(self, params: dict) -> dict:
        result = params["result"]
        with self.lock:
            self._pipeline(params["pipelineName"])
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
            execution_id, stage, action = self.engine.pipelines[params["pipelineName"]].tokens[params["token"]]
            run = self.engine.execution(params["pipelineName"], execution_id).stage_runs[stage].actions[action]
            return {"approvedAt": run.approved_at}
