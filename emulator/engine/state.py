"""The engine's state: pipelines, their stage slots, executions, stage runs and action runs.

Mutable on purpose (the machine changes it in place), but only `machine.py` writes to it; every
other layer reads it to answer queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .events import ActionOutput, ArtifactOutput
from .plan import PipelinePlan


@dataclass
class ActionRun:
    action_execution_id: str
    name: str
    stage: str
    execution_id: str
    status: str
    start_time: float
    last_update_time: float
    configuration: tuple[tuple[str, str], ...] = ()  # resolved
    commands: tuple[str, ...] = ()  # resolved (Commands actions)
    environment_variables: tuple[tuple[str, str, str], ...] = ()  # (name, value resolved, type)
    input_artifacts: tuple[ArtifactOutput, ...] = ()
    output: ActionOutput | None = None
    error_code: str | None = None
    error_message: str | None = None
    token: str | None = None  # manual approvals only
    expires_at: float | None = None
    approval_summary: str | None = None
    approved_by: str | None = None
    approved_at: float | None = None
    job_id: str | None = None  # Lambda invokes: the current job
    continuation_token: str | None = None


@dataclass
class RuleRun:
    """One run of a condition's rule (RuleExecution / RuleExecutionDetail)."""

    rule_execution_id: str
    name: str
    stage: str
    execution_id: str
    kind: str  # the condition it belongs to: BEFORE_ENTRY | ON_SUCCESS | ON_FAILURE
    status: str
    start_time: float
    last_update_time: float
    configuration: tuple[tuple[str, str], ...] = ()  # resolved
    input_artifacts: tuple[ArtifactOutput, ...] = ()
    commands: tuple[str, ...] = ()  # a Commands rule's, resolved
    summary: str | None = None
    external_execution_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    updated_by: str | None = None


@dataclass
class ConditionRun:
    """One evaluation of a stage condition: its rules run in order; the first that fails fails it."""

    kind: str
    status: str
    start_time: float
    last_update_time: float
    summary: str | None = None
    rules: dict[str, RuleRun] = field(default_factory=dict)  # in the order they ran
    overridden_by: str | None = None
    stage_failure: str | None = None  # onFailure: why the stage failed (the execution's summary)


@dataclass
class StageRun:
    stage: str
    execution_id: str
    status: str
    start_time: float
    last_update_time: float
    run_order: int = 0  # the group currently running
    actions: dict[str, ActionRun] = field(default_factory=dict)  # the latest run of each action
    earlier: list[ActionRun] = field(default_factory=list)  # runs a retry replaced (history)
    conditions: dict[str, ConditionRun] = field(default_factory=dict)  # kind -> its latest evaluation
    earlier_conditions: list[ConditionRun] = field(default_factory=list)  # evaluations a retry replaced
    auto_retries: int = 0  # retryStageMetadata
    manual_retries: int = 0
    latest_retry_trigger: str | None = None  # AutomatedStageRetry | ManualStageRetry

    def latest_run(self, action: str) -> ActionRun | None:
        """The action's current run, or its last one before an ALL_ACTIONS retry reset it."""
        if action in self.actions:
            return self.actions[action]
        return next((r for r in reversed(self.earlier) if r.name == action), None)


@dataclass
class Execution:
    execution_id: str
    pipeline: str
    pipeline_version: int
    status: str
    start_time: float
    last_update_time: float
    trigger_type: str
    trigger_detail: str
    source_revisions: dict[str, str]  # source action -> commit asked for
    variables: dict[str, str]  # resolved pipeline-level variables
    status_summary: str | None = None
    stage_runs: dict[str, StageRun] = field(default_factory=dict)
    current_stage: str | None = None  # the stage it is inside
    waiting_at: str | None = None  # the stage at whose entrance it waits
    artifacts: dict[str, ArtifactOutput] = field(default_factory=dict)
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    source_outputs: dict[str, ActionOutput] = field(default_factory=dict)  # source action -> output
    stop_reason: str | None = None  # StopPipelineExecution's reason (stopTrigger)
    stop_abandon: bool = False
    cancel_pending: bool = False  # the pipeline was updated: cancel once running actions end
    client_request_token: str | None = None
    execution_type: str = "STANDARD"  # ROLLBACK: runs one stage again with an earlier execution's work
    rollback_target: str | None = None  # rollbackMetadata.rollbackTargetPipelineExecutionId
    rollback_stage: str | None = None  # the stage a ROLLBACK execution runs
    source_branches: dict[str, str] = field(default_factory=dict)  # source action -> branch a trigger chose


@dataclass
class StageSlot:
    """One stage's entrance and inside, across executions: what the stage lock guards."""

    name: str
    inside: list[str] = field(default_factory=list)  # executions in the stage
    waiting: list[str] = field(default_factory=list)  # executions at the entrance, oldest first
    latest_execution: str | None = None  # the last execution that entered (latestExecution)
    latest_action_runs: dict[str, str] = field(default_factory=dict)  # action -> execution id
    transition_enabled: bool = True
    disabled_reason: str | None = None
    transition_changed_by: str | None = None
    transition_changed_at: float | None = None


@dataclass
class Pipeline:
    name: str
    version: int
    plans: dict[int, PipelinePlan]
    created: float
    updated: float
    slots: dict[str, StageSlot] = field(default_factory=dict)
    executions: dict[str, Execution] = field(default_factory=dict)  # in start order
    tokens: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # token -> exec, stage, action
    request_tokens: dict[str, str] = field(default_factory=dict)  # clientRequestToken -> execution
    origin: str = "file"  # where the definition comes from: the pipelines folder or the API

    @property
    def plan(self) -> PipelinePlan:
        return self.plans[self.version]

    def slot(self, stage: str) -> StageSlot:
        return self.slots.setdefault(stage, StageSlot(stage))
