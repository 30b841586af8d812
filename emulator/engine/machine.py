"""The state machine. Everything that changes the engine's state lives in this file.

`Engine.handle(event, now, new_id)` checks the event against the state first and raises an
`EngineError` (state unchanged) if it is illegal; only then does it apply it and return the
commands that follow. Stage occupancy is decided by the pipeline's gate policy (gates.py), what
a stage condition's outcome does by conditions.py; status changes go through the transition
tables (statuses.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from . import conditions as C
from . import errors
from . import statuses as S
from .commands import AwaitApproval, CancelAction, Command, ExecutionEnded, RunAction, RunRule
from .events import (
    ActionFailed,
    ActionSucceeded,
    ApprovalResultSubmitted,
    ActionTimedOut,
    ConditionOverridden,
    Event,
    ExecutionStarted,
    ExecutionStopRequested,
    JobFailed,
    JobSucceeded,
    PipelineDeclared,
    PipelineDeleted,
    RollbackRequested,
    RuleFailed,
    RuleSucceeded,
    StageRetryRequested,
    StageTransitionChanged,
)
from .gates import GATES
from .plan import DEFAULT_APPROVAL_TIMEOUT_MINUTES, ConditionPlan, PipelinePlan
from .state import ActionRun, ConditionRun, Execution, Pipeline, RuleRun, StageRun
from .variables import UnresolvedVariable, resolve_commands, resolve_configuration


@dataclass
class _Step:
    """What one event's handling needs and produces."""

    now: float
    new_id: Callable[[], str]
    commands: list[Command] = field(default_factory=list)


