"""A fake runner for the engine's unit tests: RunAction commands succeed (or fail) on demand."""

from __future__ import annotations

import itertools

from emulator.engine import (
    ActionFailed,
    ActionSucceeded,
    ApprovalResultSubmitted,
    Engine,
    ExecutionStarted,
    PipelineDeclared,
    RuleFailed,
    RuleSucceeded,
    RunAction,
    RunRule,
    plan_from_declaration,
)
from emulator.engine.events import ActionOutput, ArtifactOutput


def action(name, category="Build", provider="CodeBuild", run_order=1, inputs=(), outputs=(), **extra):
    declared = {
        "name": name,
        "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"},
        "runOrder": run_order,
        "inputArtifacts": [{"name": n} for n in inputs],
        "outputArtifacts": [{"name": n} for n in outputs],
    }
    declared.update(extra)
    return declared


def approval(name="approve", run_order=1, **extra):
    return action(name, "Approval", "Manual", run_order, **extra)


def article_declaration(name="svc-pipeline", mode="SUPERSEDED") -> dict:
    """The article's service pipeline."""
    return {
        "name": name,
        "executionMode": mode,
        "stages": [
            {"name": "Source", "actions": [action("source", "Source", "CodeCommit", outputs=["src"])]},
            {"name": "Building", "actions": [action("build", inputs=["src"], outputs=["bin"])]},
            {"name": "StagingDEV", "actions": [
                action("stage", "Build", inputs=["bin"]),
                action("test", "Test", run_order=2, inputs=["src"]),
                approval(run_order=3),
            ]},
            {"name": "StagingQA", "actions": [action("stage", inputs=["bin"]), approval(run_order=2)]},
            {"name": "StagingPROD", "actions": [action("stage", inputs=["bin"])]},
        ],
    }


class Harness:
    """Drives an Engine the way the service does, with a clock and ids it controls."""

    def __init__(self, declaration: dict, auto_run: bool = True):
        self.engine = Engine()
        self.now = 1_000_000.0
        self._ids = (f"id-{n}" for n in itertools.count(1))
        self.auto_run = auto_run
        self.pending: list[RunAction] = []
        self.commands: list = []
        self.failing: set[tuple[str, str]] = set()  # (stage, action) that fail when run
        self.failing_rules: set[tuple[str, str]] = set()  # (stage, rule) that fail when run
        self.held_rules: set[tuple[str, str]] = set()  # (stage, rule) left running (no result yet)
        self.name = declaration["name"]
        self.log: list = []
        self.send(PipelineDeclared(self.name, 1, plan_from_declaration(declaration)))

    def send(self, event):
        self.now += 1
        drawn = []

        def new_id():
            drawn.append(next(self._ids))
            return drawn[-1]

        commands = self.engine.handle(event, self.now, new_id)
        self.log.append((event, self.now, drawn))  # only accepted events, as the store keeps them
        self.commands.extend(commands)
        self.pending.extend(c for c in commands if isinstance(c, RunAction)
                            or (isinstance(c, RunRule) and (c.stage, c.rule.name) not in self.held_rules))
        if self.auto_run:
            self.run_pending()
        return commands

    def run_pending(self):
        while self.pending:
            self.finish(self.pending.pop(0))

    def finish(self, command, succeed: bool | None = None):
        if isinstance(command, RunRule):
            return self.judge(command, succeed)
        if succeed is None:
            succeed = (command.stage, command.action.name) not in self.failing
        if succeed:
            artifacts = tuple(
                ArtifactOutput(n, f"{command.execution_id}/{n}") for n in command.action.output_artifacts
            )
            revision = command.source_revision or command.execution_id
            output = ActionOutput(
                artifacts=artifacts,
                revision_id=revision if command.action.category == "Source" else None,
                output_variables=(("CommitId", revision),),
            )
            event = ActionSucceeded(self.name, command.execution_id, command.stage,
                                    command.action.name, command.action_execution_id, output)
        else:
            event = ActionFailed(self.name, command.execution_id, command.stage,
                                 command.action.name, command.action_execution_id, "it failed")
        self.pending_remove(command)
        return self.send(event)

    def judge(self, command: RunRule, passed: bool | None = None):
        """The rule's result: it passes unless (stage, rule) is in `failing_rules`."""
        if passed is None:
            passed = (command.stage, command.rule.name) not in self.failing_rules
        self.pending_remove(command)
        if passed:
            return self.send(RuleSucceeded(self.name, command.execution_id, command.stage, command.kind,
                                           command.rule.name, command.rule_execution_id, "passed"))
        return self.send(RuleFailed(self.name, command.execution_id, command.stage, command.kind,
                                    command.rule.name, command.rule_execution_id, "RuleFailed", "it did not pass"))

    def rule_commands(self, stage: str | None = None) -> list[RunRule]:
        return [c for c in self.commands if isinstance(c, RunRule) and (stage is None or c.stage == stage)]

    def pending_remove(self, command):
        if command in self.pending:
            self.pending.remove(command)

    def start(self, execution_id: str, **kwargs):
        return self.send(ExecutionStarted(self.name, execution_id, **kwargs))

    def token(self, execution_id: str, stage: str, action: str = "approve") -> str:
        return self.execution(execution_id).stage_runs[stage].actions[action].token

    def answer(self, execution_id: str, stage: str, status: str, action: str = "approve", summary=""):
        token = self.token(execution_id, stage, action)
        return self.send(ApprovalResultSubmitted(self.name, stage, action, token, status, summary, "tester"))

    @property
    def pipeline(self):
        return self.engine.pipelines[self.name]

    def execution(self, execution_id: str):
        return self.pipeline.executions[execution_id]

    def latest(self, stage: str) -> tuple[str | None, str | None]:
        """(execution id, its status in the stage) of the stage's latest execution."""
        slot = self.pipeline.slots[stage]
        if slot.latest_execution is None:
            return None, None
        return slot.latest_execution, self.execution(slot.latest_execution).stage_runs[stage].status


def replayed(harness: Harness) -> Engine:
    """A fresh engine fed the harness's accepted events with the ids they drew."""
    engine = Engine()
    for event, now, ids in harness.log:
        recorded = iter(ids)
        engine.handle(event, now, lambda: next(recorded))
    return engine
