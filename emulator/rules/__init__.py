"""The rules of stage conditions, one small unit per rule type (VariableCheck, DeploymentWindow,
CloudWatchAlarm, LambdaInvoke, Commands, CodeBuild), as AWS's rule reference describes them.

The engine starts a rule with a RunRule command and learns its result from a RuleSucceeded or
RuleFailed event, as it does for actions; `judge` carries out one rule and says how it went
(a LambdaInvoke rule answers later, through the job API, as a Lambda action does).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

from emulator.engine.commands import RunRule


@dataclass(frozen=True)
class Verdict:
    """How a rule went: passed, with a summary; or not, with AWS's kind of error and why."""

    passed: bool
    summary: str | None = None
    error_code: str | None = None
    message: str | None = None
    external_execution_id: str | None = None


def passed(summary: str, external_execution_id: str | None = None) -> Verdict:
    return Verdict(True, summary, external_execution_id=external_execution_id)


def failed(message: str, code: str = "RuleFailed", external_execution_id: str | None = None) -> Verdict:
    return Verdict(False, None, code, message, external_execution_id)


def judge(runner, command: RunRule, cancel: threading.Event, log: Callable[[str], None]) -> Verdict | None:
    """Carry out `command`'s rule; None when its result arrives later (a LambdaInvoke rule's job)."""
    from . import cloudwatch_alarm, container_rules, deployment_window, lambda_invoke, variable_check

    kinds = {
        "VariableCheck": lambda: variable_check.judge(dict(command.configuration)),
        "DeploymentWindow": lambda: deployment_window.judge(dict(command.configuration), command.started_at),
        "CloudWatchAlarm": lambda: cloudwatch_alarm.judge(runner.alarms, dict(command.configuration),
                                                          command.started_at, cancel, runner.clock),
        "LambdaInvoke": lambda: lambda_invoke.start(runner, command, cancel, log),
        "Commands": lambda: container_rules.commands(runner, command, cancel, log),
        "CodeBuild": lambda: container_rules.codebuild(runner, command, cancel, log),
    }
    kind = kinds.get(command.rule.provider)
    if kind is None:
        return failed(f"Rule type {command.rule.provider} does not exist (ListRuleTypes lists the six AWS has)",
                      "ConfigurationError")
    return kind()
