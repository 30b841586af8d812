"""The CodePipeline invoke action (category Invoke, provider CodePipeline): start another pipeline
of this daemon, with the variables and source revisions its configuration gives.

As AWS (the user guide's "AWS CodePipeline invoke action reference"): PipelineName names the
target; Variables is a JSON list of {name, value} and SourceRevisions one of {actionName,
revisionType, revisionValue}, both as StartPipelineExecution takes them (`#{...}` already
resolved by the engine). The action succeeds once the start is accepted: it does not wait for the
invoked execution, whose id is the action's externalExecutionId and summary.

The start goes through the service, as a StartPipelineExecution call would (the same checks and
errors, the same lock): the daemon gives the runner `start_pipeline` (daemon/main.py). Its
clientRequestToken is the action execution's id, so an invoke carried out again after a daemon
restart does not start the target twice. The invoked execution's trigger is
StartPipelineExecution, with the invoking pipeline's ARN as triggerDetail (AWS shows the
invoking pipeline's role there; there are no roles here).
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Callable

from emulator.engine import RunAction
from emulator.engine.events import ActionOutput

from .failures import ActionFailure
from .job_data import ACCOUNT_ID

if TYPE_CHECKING:
    from .actions import ActionRunner

# (StartPipelineExecution's params) -> its answer; raises an error with `code` and `message`.
PipelineStarter = Callable[[dict], dict]


def _json_list(config: dict, key: str, fields: tuple[str, ...]) -> list[dict]:
    text = config.get(key)
    if text is None or not text.strip():
        return []
    try:
        found = json.loads(text)
    except ValueError as exc:
        raise ActionFailure(f"{key} is not valid JSON: {exc}") from None
    if not isinstance(found, list) or not all(isinstance(item, dict) for item in found):
        raise ActionFailure(f"{key} must be a JSON list of objects with {', '.join(fields)}")
    for item in found:
        missing = [f for f in fields if not isinstance(item.get(f), str)]
        unknown = sorted(set(item) - set(fields))
        if missing or unknown:
            said = (f"lacks {', '.join(missing)}" if missing else "") + \
                   ("; " if missing and unknown else "") + (f"has unknown {', '.join(unknown)}" if unknown else "")
            raise ActionFailure(f"{key}: {json.dumps(item)} {said} (each holds {', '.join(fields)}, as strings)")
    return found


def invoke(runner: ActionRunner, command: RunAction, cancel: threading.Event) -> ActionOutput:
    config = dict(command.configuration)
    target = config["PipelineName"]
    variables = _json_list(config, "Variables", ("name", "value"))
    revisions = _json_list(config, "SourceRevisions", ("actionName", "revisionType", "revisionValue"))
    if runner.start_pipeline is None:  # a runner without a service (unit tests of the runner)
        raise ActionFailure("this runner cannot start pipelines")
    params = {
        "name": target,
        "clientRequestToken": command.action_execution_id,
        "_caller": f"arn:aws:codepipeline:{runner.region}:{ACCOUNT_ID}:{command.pipeline}",
        **({"variables": variables} if variables else {}),
        **({"sourceRevisions": revisions} if revisions else {}),
    }
    try:
        started = runner.start_pipeline(params)["pipelineExecutionId"]
    except Exception as exc:
        code, message = getattr(exc, "code", None), getattr(exc, "message", None)
        if code is None or message is None:
            raise
        raise ActionFailure(f"{code}: {message}") from None
    summary = f"Started pipeline {target} execution {started}"
    runner.log(command, f"[pipemu] {summary}")
    for variable in variables:
        runner.log(command, f"[pipemu]   variable {variable['name']}: {variable['value']}")
    for revision in revisions:
        runner.log(command, f"[pipemu]   source revision of {revision['actionName']}: "
                            f"{revision['revisionType']} {revision['revisionValue']}")
    return ActionOutput(summary=summary, external_execution_id=started)
