"""What to do: the engine's output, in the imperative. The runner and the service carry them out."""

from __future__ import annotations

from dataclasses import dataclass

from .events import ArtifactOutput
from .plan import ActionPlan, RulePlan


@dataclass(frozen=True)
class RunAction:
    """Run a non-approval action; report back with ActionSucceeded or ActionFailed."""

    pipeline: str
    execution_id: str
    stage: str
    action: ActionPlan
    action_execution_id: str
    configuration: tuple[tuple[str, str], ...]  # variables resolved
    inputs: tuple[ArtifactOutput, ...]
    source_revision: str | None = None  # source actions: the commit asked for at start
    source_branch: str | None = None  # source actions: the branch a trigger chose (a pull request's)
    job_id: str | None = None  # Lambda invokes: the job the function reports on
    continuation_token: str | None = None  # a job invoked again after a continuation
    expires_at: float | None = None  # jobs: report ActionTimedOut then unless the job ended
    # Commands actions: the action's commands and environment variables, variables resolved.
    commands: tuple[str, ...] = ()
    environment_variables: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class AwaitApproval:
    """A manual approval opened; report ActionTimedOut at `expires_at` unless answered."""

    pipeline: str
    execution_id: str
    stage: str
    action: str
    action_execution_id: str
    token: str
    expires_at: float
    configuration: tuple[tuple[str, str], ...] = ()  # variables resolved: NotificationArn, CustomData, ...


@dataclass(frozen=True)
class RunRule:
    """Run a condition's rule; report back with RuleSucceeded or RuleFailed."""

    pipeline: str
    execution_id: str
    stage: str
    kind: str
    rule: RulePlan
    rule_execution_id: str
    configuration: tuple[tuple[str, str], ...]  # variables resolved
    inputs: tuple[ArtifactOutput, ...] = ()
    started_at: float = 0.0  # when the rule started (a rule that waits counts from then)
    commands: tuple[str, ...] = ()  # a Commands rule's commands, variables resolved


@dataclass(frozen=True)
class CancelAction:
    pipeline: str
    execution_id: str
    action_execution_id: str


@dataclass(frozen=True)
class ExecutionEnded:
    pipeline: str
    execution_id: str
    status: str


Command = RunAction | RunRule | AwaitApproval | CancelAction | ExecutionEnded
