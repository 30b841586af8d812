"""Why the engine refused an event. Each error names the AWS exception it becomes on the wire.

The engine raises these before it changes anything, so a refused event leaves state unchanged.
"""

from __future__ import annotations


class EngineError(Exception):
    """An event the engine refuses; `code` is AWS's exception name for it."""

    code = "ValidationException"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _error(code: str) -> type[EngineError]:
    return type(code.removesuffix("Exception"), (EngineError,), {"code": code})


PipelineNotFound = _error("PipelineNotFoundException")
PipelineExecutionNotFound = _error("PipelineExecutionNotFoundException")
StageNotFound = _error("StageNotFoundException")
ActionNotFound = _error("ActionNotFoundException")
InvalidApprovalToken = _error("InvalidApprovalTokenException")
ApprovalAlreadyCompleted = _error("ApprovalAlreadyCompletedException")
InvalidJobState = _error("InvalidJobStateException")
PipelineExecutionNotStoppable = _error("PipelineExecutionNotStoppableException")
DuplicatedStopRequest = _error("DuplicatedStopRequestException")
StageNotRetryable = _error("StageNotRetryableException")
NotLatestPipelineExecution = _error("NotLatestPipelineExecutionException")
JobNotFound = _error("JobNotFoundException")
ConditionNotOverridable = _error("ConditionNotOverridableException")
UnableToRollbackStage = _error("UnableToRollbackStageException")
PipelineExecutionOutdated = _error("PipelineExecutionOutdatedException")
