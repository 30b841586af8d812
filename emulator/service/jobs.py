"""The job API of Lambda invoke actions and LambdaInvoke rules: GetJobDetails, PutJobSuccessResult,
PutJobFailureResult (a rule's job id is its rule execution's id)."""

from __future__ import annotations

from emulator.engine import JobFailed, JobSucceeded, RuleFailed, RuleSucceeded
from emulator.engine.events import ActionOutput
from emulator.runner.job_data import ACCOUNT_ID, job_data

from .errors import ServiceError


class JobOperations:
    def _rule_job(self, job_id: str, running: bool = True):
        """The running LambdaInvoke rule whose job this is, as its RunRule command; None when the
        id is no rule's. A rule's job that already ended is InvalidJobStateException, as an
        action's (with `running` False, its command is answered anyway: GetJobDetails)."""
        found = self.engine.running_rule(job_id, running_only=False)
        if found is None:
            return None
        pipeline, execution, run = found
        if running and run.status != "InProgress":
            raise ServiceError("InvalidJobStateException", f"Job '{job_id}' is not in progress (it is {run.status})")
        command = self.engine.rule_command(pipeline, execution, run)
        return command if command.rule.provider == "LambdaInvoke" else None

    def get_job_details(self, params: dict) -> dict:
        with self.lock:
            where = self.engine.jobs.get(params["jobId"])
            rule = self._rule_job(params["jobId"], running=False) if where is None else None
            if rule is not None:
                from emulator.rules.lambda_invoke import job

                return {"jobDetails": {"id": params["jobId"], "data": job(self.region, rule), "accountId": ACCOUNT_ID}}
            if where is None:
                raise ServiceError("JobNotFoundException", f"Job '{params['jobId']}' not found")
            pipeline = self.engine.pipelines[where[0]]
            execution = pipeline.executions[where[1]]
            run = execution.stage_runs[where[2]].actions[where[3]]
            action = pipeline.plans[execution.pipeline_version].stage(run.stage).action(run.name)
            data = job_data(
                region=self.region, pipeline=pipeline.name, execution_id=execution.execution_id,
                stage=run.stage, action=run.name, action_execution_id=run.action_execution_id,
                action_type={"category": action.category, "owner": action.owner,
                             "provider": action.provider, "version": action.version},
                configuration=dict(run.configuration),
                inputs=[(a.name, a.location) for a in run.input_artifacts],
                outputs=list(action.output_artifacts),
                execution_outputs_prefix=f"artifacts/{execution.execution_id}",
                continuation_token=run.continuation_token,
            )
            return {"jobDetails": {"id": params["jobId"], "data": data, "accountId": ACCOUNT_ID}}

    def put_job_success_result(self, params: dict) -> dict:
        details = params.get("executionDetails") or {}
        with self.lock:
            rule = self._rule_job(params["jobId"]) if params["jobId"] not in self.engine.jobs else None
            if rule is not None:
                if params.get("continuationToken"):
                    raise ServiceError("ValidationException", "A LambdaInvoke rule's job does not continue: "
                                                              "report its success without continuationToken")
                self.apply(RuleSucceeded(rule.pipeline, rule.execution_id, rule.stage, rule.kind, rule.rule.name,
                                         rule.rule_execution_id, details.get("summary"),
                                         details.get("externalExecutionId")))
                return {}
        revision = params.get("currentRevision") or {}
        output = ActionOutput(
            summary=details.get("summary"),
            external_execution_id=details.get("externalExecutionId"),
            revision_id=revision.get("revision"),
            revision_summary=revision.get("revisionSummary"),
            output_variables=tuple(sorted((params.get("outputVariables") or {}).items())),
        )
        with self.lock:
            # A worker's job must be acknowledged; its success carries its output artifacts on.
            output = self.worker_result_output(params["jobId"], output, ends=not params.get("continuationToken"))
            self.apply(JobSucceeded(params["jobId"], output, params.get("continuationToken")))
            self.worker_job_ended(params["jobId"])
        return {}

    def put_job_failure_result(self, params: dict) -> dict:
        failure = params["failureDetails"]
        with self.lock:
            rule = self._rule_job(params["jobId"]) if params["jobId"] not in self.engine.jobs else None
            if rule is not None:
                self.apply(RuleFailed(rule.pipeline, rule.execution_id, rule.stage, rule.kind, rule.rule.name,
                                      rule.rule_execution_id, failure["type"], failure["message"],
                                      failure.get("externalExecutionId")))
                return {}
        with self.lock:
            self.worker_result_output(params["jobId"], ActionOutput(), ends=False)
            self.apply(JobFailed(params["jobId"], failure["message"], failure["type"],
                                 failure.get("externalExecutionId")))
            self.worker_job_ended(params["jobId"])
        return {}
