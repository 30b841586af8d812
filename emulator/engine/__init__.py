"""The engine: CodePipeline's run-time semantics as a pure state machine.

Events in, commands out. No Docker, no SQLite, no threads, no wall clock: the caller hands in
`now` (epoch seconds) and a factory of fresh ids, so replaying the same events with the same ids
rebuilds the same state (that is how the store restores a crashed daemon).
"""

from .commands import AwaitApproval, CancelAction, Command, ExecutionEnded, RunAction, RunRule
from .errors import EngineError
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
from .machine import Engine
from .plan import ActionPlan, PipelinePlan, StagePlan, plan_from_declaration

__all__ = [
    "ActionFailed", "ActionPlan", "ActionSucceeded", "ApprovalResultSubmitted", "ActionTimedOut",
    "AwaitApproval", "CancelAction", "Command", "ConditionOverridden", "Engine", "EngineError", "Event", "ExecutionEnded",
    "ExecutionStarted", "ExecutionStopRequested", "JobFailed", "JobSucceeded", "PipelineDeclared", "PipelineDeleted", "RollbackRequested", "RuleFailed", "RuleSucceeded", "RunRule",
    "StageRetryRequested",
    "StageTransitionChanged", "PipelinePlan", "RunAction", "StagePlan",
    "plan_from_declaration",
]
