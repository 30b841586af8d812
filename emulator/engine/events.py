"""What happened: the engine's input. Small frozen dataclasses named in the past tense.

Every event names its pipeline, so one log of events (the store's) feeds the whole engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from .plan import PipelinePlan


@dataclass(frozen=True)
class PipelineDeclared:
    """A pipeline definition was loaded, created or changed; `version` is its pipelineVersion."""

    pipeline: str
    version: int
    plan: PipelinePlan
    origin: str = "file"  # "file" (the pipelines folder) or "api" (CreatePipeline/UpdatePipeline)


@dataclass(frozen=True)
class PipelineDeleted:
    pipeline: str


@dataclass(frozen=True)
class ExecutionStarted:
    pipeline: str
    execution_id: str
    trigger_type: str = "StartPipelineExecution"  # ExecutionTrigger.triggerType
    trigger_detail: str = ""
    source_revisions: tuple[tuple[str, str], ...] = ()  # (source action name, commit id)
    variables: tuple[tuple[str, str], ...] = ()  # overrides of pipeline-level variables
    client_request_token: str | None = None
    # (source action name, branch) where a trigger chose another branch than the configured one
    # (a pull request's source branch). Last and defaulted: events stored before it still read.
    source_branches: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ArtifactOutput:
    name: str
    location: str  # where the runner stored it (opaque to the engine)
    revision: str | None = None  # the source revision it was made from (a commit id)


@dataclass(frozen=True)
class ActionOutput:
    summary: str | None = None
    external_execution_id: str | None = None
    external_execution_url: str | None = None
    revision_id: str | None = None  # source actions: the commit
    revision_summary: str | None = None
    revision_created: float | None = None
    output_variables: tuple[tuple[str, str], ...] = ()
    artifacts: tuple[ArtifactOutput, ...] = ()


@dataclass(frozen=True)
class ActionSucceeded:
    pipeline: str
    execution_id: str
    stage: str
    action: str
    action_execution_id: str
    output: ActionOutput = ActionOutput()


@dataclass(frozen=True)
class ActionFailed:
    pipeline: str
    execution_id: str
    stage: str
    action: str
    action_execution_id: str
    message: str
    error_code: str = "JobFailed"
    external_execution_id: str | None = None


@dataclass(frozen=True)
class ApprovalResultSubmitted:
    pipeline: str
    stage: str
    action: str
    token: str
    status: str  # Approved | Rejected
    summary: str = ""
    by: str = ""


@dataclass(frozen=True)
class JobSucceeded:
    """PutJobSuccessResult: the job of a Lambda invoke action reported success, or (with a
    continuation token) asked to be invoked again."""

    job_id: str
    output: ActionOutput = ActionOutput()
    continuation_token: str | None = None

    @property
    def pipeline(self) -> str:  # jobs are found by id; the store files them under no pipeline
        return ""


@dataclass(frozen=True)
class JobFailed:
    """PutJobFailureResult, or the invocation crashed before reporting."""

    job_id: str
    message: str
    failure_type: str = "JobFailed"
    external_execution_id: str | None = None

    @property
    def pipeline(self) -> str:
        return ""


@dataclass(frozen=True)
class ActionTimedOut:
    """An approval or a job reached its action's timeout."""

    pipeline: str
    execution_id: str
    stage: str
    action: str
    action_execution_id: str


@dataclass(frozen=True)
class StageTransitionChanged:
    """DisableStageTransition / EnableStageTransition (Inbound)."""

    pipeline: str
    stage: str
    enabled: bool
    reason: str | None = None
    by: str = ""


@dataclass(frozen=True)
class ExecutionStopRequested:
    pipeline: str
    execution_id: str
    abandon: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class StageRetryRequested:
    pipeline: str
    execution_id: str
    stage: str
    mode: str  # FAILED_ACTIONS | ALL_ACTIONS


@dataclass(frozen=True)
class RuleSucceeded:
    """A condition's rule passed."""

    pipeline: str
    execution_id: str
    stage: str
    kind: str  # BEFORE_ENTRY | ON_SUCCESS | ON_FAILURE
    rule: str
    rule_execution_id: str
    summary: str | None = None
    external_execution_id: str | None = None


@dataclass(frozen=True)
class RuleFailed:
    """A condition's rule did not pass (its check failed, or it could not be run)."""

    pipeline: str
    execution_id: str
    stage: str
    kind: str
    rule: str
    rule_execution_id: str
    error_code: str
    message: str
    external_execution_id: str | None = None


@dataclass(frozen=True)
class ConditionOverridden:
    """OverrideStageCondition: the condition being evaluated counts as met."""

    pipeline: str
    execution_id: str
    stage: str
    kind: str  # BEFORE_ENTRY | ON_SUCCESS
    by: str = ""


@dataclass(frozen=True)
class RollbackRequested:
    """RollbackStage, or a stage's onFailure result ROLLBACK: a new execution of type ROLLBACK
    runs `stage` again with the work of `target_execution_id`."""

    pipeline: str
    stage: str
    target_execution_id: str
    execution_id: str
    trigger_type: str = "ManualRollback"
    trigger_detail: str = ""


Event = (
    PipelineDeclared
    | PipelineDeleted
    | ExecutionStarted
    | ActionSucceeded
    | ActionFailed
    | ApprovalResultSubmitted
    | ActionTimedOut
    | JobSucceeded
    | JobFailed
    | StageTransitionChanged
    | ExecutionStopRequested
    | StageRetryRequested
    | RuleSucceeded
    | RuleFailed
    | ConditionOverridden
    | RollbackRequested
)
