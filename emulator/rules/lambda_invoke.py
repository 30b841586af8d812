"""LambdaInvoke: the function is invoked with a CodePipeline job, as a Lambda action is (the
job's id is the rule execution's id, its action type the rule's), and ends the rule itself with
PutJobSuccessResult or PutJobFailureResult: AWS's rule reference gives the function no other
way to answer. An invocation that fails (an exception, a crash, its timeout) fails the rule.
"""

from __future__ import annotations

import threading
from typing import Callable

from emulator.engine.commands import RunRule
from emulator.lambdas.service import FunctionNotFound
from emulator.runner import simulate
from emulator.runner.failures import ActionFailure
from emulator.runner.job_data import job_data, lambda_event
from emulator.runner.providers import container_name

from . import Verdict, failed, passed
from .container_rules import as_action


def job(region: str, command: RunRule) -> dict:
    """The job data a LambdaInvoke rule's function receives (and GetJobDetails answers)."""
    return job_data(
        region=region, pipeline=command.pipeline, execution_id=command.execution_id, stage=command.stage,
        action=command.rule.name, action_execution_id=command.rule_execution_id,
        # As the action the rule's function runs as: the model's job shape knows no Rule category.
        action_type={"category": "Invoke", "owner": "AWS", "provider": "Lambda", "version": "1"},
        configuration=dict(command.configuration), inputs=[(a.name, a.location) for a in command.inputs],
        outputs=[], execution_outputs_prefix=f"artifacts/{command.execution_id}", continuation_token=None,
    )


def start(runner, command: RunRule, cancel: threading.Event, log: Callable[[str], None]) -> Verdict | None:
    name = dict(command.configuration).get("FunctionName", "")
    action = as_action(command, "Invoke", "Lambda")
    spec = simulate.spec_for(runner, action)  # the function's own only
    if spec is not None:
        return _simulated(runner, command, action, cancel, spec)
    try:
        function = runner.lambdas.find(name)
    except FunctionNotFound:
        return failed(f"Function {name} does not exist: declare its stand-in under functions: in a file of the "
                      "pipelines folder", "ConfigurationError")
    result = runner.lambdas.invoke(
        function, lambda_event(command.rule_execution_id, job(runner.region, command)), log_line=log,
        request_id=command.rule_execution_id, container=container_name(command.rule_execution_id),
        labels=runner.labels(action), network=runner.network_for(command.stage),
        cancel=cancel, keep_container=True)
    if not result.succeeded:
        return failed(f"{name}: {result.error_type}: {result.error_message}")
    return None  # the function reports through PutJobSuccessResult / PutJobFailureResult


def _simulated(runner, command: RunRule, action, cancel: threading.Event, spec) -> Verdict | None:
    """The function's `simulate:` as its Lambda action would honour it: the declared outcome, or its
    handler run in-process with this rule's job (it then answers through PutJob*Result, as ever)."""
    try:
        if spec.inProcess:
            simulate.in_process(runner, action, cancel, spec, job=(command.rule_execution_id,
                                                                   job(runner.region, command)))
            return None
        output = simulate.run(runner, action, cancel, spec)
    except ActionFailure as failure:
        return failed(runner.masked(action, str(failure)), external_execution_id=failure.external_id)
    return passed(output.summary, external_execution_id=output.external_execution_id)