class Engine:
    def __init__(self) -> None:
        self.pipelines: dict[str, Pipeline] = {}
        self.jobs: dict[str, tuple[str, str, str, str]] = {}  # job id -> pipeline, execution, stage, action

    # -- entry point ------------------------------------------------------------------------

    def handle(self, event: Event, now: float, new_id: Callable[[], str]) -> list[Command]:
        handler = _HANDLERS.get(type(event))
        if handler is None:
            raise TypeError(f"not an engine event: {event!r}")
        step = _Step(now, new_id)
        handler(self, event, step)
        return step.commands

    # -- queries ----------------------------------------------------------------------------

    def pipeline(self, name: str) -> Pipeline:
        try:
            return self.pipelines[name]
        except KeyError:
            raise errors.PipelineNotFound(f"Pipeline '{name}' not found") from None

    def execution(self, pipeline: str, execution_id: str) -> Execution:
        found = self.pipeline(pipeline).executions.get(execution_id)
        if found is None:
            raise errors.PipelineExecutionNotFound(
                f"Execution '{execution_id}' of pipeline '{pipeline}' not found"
            )
        return found

    def running_rule(self, rule_execution_id: str, running_only: bool = True
                     ) -> tuple[Pipeline, Execution, RuleRun] | None:
        """A rule that runs now (or, `running_only` False, ran), by its execution id (a
        LambdaInvoke rule's job id is that id)."""
        for pipeline in self.pipelines.values():
            for execution in pipeline.executions.values():
                for stage_run in execution.stage_runs.values():
                    for condition in (*stage_run.conditions.values(), *stage_run.earlier_conditions):
                        for run in condition.rules.values():
                            if run.rule_execution_id == rule_execution_id:
                                found = run.status == S.IN_PROGRESS or not running_only
                                return (pipeline, execution, run) if found else None
        return None

    @staticmethod
    def rule_command(pipeline: Pipeline, execution: Execution, run: RuleRun) -> RunRule:
        """The RunRule command that started `run` (what a restart carries out again)."""
        plan = pipeline.plans[execution.pipeline_version].stage(run.stage).condition(run.kind)
        return _rule_command(pipeline, execution, plan, run)

    def pending_commands(self) -> list[Command]:
        """What is in progress, as the commands that started it: after a restart, the caller
        carries them out again (the runner re-attaches to containers that still run)."""
        pending: list[Command] = []
        for pipeline in self.pipelines.values():
            for execution in pipeline.executions.values():
                stage_run = execution.stage_runs.get(execution.current_stage or "")
                if execution.status not in (S.IN_PROGRESS, S.STOPPING) or stage_run is None:
                    continue
                plan = pipeline.plans[execution.pipeline_version].stage(stage_run.stage)
                for run in stage_run.actions.values():
                    if run.status == S.IN_PROGRESS:
                        pending.append(self._command_for(pipeline, execution, plan.action(run.name), run))
                for condition in stage_run.conditions.values():
                    for rule in condition.rules.values():
                        if rule.status == S.IN_PROGRESS:
                            pending.append(_rule_command(pipeline, execution, plan.condition(rule.kind), rule))
        return pending

    @staticmethod
    def _command_for(pipeline: Pipeline, execution: Execution, action, run: ActionRun) -> Command:
        if action.is_approval:
            return AwaitApproval(
                pipeline.name, execution.execution_id, run.stage, run.name,
                run.action_execution_id, run.token, run.expires_at, run.configuration,
            )
        return RunAction(
            pipeline=pipeline.name,
            execution_id=execution.execution_id,
            stage=run.stage,
            action=action,
            action_execution_id=run.action_execution_id,
            configuration=run.configuration,
            inputs=run.input_artifacts,
            commands=run.commands,
            environment_variables=run.environment_variables,
            source_revision=execution.source_revisions.get(action.name),
            source_branch=execution.source_branches.get(action.name),
            job_id=run.job_id,
            continuation_token=run.continuation_token,
            expires_at=run.expires_at,
        )

    # -- handlers: check everything first, then change state ----------------------------------

    def _declared(self, event: PipelineDeclared, step: _Step) -> None:
        existing = self.pipelines.get(event.pipeline)
        if existing is None:
            existing = Pipeline(event.pipeline, event.version, {}, step.now, step.now)
            self.pipelines[event.pipeline] = existing
        existing.plans[event.version] = event.plan
        existing.version = event.version
        existing.origin = event.origin
        existing.updated = step.now
        for stage in event.plan.stages:
            existing.slot(stage.name)
        # As AWS: executions of an older version end Cancelled; one inside a stage first lets
        # its running actions finish, one waiting at an entrance ends at once.
        for execution in list(existing.executions.values()):
            if execution.status not in (S.IN_PROGRESS, S.STOPPING) or execution.pipeline_version == event.version:
                continue
            if execution.current_stage is None:
                self._end(existing, execution, S.CANCELLED, "Cancelled: the pipeline was updated", step)
                continue
            execution.cancel_pending = True
            # An open approval is nobody's running work: it would hold the stage until answered
            # (up to 7 days) only to be cancelled, so it is abandoned now.
            stage_run = execution.stage_runs[execution.current_stage]
            for run in stage_run.actions.values():
                if run.token is not None and run.status == S.IN_PROGRESS:
                    run.error_message = "Abandoned: the pipeline was updated"
                    self._finish_action(run, S.ABANDONED, step)
            self._cancel_conditions(existing, execution, stage_run, "Abandoned: the pipeline was updated", step)
            self._progress(existing, execution, execution.current_stage, step)

    def _deleted(self, event: PipelineDeleted, step: _Step) -> None:
        """The pipeline and its history go; its running containers are stopped."""
        pipeline = self.pipeline(event.pipeline)
        for execution in pipeline.executions.values():
            stage_run = execution.stage_runs.get(execution.current_stage or "")
            for run in stage_run.actions.values() if stage_run else ():
                if run.status == S.IN_PROGRESS and run.token is None:
                    step.commands.append(CancelAction(pipeline.name, execution.execution_id, run.action_execution_id))
            for condition in stage_run.conditions.values() if stage_run else ():
                for rule in condition.rules.values():
                    if rule.status == S.IN_PROGRESS:
                        step.commands.append(CancelAction(pipeline.name, execution.execution_id, rule.rule_execution_id))
        del self.pipelines[event.pipeline]

    def _started(self, event: ExecutionStarted, step: _Step) -> None:
        pipeline = self.pipeline(event.pipeline)
        if event.execution_id in pipeline.executions:
            raise errors.EngineError(f"execution {event.execution_id} already exists")
        if event.client_request_token in pipeline.request_tokens:
            raise errors.EngineError(
                f"clientRequestToken {event.client_request_token!r} already started execution "
                f"{pipeline.request_tokens[event.client_request_token]}"
            )
        plan = pipeline.plan
        declared = dict(plan.variables)
        unknown = sorted(set(dict(event.variables)) - set(declared))
        if unknown:
            raise errors.EngineError(
                f"Variable(s) {', '.join(unknown)} not declared in pipeline '{pipeline.name}'"
            )
        sources = {a.name for a in plan.stages[0].actions}
        unknown = sorted(set(dict(event.source_revisions)) - sources)
        if unknown:
            raise errors.EngineError(
                f"Source action(s) {', '.join(unknown)} not found in pipeline '{pipeline.name}'"
            )
        execution = Execution(
            execution_id=event.execution_id,
            pipeline=pipeline.name,
            pipeline_version=pipeline.version,
            status=S.IN_PROGRESS,
            start_time=step.now,
            last_update_time=step.now,
            trigger_type=event.trigger_type,
            trigger_detail=event.trigger_detail,
            source_revisions=dict(event.source_revisions),
            source_branches=dict(event.source_branches),
            variables={**declared, **dict(event.variables)},
            client_request_token=event.client_request_token,
        )
        pipeline.executions[execution.execution_id] = execution
        if event.client_request_token:
            pipeline.request_tokens[event.client_request_token] = execution.execution_id
        self._arrive(pipeline, execution, plan.stages[0].name, step)

    def _action_result(self, event: ActionSucceeded | ActionFailed, step: _Step) -> None:
        pipeline = self.pipeline(event.pipeline)
        execution = self.execution(event.pipeline, event.execution_id)
        run = self._running_action(execution, event.stage, event.action, event.action_execution_id)
        if isinstance(event, ActionSucceeded):
            self._succeed(pipeline, execution, run, event.output, step)
        else:
            self._fail(pipeline, execution, run, event.error_code, event.message, event.external_execution_id, step)

    def _job_result(self, event: JobSucceeded | JobFailed, step: _Step) -> None:
        where = self.jobs.get(event.job_id)
        if where is None:
            raise errors.JobNotFound(f"Job '{event.job_id}' not found")
        pipeline = self.pipeline(where[0])
        execution = pipeline.executions[where[1]]
        run = execution.stage_runs[where[2]].actions.get(where[3])
        if run is None or run.job_id != event.job_id or run.status != S.IN_PROGRESS:
            raise errors.InvalidJobState(f"Job '{event.job_id}' is not in progress")
        if isinstance(event, JobFailed):
            self._fail(pipeline, execution, run, event.failure_type, event.message, event.external_execution_id, step)
        elif event.continuation_token is not None:
            # As AWS: the action goes on, and the function is invoked again with a new job.
            run.continuation_token = event.continuation_token
            run.output = event.output
            self._new_job(pipeline, execution, run, step)
        else:
            self._succeed(pipeline, execution, run, event.output, step)

    def _succeed(self, pipeline: Pipeline, execution: Execution, run: ActionRun, output, step: _Step) -> None:
        plan = pipeline.plans[execution.pipeline_version].stage(run.stage).action(run.name)
        run.output = output
        for artifact in output.artifacts:
            execution.artifacts[artifact.name] = artifact
        if plan.namespace:
            execution.namespaces[plan.namespace] = dict(output.output_variables)
        if plan.category == "Source":
            execution.source_outputs[plan.name] = output
        self._finish_action(run, S.SUCCEEDED, step)
        self._progress(pipeline, execution, run.stage, step)

    def _fail(self, pipeline: Pipeline, execution: Execution, run: ActionRun, code: str, message: str,
              external_id: str | None, step: _Step) -> None:
        run.error_code, run.error_message = code, message
        if external_id:
            run.output = _with_external_id(run.output, external_id)
        self._finish_action(run, S.FAILED, step)
        self._progress(pipeline, execution, run.stage, step)

    def _new_job(self, pipeline: Pipeline, execution: Execution, run: ActionRun, step: _Step) -> None:
        run.job_id = step.new_id()
        self.jobs[run.job_id] = (pipeline.name, execution.execution_id, run.stage, run.name)
        action = pipeline.plans[execution.pipeline_version].stage(run.stage).action(run.name)
        step.commands.append(self._command_for(pipeline, execution, action, run))

    def _approval(self, event: ApprovalResultSubmitted, step: _Step) -> None:
        pipeline = self.pipeline(event.pipeline)
        where = pipeline.tokens.get(event.token)
        # A token names its execution, whose own pipeline version says which actions exist.
        plan = pipeline.plans[pipeline.executions[where[0]].pipeline_version] if where else pipeline.plan
        stage = plan.stage(event.stage)
        if stage is None:
            raise errors.StageNotFound(
                f"Stage '{event.stage}' not found in pipeline '{event.pipeline}'"
            )
        action = stage.action(event.action)
        if action is None or not action.is_approval:
            raise errors.ActionNotFound(
                f"Approval action '{event.action}' not found in stage '{event.stage}' "
                f"of pipeline '{event.pipeline}'"
            )
        if where is None or where[1:] != (event.stage, event.action):
            raise errors.InvalidApprovalToken(
                f"Approval token '{event.token}' is not valid for action '{event.action}' "
                f"in stage '{event.stage}' of pipeline '{event.pipeline}'"
            )
        execution = pipeline.executions[where[0]]
        run = execution.stage_runs[event.stage].actions[event.action]
        if run.token != event.token or run.status != S.IN_PROGRESS:
            raise errors.ApprovalAlreadyCompleted(
                f"Approval for action '{event.action}' in stage '{event.stage}' of pipeline "
                f"'{event.pipeline}' was already completed"
            )
        run.approval_summary, run.approved_by, run.approved_at = event.summary, event.by, step.now
        if event.status == "Approved":
            self._finish_action(run, S.SUCCEEDED, step)
        else:
            run.error_code = "Rejected"
            run.error_message = f"Rejected: {event.summary}" if event.summary else "Rejected"
            self._finish_action(run, S.FAILED, step)
        self._progress(pipeline, execution, event.stage, step)

    def _action_timed_out(self, event: ActionTimedOut, step: _Step) -> None:
        execution = self.execution(event.pipeline, event.execution_id)
        stage_run = execution.stage_runs.get(event.stage)
        run = stage_run.actions.get(event.action) if stage_run else None
        if run is None or run.action_execution_id != event.action_execution_id:
            return  # a late timer for an approval that was retried: nothing to do
        if run.status != S.IN_PROGRESS:
            return  # answered before the timer fired
        message = "Approval timed out" if run.token else "Action timed out: the job reported no result in time"
        self._fail(self.pipeline(event.pipeline), execution, run, "TimedOut", message, None, step)

    def _transition(self, event: StageTransitionChanged, step: _Step) -> None:
        pipeline = self.pipeline(event.pipeline)
        if pipeline.plan.stage(event.stage) is None:
            raise errors.StageNotFound(f"Stage '{event.stage}' not found in pipeline '{event.pipeline}'")
        slot = pipeline.slot(event.stage)
        slot.transition_enabled = event.enabled
        slot.disabled_reason = None if event.enabled else event.reason
        slot.transition_changed_by, slot.transition_changed_at = event.by or None, step.now
        if event.enabled:
            self._admit(pipeline, event.stage, step)

    def _stop(self, event: ExecutionStopRequested, step: _Step) -> None:
        pipeline = self.pipeline(event.pipeline)
        execution = self.execution(event.pipeline, event.execution_id)
        if execution.status not in (S.IN_PROGRESS, S.STOPPING):
            raise errors.PipelineExecutionNotStoppable(
                f"Execution '{execution.execution_id}' is {execution.status} and cannot be stopped"
            )
        if execution.status == S.STOPPING and not event.abandon:
            raise errors.DuplicatedStopRequest(
                f"Execution '{execution.execution_id}' is already Stopping; only abandon can follow"
            )
        execution.stop_reason = event.reason if event.reason is not None else execution.stop_reason
        execution.stop_abandon = execution.stop_abandon or event.abandon
        if execution.current_stage is None:  # waiting at an entrance: nothing runs, stop now
            self._end(pipeline, execution, S.STOPPED, _stopped_summary(execution), step)
            return
        stage_run = execution.stage_runs[execution.current_stage]
        if execution.status == S.IN_PROGRESS:
            S.move(S.EXECUTION_TRANSITIONS, execution, S.STOPPING, "execution")
            S.move(S.STAGE_TRANSITIONS, stage_run, S.STOPPING, "stage")
            execution.last_update_time = stage_run.last_update_time = step.now
        self._cancel_conditions(pipeline, execution, stage_run, "Abandoned: the execution was stopped", step,
                                S.ABANDONED if event.abandon else S.CANCELLED)
        if event.abandon:
            for run in stage_run.actions.values():
                if run.status == S.IN_PROGRESS:
                    run.error_message = "Abandoned: the execution was stopped"
                    self._finish_action(run, S.ABANDONED, step)
                    if run.token is None:
                        step.commands.append(
                            CancelAction(pipeline.name, execution.execution_id, run.action_execution_id)
                        )
        self._progress(pipeline, execution, stage_run.stage, step)

    def _retry(self, event: StageRetryRequested, step: _Step) -> None:
        pipeline = self.pipeline(event.pipeline)
        execution = self.execution(event.pipeline, event.execution_id)
        if pipeline.plan.stage(event.stage) is None:
            raise errors.StageNotFound(f"Stage '{event.stage}' not found in pipeline '{event.pipeline}'")
        slot = pipeline.slot(event.stage)
        if slot.latest_execution != execution.execution_id:
            raise errors.NotLatestPipelineExecution(
                f"Execution '{execution.execution_id}' is not the latest in stage '{event.stage}'"
                + (f": '{slot.latest_execution}' entered it since" if slot.latest_execution else "")
            )
        stage_run = execution.stage_runs.get(event.stage)
        if (
            stage_run is None
            or stage_run.status not in (S.FAILED, S.STOPPED)
            or execution.status not in (S.FAILED, S.STOPPED)
        ):
            status = stage_run.status if stage_run else "not run"
            raise errors.StageNotRetryable(
                f"Stage '{event.stage}' of execution '{execution.execution_id}' is {status} "
                f"(execution {execution.status}): only a Failed or Stopped stage can be retried"
            )
        if execution.pipeline_version != pipeline.version:
            raise errors.StageNotRetryable(
                f"Pipeline '{pipeline.name}' was updated since execution '{execution.execution_id}' "
                f"ran (version {execution.pipeline_version}, now {pipeline.version})"
            )
        if slot.inside:
            raise errors.StageNotRetryable(f"Stage '{event.stage}' is in use by execution '{slot.inside[0]}'")
        S.move(S.EXECUTION_TRANSITIONS, execution, S.IN_PROGRESS, "execution")
        S.move(S.STAGE_TRANSITIONS, stage_run, S.IN_PROGRESS, "stage")
        execution.status_summary = execution.stop_reason = None
        execution.stop_abandon = False
        execution.last_update_time = stage_run.last_update_time = step.now
        execution.current_stage = event.stage
        slot.inside.append(execution.execution_id)
        stage_run.manual_retries += 1
        stage_run.latest_retry_trigger = "ManualStageRetry"
        self._restart_stage(pipeline, execution, stage_run, event.mode, step)

    def _restart_stage(self, pipeline: Pipeline, execution: Execution, stage_run: StageRun, mode: str,
                       step: _Step) -> None:
        """Run a failed stage again (a retry): its failed actions, or all of them, and its
        conditions judged again (an entry condition that did not let it in, first)."""
        plan = pipeline.plans[execution.pipeline_version].stage(stage_run.stage)
        for kind in (C.ON_SUCCESS, C.ON_FAILURE):
            if kind in stage_run.conditions:
                stage_run.earlier_conditions.append(stage_run.conditions.pop(kind))
        entry = stage_run.conditions.get(C.BEFORE_ENTRY)
        if entry is not None and entry.status not in (S.SUCCEEDED, S.OVERRIDDEN):
            stage_run.earlier.extend(stage_run.actions.values())
            stage_run.actions.clear()
            if self._judge(pipeline, execution, stage_run, plan.before_entry, step):
                return
        if mode == "ALL_ACTIONS" or not stage_run.actions:
            stage_run.earlier.extend(stage_run.actions.values())
            stage_run.actions.clear()
            self._start_group(pipeline, execution, stage_run, plan.run_orders()[0], step)
            return
        again = [
            plan.action(run.name)
            for run in stage_run.actions.values()
            if run.status in (S.FAILED, S.ABANDONED)
        ]
        if again:
            self._start_actions(pipeline, execution, stage_run, again, step)
        else:  # stopped between groups, or failed by a success condition: go on from there
            self._progress(pipeline, execution, stage_run.stage, step)

    # -- stage conditions (what their outcomes do: conditions.py) -----------------------------

    def _judge(self, pipeline: Pipeline, execution: Execution, stage_run: StageRun,
               condition: ConditionPlan | None, step: _Step, summary: str | None = None) -> bool:
        """Start judging `condition` of the stage (its first rule); False when there is nothing
        to judge (none declared, no rules, or an execution that runs no conditions)."""
        if condition is None or not condition.rules or not C.runs_conditions(execution.execution_type):
            return False
        previous = stage_run.conditions.get(condition.kind)
        if previous is not None:
            stage_run.earlier_conditions.append(previous)
        stage_run.conditions[condition.kind] = ConditionRun(condition.kind, S.IN_PROGRESS, step.now, step.now,
                                                            stage_failure=summary)
        self._start_rule(pipeline, execution, stage_run, condition, condition.rules[0], step)
        return True

    def _start_rule(self, pipeline: Pipeline, execution: Execution, stage_run: StageRun,
                    condition: ConditionPlan, rule, step: _Step) -> None:
        run = RuleRun(step.new_id(), rule.name, stage_run.stage, execution.execution_id, condition.kind,
                      S.IN_PROGRESS, step.now, step.now)
        stage_run.conditions[condition.kind].rules[rule.name] = run
        try:
            run.configuration = resolve_configuration(rule.configuration, execution)
        except UnresolvedVariable as exc:
            self._rule_judged(pipeline, execution, stage_run, run, False, "ConfigurationError", str(exc), step)
            return
        missing = [name for name in rule.input_artifacts if name not in execution.artifacts]
        if missing:
            self._rule_judged(pipeline, execution, stage_run, run, False, "ConfigurationError",
                              f"input artifact(s) not available: {', '.join(missing)}", step)
            return
        run.input_artifacts = tuple(execution.artifacts[name] for name in rule.input_artifacts)
        try:
            run.commands = resolve_commands(rule, execution)[0]
        except UnresolvedVariable as exc:
            self._rule_judged(pipeline, execution, stage_run, run, False, "ConfigurationError", str(exc), step)
            return
        step.commands.append(_rule_command(pipeline, execution, condition, run))

    def _rule_result(self, event: RuleSucceeded | RuleFailed, step: _Step) -> None:
        pipeline = self.pipeline(event.pipeline)
        execution = self.execution(event.pipeline, event.execution_id)
        stage_run = execution.stage_runs.get(event.stage)
        condition = stage_run.conditions.get(event.kind) if stage_run else None
        run = condition.rules.get(event.rule) if condition else None
        if run is None or run.rule_execution_id != event.rule_execution_id or run.status != S.IN_PROGRESS:
            raise errors.InvalidJobState(
                f"Rule execution '{event.rule_execution_id}' ({event.stage}.{event.rule}) is not a running rule "
                f"of execution '{execution.execution_id}'")
        run.external_execution_id = event.external_execution_id
        if isinstance(event, RuleSucceeded):
            run.summary = event.summary
            self._rule_judged(pipeline, execution, stage_run, run, True, None, None, step)
        else:
            self._rule_judged(pipeline, execution, stage_run, run, False, event.error_code, event.message, step)

    def _rule_judged(self, pipeline: Pipeline, execution: Execution, stage_run: StageRun, run: RuleRun,
                     passed: bool, code: str | None, message: str | None, step: _Step) -> None:
        """A rule ended: the next rule runs, or its condition is judged."""
        run.error_code, run.error_message = code, message
        S.move(S.RULE_TRANSITIONS, run, S.SUCCEEDED if passed else S.FAILED, "rule")
        run.last_update_time = step.now
        condition_run = stage_run.conditions[run.kind]
        plan = pipeline.plans[execution.pipeline_version].stage(stage_run.stage).condition(run.kind)
        if condition_run.status != S.IN_PROGRESS:
            return  # overridden or cancelled meanwhile: the result is only recorded
        following = [r for r in plan.rules if r.name not in condition_run.rules]
        if passed and following:
            self._start_rule(pipeline, execution, stage_run, plan, following[0], step)
            return
        met = passed
        condition_run.summary = None if met else f"rule {run.name} failed: {message}"
        self._condition_judged(pipeline, execution, stage_run, plan, condition_run, met, step)

    def _condition_judged(self, pipeline: Pipeline, execution: Execution, stage_run: StageRun,
                          plan: ConditionPlan, condition_run: ConditionRun, met: bool, step: _Step,
                          overridden: bool = False) -> None:
        S.move(S.CONDITION_TRANSITIONS, condition_run,
               S.OVERRIDDEN if overridden else S.SUCCEEDED if met else S.FAILED, "condition")
        condition_run.last_update_time = step.now
        if execution.status != S.IN_PROGRESS or execution.cancel_pending:
            self._progress(pipeline, execution, stage_run.stage, step)  # stops or cancels the stage
            return
        label = {"BEFORE_ENTRY": "entry", "ON_SUCCESS": "success", "ON_FAILURE": "failure"}[plan.kind]
        if plan.kind == C.ON_FAILURE:
            summary = condition_run.stage_failure or f"{stage_run.stage}: failed"
        else:
            summary = f"{stage_run.stage}: {label} condition not met: {condition_run.summary}"
        self._apply(pipeline, execution, stage_run, C.outcome(plan, met or overridden), summary, step)

    def _apply(self, pipeline: Pipeline, execution: Execution, stage_run: StageRun, outcome: C.Outcome,
               summary: str, step: _Step) -> None:
        """Carry out what a stage's condition (or its failure) decided."""
        stage_run.last_update_time = step.now
        if outcome.name == "ENTER":
            plan = pipeline.plans[execution.pipeline_version].stage(stage_run.stage)
            self._start_group(pipeline, execution, stage_run, plan.run_orders()[0], step)
        elif outcome.name == "SUCCEED":
            self._stage_succeeded(pipeline, execution, stage_run, step)
        elif outcome.name == "SKIP":
            S.move(S.STAGE_TRANSITIONS, stage_run, S.SKIPPED, "stage")
            self._leave(pipeline, execution, step)
            self._next_stage(pipeline, execution, stage_run.stage, step)
            self._admit(pipeline, stage_run.stage, step)
        elif outcome.name == "RETRY" and stage_run.auto_retries < C.AUTOMATIC_RETRIES:
            stage_run.auto_retries += 1
            stage_run.latest_retry_trigger = "AutomatedStageRetry"
            self._restart_stage(pipeline, execution, stage_run, outcome.retry_mode, step)
        elif outcome.name != "ROLLBACK" or not C.rolls_back(pipeline.plan.execution_mode):  # FAIL, a spent RETRY
            S.move(S.STAGE_TRANSITIONS, stage_run, S.FAILED, "stage")
            self._end(pipeline, execution, S.FAILED, summary, step)
        else:  # ROLLBACK: the stage fails, and the last execution that succeeded in it runs it again
            S.move(S.STAGE_TRANSITIONS, stage_run, S.FAILED, "stage")
            target = C.rollback_target(pipeline.executions.values(), stage_run.stage, pipeline.version,
                                       excluding=execution.execution_id)
            if target is None or execution.pipeline_version != pipeline.version:
                self._end(pipeline, execution, S.FAILED, f"{summary} (nothing to roll back to: no earlier execution "
                                                         f"of this pipeline version succeeded in {stage_run.stage})", step)
                return
            self._end(pipeline, execution, S.FAILED, summary, step, admit=False)
            self._start_rollback(pipeline, stage_run.stage, target, step.new_id(), "AutomatedRollback",
                                 execution.execution_id, step)
            self._admit(pipeline, stage_run.stage, step)

    def _override(self, event: ConditionOverridden, step: _Step) -> None:
        pipeline = self.pipeline(event.pipeline)
        execution = self.execution(event.pipeline, event.execution_id)
        plan = pipeline.plans[execution.pipeline_version].stage(event.stage)
        if pipeline.plan.stage(event.stage) is None or plan is None:
            raise errors.StageNotFound(f"Stage '{event.stage}' not found in pipeline '{event.pipeline}'")
        if pipeline.slot(event.stage).latest_execution != execution.execution_id:
            raise errors.NotLatestPipelineExecution(
                f"Execution '{execution.execution_id}' is not the latest in stage '{event.stage}'")
        condition = plan.condition(event.kind)
        stage_run = execution.stage_runs.get(event.stage)
        condition_run = stage_run.conditions.get(event.kind) if stage_run else None
        if condition is None or condition_run is None or condition_run.status != S.IN_PROGRESS:
            raise errors.ConditionNotOverridable(
                f"No {event.kind} condition of stage '{event.stage}' is being evaluated for execution "
                f"'{execution.execution_id}'")
        if condition.result == "SKIP":
            raise errors.ConditionNotOverridable(
                f"The {event.kind} condition of stage '{event.stage}' has the result SKIP, which cannot be overridden")
        self._abandon_rules(pipeline, execution, condition_run, "Abandoned: the condition was overridden", step)
        condition_run.overridden_by = event.by or None
        self._condition_judged(pipeline, execution, stage_run, condition, condition_run, True, step, overridden=True)

    def _cancel_conditions(self, pipeline: Pipeline, execution: Execution, stage_run: StageRun, why: str,
                           step: _Step, status: str = S.CANCELLED) -> None:
        """A check has nothing to finish: the conditions being judged end now, their rules abandoned."""
        for condition_run in stage_run.conditions.values():
            if condition_run.status == S.IN_PROGRESS:
                self._abandon_rules(pipeline, execution, condition_run, why, step)
                S.move(S.CONDITION_TRANSITIONS, condition_run, status, "condition")
                condition_run.last_update_time = step.now

    def _abandon_rules(self, pipeline: Pipeline, execution: Execution, condition_run: ConditionRun,
                       why: str, step: _Step) -> None:
        for rule in condition_run.rules.values():
            if rule.status == S.IN_PROGRESS:
                rule.error_message = why
                S.move(S.RULE_TRANSITIONS, rule, S.ABANDONED, "rule")
                rule.last_update_time = step.now
                step.commands.append(CancelAction(pipeline.name, execution.execution_id, rule.rule_execution_id))

    # -- rollback ---------------------------------------------------------------------------

    def _rollback(self, event: RollbackRequested, step: _Step) -> None:
        pipeline = self.pipeline(event.pipeline)
        if pipeline.plan.stage(event.stage) is None:
            raise errors.StageNotFound(f"Stage '{event.stage}' not found in pipeline '{event.pipeline}'")
        if event.execution_id in pipeline.executions:
            raise errors.EngineError(f"execution {event.execution_id} already exists")
        target = pipeline.executions.get(event.target_execution_id)
        if target is None:
            raise errors.PipelineExecutionNotFound(
                f"Execution '{event.target_execution_id}' of pipeline '{event.pipeline}' not found")
        if target.pipeline_version != pipeline.version:
            raise errors.PipelineExecutionOutdated(
                f"Execution '{target.execution_id}' ran pipeline version {target.pipeline_version}; the pipeline is "
                f"at version {pipeline.version}: only an execution of the current version can be a rollback target")
        refusal = C.rollback_refusal(pipeline.plan, event.stage, target, pipeline.version)
        if not C.rolls_back(pipeline.plan.execution_mode):
            refusal = f"Pipeline '{pipeline.name}' runs in PARALLEL mode, where stages cannot be rolled back"
        waiting = [e for e in pipeline.slot(event.stage).waiting if pipeline.executions[e].execution_type == C.ROLLBACK]
        if refusal is None and waiting:
            refusal = f"Stage '{event.stage}' is already being rolled back (execution '{waiting[0]}')"
        slot = pipeline.slot(event.stage)
        if refusal is None and slot.inside:
            refusal = f"Stage '{event.stage}' is in progress (execution '{slot.inside[0]}'): roll it back once it ended"
        if refusal:
            raise errors.UnableToRollbackStage(refusal)
        self._start_rollback(pipeline, event.stage, target, event.execution_id, event.trigger_type,
                             event.trigger_detail, step)

    def _start_rollback(self, pipeline: Pipeline, stage: str, target: Execution, execution_id: str,
                        trigger_type: str, trigger_detail: str, step: _Step) -> None:
        """A ROLLBACK execution: `stage` again, with the target's sources, variables and artifacts."""
        execution = Execution(
            execution_id=execution_id, pipeline=pipeline.name, pipeline_version=pipeline.version,
            status=S.IN_PROGRESS, start_time=step.now, last_update_time=step.now,
            trigger_type=trigger_type, trigger_detail=trigger_detail,
            source_revisions=dict(target.source_revisions), source_branches=dict(target.source_branches),
            variables=dict(target.variables),
            artifacts=dict(target.artifacts), namespaces={k: dict(v) for k, v in target.namespaces.items()},
            source_outputs=dict(target.source_outputs),
            execution_type=C.ROLLBACK, rollback_target=target.execution_id, rollback_stage=stage,
        )
        pipeline.executions[execution_id] = execution
        # First in line: a rollback restores the stage before any newer change enters it.
        slot = pipeline.slot(stage)
        if GATES[pipeline.plan.execution_mode].has_room(slot):
            self._enter(pipeline, execution, stage, step)
        else:
            slot.waiting.insert(0, execution_id)
            execution.waiting_at = stage

    # -- the stage gate ---------------------------------------------------------------------

    def _arrive(self, pipeline: Pipeline, execution: Execution, stage: str, step: _Step) -> None:
        """`execution` reaches the entrance of `stage`: it enters, or waits (superseding)."""
        slot = pipeline.slot(stage)
        enters, superseded = GATES[pipeline.plan.execution_mode].arrive(slot, execution.execution_id)
        # A rollback waiting there restores the stage first: nothing supersedes it.
        superseded = [e for e in superseded if pipeline.executions[e].execution_type != C.ROLLBACK]
        for other_id in superseded:
            other = pipeline.executions[other_id]
            slot.waiting.remove(other_id)
            other.waiting_at = None
            self._end(pipeline, other, S.SUPERSEDED, f"Superseded by {execution.execution_id}", step)
        if enters:
            self._enter(pipeline, execution, stage, step)
        else:
            slot.waiting.append(execution.execution_id)
            execution.waiting_at = stage
            execution.last_update_time = step.now

    def _admit(self, pipeline: Pipeline, stage: str, step: _Step) -> None:
        # One at a time: entering may end an execution at once (an unresolvable variable),
        # which frees the stage again and re-enters this method.
        slot = pipeline.slot(stage)
        while admitted := GATES[pipeline.plan.execution_mode].admit(slot):
            slot.waiting.remove(admitted[0])
            self._enter(pipeline, pipeline.executions[admitted[0]], stage, step)

    def _enter(self, pipeline: Pipeline, execution: Execution, stage: str, step: _Step) -> None:
        slot = pipeline.slot(stage)
        slot.inside.append(execution.execution_id)
        slot.latest_execution = execution.execution_id
        execution.current_stage, execution.waiting_at = stage, None
        execution.last_update_time = step.now
        plan = pipeline.plans[execution.pipeline_version].stage(stage)
        stage_run = StageRun(stage, execution.execution_id, S.IN_PROGRESS, step.now, step.now)
        execution.stage_runs[stage] = stage_run
        if not self._judge(pipeline, execution, stage_run, plan.before_entry, step):
            self._start_group(pipeline, execution, stage_run, plan.run_orders()[0], step)

    def _leave(self, pipeline: Pipeline, execution: Execution, step: _Step) -> str | None:
        """Take `execution` out of its stage (or entrance); returns the stage it freed."""
        freed = execution.current_stage
        if freed is not None:
            pipeline.slot(freed).inside.remove(execution.execution_id)
            execution.current_stage = None
        if execution.waiting_at is not None:
            pipeline.slot(execution.waiting_at).waiting.remove(execution.execution_id)
            execution.waiting_at = None
        return freed

    # -- actions ----------------------------------------------------------------------------

    def _start_group(
        self, pipeline: Pipeline, execution: Execution, stage_run: StageRun, run_order: int, step: _Step
    ) -> None:
        stage_run.run_order = run_order
        plan = pipeline.plans[execution.pipeline_version]
        self._start_actions(pipeline, execution, stage_run, plan.stage(stage_run.stage).group(run_order), step)

    def _start_actions(
        self, pipeline: Pipeline, execution: Execution, stage_run: StageRun, actions: list, step: _Step
    ) -> None:
        slot = pipeline.slot(stage_run.stage)
        failed_at_start = False
        for action in actions:
            run = ActionRun(
                action_execution_id=step.new_id(),
                name=action.name,
                stage=stage_run.stage,
                execution_id=execution.execution_id,
                status=S.IN_PROGRESS,
                start_time=step.now,
                last_update_time=step.now,
            )
            if action.name in stage_run.actions:  # a retry: keep the failed run for the history
                stage_run.earlier.append(stage_run.actions[action.name])
            stage_run.actions[action.name] = run
            slot.latest_action_runs[action.name] = execution.execution_id
            try:
                run.configuration = resolve_configuration(action.configuration, execution)
                run.commands, run.environment_variables = resolve_commands(action, execution)
            except UnresolvedVariable as exc:
                run.error_code, run.error_message = "JobFailed", str(exc)
                self._finish_action(run, S.FAILED, step)
                failed_at_start = True
                continue
            if action.is_approval:
                run.token = step.new_id()
                minutes = action.timeout_in_minutes or DEFAULT_APPROVAL_TIMEOUT_MINUTES
                run.expires_at = step.now + minutes * 60
                pipeline.tokens[run.token] = (execution.execution_id, stage_run.stage, action.name)
                step.commands.append(self._command_for(pipeline, execution, action, run))
                continue
            if action.is_job:
                run.expires_at = step.now + (action.timeout_in_minutes or action.default_timeout_minutes) * 60
            missing = [name for name in action.input_artifacts if name not in execution.artifacts]
            if missing:
                run.error_code = "JobFailed"
                run.error_message = f"input artifact(s) not available: {', '.join(missing)}"
                self._finish_action(run, S.FAILED, step)
                failed_at_start = True
                continue
            run.input_artifacts = tuple(execution.artifacts[name] for name in action.input_artifacts)
            if action.is_job:
                self._new_job(pipeline, execution, run, step)
            else:
                step.commands.append(self._command_for(pipeline, execution, action, run))
        if failed_at_start:
            self._progress(pipeline, execution, stage_run.stage, step)

    @staticmethod
    def _running_action(execution: Execution, stage: str, action: str, action_execution_id: str) -> ActionRun:
        stage_run = execution.stage_runs.get(stage)
        run = stage_run.actions.get(action) if stage_run else None
        if run is None or run.action_execution_id != action_execution_id:
            raise errors.InvalidJobState(
                f"Action execution '{action_execution_id}' ({stage}.{action}) is not the current "
                f"one of execution '{execution.execution_id}'"
            )
        if run.status != S.IN_PROGRESS:
            raise errors.InvalidJobState(
                f"Action execution '{action_execution_id}' ({stage}.{action}) is already {run.status}"
            )
        return run

    @staticmethod
    def _finish_action(run: ActionRun, status: str, step: _Step) -> None:
        S.move(S.ACTION_TRANSITIONS, run, status, "action")
        run.last_update_time = step.now

    def _progress(self, pipeline: Pipeline, execution: Execution, stage: str, step: _Step) -> None:
        """After an action ended: start the next runOrder group, or end the stage."""
        stage_run = execution.stage_runs[stage]
        if stage_run.status not in (S.IN_PROGRESS, S.STOPPING):
            return
        if any(c.status == S.IN_PROGRESS for c in stage_run.conditions.values()):
            return  # a condition is being judged: its result moves the stage on
        group = [r for r in stage_run.actions.values() if _run_order(pipeline, execution, r) == stage_run.run_order]
        if any(r.status != S.SUCCEEDED and r.status != S.IN_PROGRESS for r in group):
            # The stage fails once its running work ends; an approval beside a failed action
            # could only end it Failed, so it does not hold the stage.
            for run in group:
                if run.token is not None and run.status == S.IN_PROGRESS:
                    run.error_message = "Abandoned: another action of the stage failed"
                    self._finish_action(run, S.ABANDONED, step)
        if any(r.status == S.IN_PROGRESS for r in group):
            return
        stage_run.last_update_time = step.now
        if execution.status == S.STOPPING:
            S.move(S.STAGE_TRANSITIONS, stage_run, S.STOPPED, "stage")
            self._end(pipeline, execution, S.STOPPED, _stopped_summary(execution), step)
            return
        if execution.cancel_pending:
            S.move(S.STAGE_TRANSITIONS, stage_run, S.CANCELLED, "stage")
            self._end(pipeline, execution, S.CANCELLED, "Cancelled: the pipeline was updated", step)
            return
        stage_plan = pipeline.plans[execution.pipeline_version].stage(stage)
        failed = [r for r in group if r.status != S.SUCCEEDED]
        if failed:
            summary = f"{stage}.{failed[0].name}: {failed[0].error_message}"
            decided = C.on_failure(stage_plan.on_failure, stage_run.auto_retries) \
                if C.runs_conditions(execution.execution_type) else C.FAIL
            if decided is None and self._judge(pipeline, execution, stage_run, stage_plan.on_failure, step, summary):
                return
            self._apply(pipeline, execution, stage_run, decided or C.FAIL, summary, step)
            return
        later = [o for o in stage_plan.run_orders() if o > stage_run.run_order]
        if later:
            self._start_group(pipeline, execution, stage_run, later[0], step)
            return
        if not self._judge(pipeline, execution, stage_run, stage_plan.on_success, step):
            self._stage_succeeded(pipeline, execution, stage_run, step)

    def _stage_succeeded(self, pipeline: Pipeline, execution: Execution, stage_run: StageRun, step: _Step) -> None:
        """The stage is done: the execution goes on to the next stage (a ROLLBACK execution ends)."""
        stage = stage_run.stage
        S.move(S.STAGE_TRANSITIONS, stage_run, S.SUCCEEDED, "stage")
        stage_run.last_update_time = step.now
        self._leave(pipeline, execution, step)
        self._next_stage(pipeline, execution, stage, step)
        self._admit(pipeline, stage, step)

    def _next_stage(self, pipeline: Pipeline, execution: Execution, stage: str, step: _Step) -> None:
        plan = pipeline.plans[execution.pipeline_version]
        index = plan.stage_index(stage)
        if index + 1 < len(plan.stages) and execution.execution_type != C.ROLLBACK:
            self._arrive(pipeline, execution, plan.stages[index + 1].name, step)
        else:
            self._end(pipeline, execution, S.SUCCEEDED, None, step)

    def _end(self, pipeline: Pipeline, execution: Execution, status: str, summary: str | None, step: _Step,
             admit: bool = True) -> str | None:
        """End `execution`; the stage it freed admits who waits (unless `admit` is False: the
        caller has someone to put first). Returns the stage it freed."""
        freed = self._leave(pipeline, execution, step)
        S.move(S.EXECUTION_TRANSITIONS, execution, status, "execution")
        execution.status_summary = summary
        execution.last_update_time = step.now
        step.commands.append(ExecutionEnded(pipeline.name, execution.execution_id, status))
        if freed is not None and admit:
            self._admit(pipeline, freed, step)
        return freed


