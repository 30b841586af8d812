"""PutActionRevision: a source's new revision, told by whoever watches the source.

As the reference says, `newRevision` is whether the revision was not used before by an execution
of the pipeline: a revision already used starts nothing (its latest execution is answered); a new
one starts an execution (trigger `PutActionRevision`) with that action pinned to the revision, as
a StartPipelineExecution with a sourceRevisions override would.
"""

from __future__ import annotations

from emulator.engine import ExecutionStarted

from .errors import ServiceError, pipeline_not_found, validation


class RevisionOperations:
    def put_action_revision(self, params: dict) -> dict:
        revision = params["actionRevision"]
        with self.lock:
            pipeline = self.engine.pipelines.get(params["pipelineName"])
            if pipeline is None:
                raise pipeline_not_found(params["pipelineName"])
            stage = pipeline.plan.stage(params["stageName"])
            if stage is None:
                raise ServiceError("StageNotFoundException",
                                   f"Stage '{params['stageName']}' not found in pipeline '{pipeline.name}'")
            action = stage.action(params["actionName"])
            if action is None:
                raise ServiceError("ActionNotFoundException",
                                   f"Action '{params['actionName']}' not found in stage '{stage.name}' "
                                   f"of pipeline '{pipeline.name}'")
            if action.category != "Source":
                raise validation(f"Action '{action.name}' is not a source action: only a source takes revisions")
            for execution in reversed(pipeline.executions.values()):
                used = execution.source_revisions.get(action.name)
                output = execution.source_outputs.get(action.name)
                if revision["revisionId"] in (used, output.revision_id if output else None):
                    return {"newRevision": False, "pipelineExecutionId": execution.execution_id}
            execution_id = self._new_id()
            self.apply(ExecutionStarted(
                pipeline.name, execution_id, "PutActionRevision",
                f"{action.name}: {revision['revisionChangeId']}"[:1024],
                source_revisions=self.pinned_sources(pipeline.name, ((action.name, revision["revisionId"]),)),
            ))
        return {"newRevision": True, "pipelineExecutionId": execution_id}
