"""The rules that run containers: `CodeBuild` (a declared project's build over the rule's input
artifacts) and `Commands` (the rule's commands, as the Commands action runs them). Each runs as
the action of its kind would, under the rule execution's id: the same container naming (a
restarted daemon re-attaches to it), secrets and masking, and its log kept under that id (the
dashboard's log panel and /pipemu/logs show it). In a simulated daemon (`pipemu serve --simulate`)
or for a project that declares `simulate:`, a rule is simulated as its action would be: no
container, the declared outcome as its verdict."""

from __future__ import annotations

import functools
import threading
from typing import Callable

from emulator.engine.commands import RunAction, RunRule
from emulator.engine.plan import ActionPlan
from emulator.runner.failures import ActionFailure

from . import Verdict, failed, passed


def as_action(command: RunRule, category: str, provider: str) -> RunAction:
    """The rule as the action of its kind (no output artifacts: a rule only judges)."""
    rule = command.rule
    plan = ActionPlan(name=rule.name, category=category, owner="AWS", provider=provider, version="1",
                      configuration=command.configuration, input_artifacts=rule.input_artifacts,
                      timeout_in_minutes=rule.timeout_in_minutes, commands=rule.commands)
    return RunAction(pipeline=command.pipeline, execution_id=command.execution_id, stage=command.stage, action=plan,
                     action_execution_id=command.rule_execution_id, configuration=command.configuration,
                     inputs=command.inputs, commands=command.commands or rule.commands)


def _run(runner, action: RunAction, cancel: threading.Event, what: str) -> Verdict:
    from emulator.runner import simulate
    from emulator.runner.providers import PROVIDERS

    provider = PROVIDERS[(action.action.category, action.action.provider)]
    spec = simulate.spec_for(runner, action)
    if spec is not None:
        provider = functools.partial(simulate.run, spec=spec)
    try:
        output = provider(runner, action, cancel)
    except ActionFailure as failure:
        return failed(runner.masked(action, str(failure)), external_execution_id=failure.external_id)
    said = " (simulated by pipemu: no container started)" if spec is not None else ""
    return passed(f"{what} succeeded{said}", external_execution_id=output.external_execution_id if output else None)


def codebuild(runner, command: RunRule, cancel: threading.Event, log: Callable[[str], None]) -> Verdict:
    return _run(runner, as_action(command, "Build", "CodeBuild"), cancel, "The build")


def commands(runner, command: RunRule, cancel: threading.Event, log: Callable[[str], None]) -> Verdict:
    if not command.rule.commands:
        return failed("A Commands rule needs its commands", "ConfigurationError")
    return _run(runner, as_action(command, "Compute", "Commands"), cancel, "The commands")