def _stopped_summary(execution: Execution) -> str:
    how = "abandoned" if execution.stop_abandon else "stopped"
    return f"Execution {how}" + (f": {execution.stop_reason}" if execution.stop_reason else "")


def _run_order(pipeline: Pipeline, execution: Execution, run: ActionRun) -> int:
    plan: PipelinePlan = pipeline.plans[execution.pipeline_version]
    return plan.stage(run.stage).action(run.name).run_order


def _rule_command(pipeline: Pipeline, execution: Execution, condition: ConditionPlan, run: RuleRun) -> RunRule:
    rule = next(r for r in condition.rules if r.name == run.name)
    return RunRule(pipeline.name, execution.execution_id, run.stage, run.kind, rule, run.rule_execution_id,
                   run.configuration, run.input_artifacts, run.start_time, run.commands)


def _with_external_id(output, external_id: str):
    from .events import ActionOutput

    base = output or ActionOutput()
    return ActionOutput(**{**base.__dict__, "external_execution_id": external_id})


_HANDLERS = {
    PipelineDeclared: Engine._declared,
    PipelineDeleted: Engine._deleted,
    ExecutionStarted: Engine._started,
    ActionSucceeded: Engine._action_result,
    ActionFailed: Engine._action_result,
    JobSucceeded: Engine._job_result,
    JobFailed: Engine._job_result,
    ApprovalResultSubmitted: Engine._approval,
    ActionTimedOut: Engine._action_timed_out,
    StageTransitionChanged: Engine._transition,
    ExecutionStopRequested: Engine._stop,
    StageRetryRequested: Engine._retry,
    RuleSucceeded: Engine._rule_result,
    RuleFailed: Engine._rule_result,
    ConditionOverridden: Engine._override,
    RollbackRequested: Engine._rollback,
}
