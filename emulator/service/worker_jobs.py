"""Jobs that wait for a job worker: custom actions (PollForJobs, AcknowledgeJob) and partners'
third-party actions (PollForThirdPartyJobs, AcknowledgeThirdPartyJob, GetThirdPartyJobDetails,
PutThirdPartyJobSuccessResult, PutThirdPartyJobFailureResult).

No container runs such an action. The engine opens a job for it (RunAction with a job id, as a
Lambda invoke's) and the service keeps it here as `Queued`; a poll hands it out once
(`Dispatched`, with a nonce), AcknowledgeJob with that nonce makes it `InProgress`, and the
worker ends it with PutJobSuccessResult (a continuationToken re-queues the action as a new job,
as AWS does) or PutJobFailureResult. The action times out after 24 hours (AWS's quota for custom
actions) unless its `timeoutInMinutes` says otherwise; stopping or abandoning the execution drops
the job. The engine is the truth of whether a job is still open; the worker's hold on it
(status, nonce, a third-party job's client token) is kept in the state folder, so a restart
neither hands a dispatched job out twice nor forgets an acknowledgement.

A third-party job's clientToken: on AWS it is the partner's secret of the clientId/clientToken
pair registered with the action. Nothing is registered here, so the first clientToken a worker
presents for a job (AcknowledgeThirdPartyJob or GetThirdPartyJobDetails) binds the job, and a
different one later is InvalidClientTokenException.
"""

from __future__ import annotations

import logging
import uuid

from emulator.engine import RunAction
from emulator.engine.events import ActionOutput, ArtifactOutput
from emulator.runner.job_data import ACCOUNT_ID

from .errors import ServiceError, validation

log = logging.getLogger(__name__)


