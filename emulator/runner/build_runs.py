"""Running a build job as an action and reading its result: shared by the CodeBuild action and
the Commands action (and the rules that run as them)."""

from __future__ import annotations

import dataclasses
import threading

from emulator.engine import RunAction
from emulator.engine.events import ActionOutput, ArtifactOutput

from . import secrets
from .codebuild import BuildJob, run_build
from .failures import ActionFailure


def run_as_action(runner, command: RunAction, job: BuildJob, cancel: threading.Event, build_id: str,
                  masked: list[str], revision: str | None, network: str | None) -> ActionOutput:
    """Run `job`, its log kept as the action's; its exported variables (never a secret's value)
    and output artifacts as the action's output, or ActionFailure saying why not."""
    result = run_build(runner.client(), job, lambda line: runner.log(command, line), cancel, keep_container=True)
    if job.network and not result.succeeded and "network" in result.message and "not found" in result.message:
        # Seen once with Docker 20.10: a network made a moment before was "not found" at start.
        runner.log(command, "[pipemu] the stage's network was not found at start; making it again, once")
        job = dataclasses.replace(job, network=runner.network(network or command.stage))
        result = run_build(runner.client(), job, lambda line: runner.log(command, line), cancel, keep_container=True)
    if not result.succeeded:
        raise ActionFailure(result.message, external_id=build_id)
    for variable, value in result.exported_variables.items():
        if secrets.contains_secret(value, masked):  # named, never shown: the state keeps outputs
            raise ActionFailure(f"CLIENT_ERROR: exported variable {variable} holds a secret's value: secret values "
                                "are never exported", external_id=build_id)
    return ActionOutput(
        summary=f"Build {build_id} succeeded",
        external_execution_id=build_id,
        output_variables=tuple(result.exported_variables.items()),
        artifacts=tuple(ArtifactOutput(n, runner.artifact_location(command.execution_id, n), revision)
                        for n, _ in job.outputs),
    )