class WorkerJobOperations:
    # -- the service side: jobs in and out ------------------------------------------------------

    def queue_worker_job(self, command: RunAction) -> None:
        """Carry out a worker job's RunAction: the job waits to be polled (or, after a restart,
        keeps the hold a worker had on it)."""
        if self.action_type_records.job(command.job_id) is None:
            self.action_type_records.set_job(command.job_id, "Queued", None)
        action = command.action
        poll = "PollForThirdPartyJobs" if action.owner == "ThirdParty" else "PollForJobs"
        self._job_log(command.action_execution_id,
                      f"[pipemu] job {command.job_id} waits for a job worker: {poll} with actionTypeId "
                      f"{action.category}/{action.owner}/{action.provider}/{action.version}")

    def cancel_worker_job(self, action_execution_id: str) -> None:
        """A stopped or abandoned action's job is no worker's any more (a poll no longer sees it:
        the engine no longer runs it); its hold goes."""
        with self.lock:
            for job_id, where in list(self.engine.jobs.items()):
                run = self._job_run(where)
                if run is not None and run.action_execution_id == action_execution_id:
                    self.action_type_records.forget_job(job_id)

    def _job_log(self, action_execution_id: str, line: str) -> None:
        try:
            self.store.append_log(action_execution_id, line, self.now())
        except Exception as error:  # the log is for people: a refused line never stops the job
            log.warning("log of %s lost a line: %s", action_execution_id, error)

    # -- reading the engine -----------------------------------------------------------------------

    def _job_run(self, where):
        pipeline = self.engine.pipelines.get(where[0])
        execution = pipeline.executions.get(where[1]) if pipeline else None
        stage_run = execution.stage_runs.get(where[2]) if execution else None
        return stage_run.actions.get(where[3]) if stage_run else None

    def _open_job(self, job_id: str):
        """(pipeline, execution, run, action plan) of a job that is still open, else None."""
        where = self.engine.jobs.get(job_id)
        if where is None:
            return None
        run = self._job_run(where)
        if run is None or run.job_id != job_id or run.status != "InProgress":
            return None
        pipeline = self.engine.pipelines[where[0]]
        execution = pipeline.executions[where[1]]
        action = pipeline.plans[execution.pipeline_version].stage(run.stage).action(run.name)
        return pipeline, execution, run, action

    def _ended_status(self, job_id: str) -> str:
        """The JobStatus of a job that is no longer open."""
        where = self.engine.jobs.get(job_id)
        run = self._job_run(where) if where else None
        if run is None or run.job_id != job_id:
            return "Succeeded"  # it went on as a newer job (a continuation)
        if run.error_code == "TimedOut":
            return "TimedOut"
        return "Succeeded" if run.status == "Succeeded" else "Failed"

    def _worker_job(self, job_id: str, third_party: bool):
        """The open job a worker names, or AWS's error for it."""
        found = self._open_job(job_id)
        if found is None or not found[3].is_worker_job:
            if found is None and self._is_worker_job(job_id):
                raise ServiceError("InvalidJobStateException", f"Job '{job_id}' is {self._ended_status(job_id)}")
            raise ServiceError("JobNotFoundException", f"Job '{job_id}' not found")
        if (found[3].owner == "ThirdParty") != third_party:
            kind = "a third-party job" if found[3].owner == "ThirdParty" else "a custom action's job"
            raise ServiceError("InvalidJobException" if third_party else "JobNotFoundException",
                               f"Job '{job_id}' is {kind}")
        return found

    def _waiting(self, type_id: dict, query: dict[str, str]) -> list[str]:
        """Open, never-dispatched jobs of an action type (oldest first) whose configuration
        matches `query`."""
        wanted = (type_id["category"], type_id["owner"], type_id["provider"], type_id["version"])
        found = []
        for job_id in list(self.engine.jobs):
            opened = self._open_job(job_id)
            if opened is None:
                continue
            _, _, run, action = opened
            if (action.category, action.owner, action.provider, action.version) != wanted:
                continue
            hold = self.action_type_records.job(job_id)
            if hold is not None and hold[0] != "Queued":
                continue
            configuration = dict(run.configuration)
            if all(configuration.get(k) == v for k, v in query.items()):
                found.append(job_id)
        return found

    def _check_type_exists(self, type_id: dict) -> None:
        if type_id["owner"] == "Custom":
            if self.custom_action_type(type_id["category"], type_id["provider"], type_id["version"]) is None:
                raise ServiceError("ActionTypeNotFoundException",
                                   f"Action type {type_id['category']}/Custom/{type_id['provider']}/"
                                   f"{type_id['version']} not found")
        else:
            self._declaration(type_id)

    # -- custom actions -------------------------------------------------------------------------

    def poll_for_jobs(self, params: dict) -> dict:
        type_id = params["actionTypeId"]
        query = dict(params.get("queryParam") or {})
        with self.lock:
            if type_id["owner"] != "Custom":
                raise validation("PollForJobs is for custom actions (owner Custom); partners' actions use "
                                 "PollForThirdPartyJobs")
            self._check_type_exists(type_id)
            custom = self.custom_action_type(type_id["category"], type_id["provider"], type_id["version"])
            queryable = {p["name"] for p in custom["actionConfigurationProperties"] if p.get("queryable")}
            unknown = sorted(set(query) - queryable)
            if unknown:
                raise validation(f"queryParam key {unknown[0]} is not a queryable configuration property "
                                 "of the action type")
            jobs = []
            for job_id in self._waiting(type_id, query)[: params.get("maxBatchSize") or 1]:
                nonce = uuid.uuid4().hex[:32]
                self.action_type_records.set_job(job_id, "Dispatched", nonce)
                data = self.get_job_details({"jobId": job_id})["jobDetails"]["data"]
                jobs.append({"id": job_id, "data": data, "nonce": nonce, "accountId": ACCOUNT_ID})
                self._dispatched(job_id, "PollForJobs")
        return {"jobs": jobs}

    def acknowledge_job(self, params: dict) -> dict:
        job_id = params["jobId"]
        with self.lock:
            if self._is_worker_job(job_id) and self._open_job(job_id) is None:
                return {"status": self._ended_status(job_id)}
            _, _, run, _ = self._worker_job(job_id, third_party=False)
            return {"status": self._acknowledge(job_id, params["nonce"], run, None)}

    def _acknowledge(self, job_id: str, nonce: str, run, client_token: str | None) -> str:
        hold = self.action_type_records.job(job_id)
        if hold is None or hold[0] == "Queued" or hold[1] != nonce:
            raise ServiceError("InvalidNonceException", f"The nonce is not the one job '{job_id}' was handed out with")
        if hold[0] == "Dispatched":
            self.action_type_records.set_job(job_id, "InProgress", nonce, client_token or hold[2])
            self._job_log(run.action_execution_id, f"[pipemu] job {job_id} acknowledged: InProgress")
        return "InProgress"

    def _dispatched(self, job_id: str, how: str) -> None:
        found = self._open_job(job_id)
        if found is not None:
            self._job_log(found[2].action_execution_id, f"[pipemu] job {job_id} handed to a job worker ({how})")

    def worker_result_output(self, job_id: str, output: ActionOutput, ends: bool) -> ActionOutput:
        """Before a worker's PutJob*Result is applied: the job must be acknowledged (InProgress),
        and a success that ends the action carries its output artifacts on (empty folders: the
        worker's S3 uploads have nowhere to go here). Jobs that are not workers' pass unchanged."""
        found = self._open_job(job_id)
        if found is None or not found[3].is_worker_job:
            return output
        pipeline, execution, run, action = found
        hold = self.action_type_records.job(job_id)
        if hold is None or hold[0] != "InProgress":
            raise ServiceError("InvalidJobStateException",
                               f"Job '{job_id}' is {hold[0] if hold else 'Queued'}: acknowledge it first")
        template = ((self.custom_action_type(action.category, action.provider, action.version) or {}).get("settings")
                    or {}).get("executionUrlTemplate") if action.owner == "Custom" else None
        if template and output.external_execution_id:  # the type's link to the run, as AWS fills it in
            url = template.replace("{ExternalExecutionId}", output.external_execution_id)
            for key, value in run.configuration:
                url = url.replace("{Config:" + key + "}", value)
            output = ActionOutput(**{**output.__dict__, "external_execution_url": url})
        if not ends:
            return output
        artifacts = []
        for name in action.output_artifacts:
            if self.runner is not None and hasattr(self.runner, "fresh_artifact_dir"):
                self.runner.fresh_artifact_dir(execution.execution_id, name).mkdir(parents=True)
                location = self.runner.artifact_location(execution.execution_id, name)
            else:
                location = f"artifacts/{execution.execution_id}/{name}"
            artifacts.append(ArtifactOutput(name, location, output.revision_id))
        return ActionOutput(**{**output.__dict__, "artifacts": tuple(artifacts)})

    def worker_job_ended(self, job_id: str) -> None:
        """After a worker's result was applied: its hold on the job goes (a continuation's new job
        has a hold of its own)."""
        if self.action_type_records.job(job_id) is not None:
            self.action_type_records.forget_job(job_id)

    def _is_worker_job(self, job_id: str) -> bool:
        where = self.engine.jobs.get(job_id)
        pipeline = self.engine.pipelines.get(where[0]) if where else None
        execution = pipeline.executions.get(where[1]) if pipeline else None
        if execution is None:
            return False
        action = pipeline.plans[execution.pipeline_version].stage(where[2]).action(where[3])
        return action is not None and action.is_worker_job

    # -- third-party jobs -------------------------------------------------------------------------

    def poll_for_third_party_jobs(self, params: dict) -> dict:
        type_id = params["actionTypeId"]
        with self.lock:
            if type_id["owner"] != "ThirdParty":
                raise validation("PollForThirdPartyJobs is for partners' actions (owner ThirdParty)")
            self._check_type_exists(type_id)
            jobs = []
            for job_id in self._waiting(type_id, {})[: params.get("maxBatchSize") or 1]:
                self.action_type_records.set_job(job_id, "Dispatched", uuid.uuid4().hex[:32])
                jobs.append({"clientId": str(uuid.uuid4()), "jobId": job_id})
                self._dispatched(job_id, "PollForThirdPartyJobs")
        return {"jobs": jobs}

    def _bind_client_token(self, job_id: str, client_token: str) -> tuple[str, str | None, str | None]:
        hold = self.action_type_records.job(job_id) or ("Queued", None, None)
        if hold[2] is None:
            self.action_type_records.set_job(job_id, hold[0], hold[1], client_token)
            return hold[0], hold[1], client_token
        if hold[2] != client_token:
            raise ServiceError("InvalidClientTokenException", f"The client token is not the one of job '{job_id}'")
        return hold

    def get_third_party_job_details(self, params: dict) -> dict:
        job_id = params["jobId"]
        with self.lock:
            self._worker_job(job_id, third_party=True)
            _, nonce, _ = self._bind_client_token(job_id, params["clientToken"])
            data = self.get_job_details({"jobId": job_id})["jobDetails"]["data"]
        details = {"id": job_id, "data": data}
        if nonce:
            details["nonce"] = nonce
        return {"jobDetails": details}

    def acknowledge_third_party_job(self, params: dict) -> dict:
        job_id = params["jobId"]
        with self.lock:
            _, _, run, _ = self._worker_job(job_id, third_party=True)
            self._bind_client_token(job_id, params["clientToken"])
            return {"status": self._acknowledge(job_id, params["nonce"], run, params["clientToken"])}

    def put_third_party_job_success_result(self, params: dict) -> dict:
        with self.lock:
            self._worker_job(params["jobId"], third_party=True)
            self._bind_client_token(params["jobId"], params["clientToken"])
            return self.put_job_success_result({k: v for k, v in params.items() if k != "clientToken"})

    def put_third_party_job_failure_result(self, params: dict) -> dict:
        with self.lock:
            self._worker_job(params["jobId"], third_party=True)
            self._bind_client_token(params["jobId"], params["clientToken"])
            return self.put_job_failure_result({k: v for k, v in params.items() if k != "clientToken"})
