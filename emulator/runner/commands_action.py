"""The V2 Commands action (category Compute, provider Commands), as the CodePipeline user guide's
"Commands action reference" describes it: the action's `commands` run in order in one shell of a
CodeBuild-like container, its input artifacts laid out as a CodeBuild action's (the first in the
working directory, the others at CODEBUILD_SRC_DIR_<name>), its output artifact made of the files
its `files` globs select, its `outputVariables` exported as the action's output variables.

It is carried out as a CodeBuild build (codebuild.run_build) of a buildspec made from those
fields, so its logs, failures (the first failing command is named, COMMAND_EXECUTION_ERROR),
timeouts, re-attaching after a restart and artifact limits are a build's.

The image: AWS runs the commands on its managed CodeBuild image (Amazon Linux with bash, python,
the AWS CLI, git, curl). No registry is reachable where pipemu is built, so the default here is
the closest image made offline: the Lambda runtime's Debian bookworm image `pipemu/lambda-python3`
(bash, coreutils, Python 3.11 with boto3), built once if missing. The daemon's environment
variable PIPEMU_COMMANDS_IMAGE names another image (AWS's own, when it is here): its commands then
run in `sh`, as any POSIX image has one.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from emulator.engine import RunAction
from emulator.engine.events import ActionOutput

from . import secrets
from .build_runs import run_as_action
from .codebuild import BuildJob
from .failures import ActionFailure
from .images import image_exists
from .lambda_images import PYTHON_TAG, ensure_runtime_image

if TYPE_CHECKING:
    from .actions import ActionRunner

DEFAULT_IMAGE = PYTHON_TAG
IMAGE_VARIABLE = "PIPEMU_COMMANDS_IMAGE"
TIMEOUT_MINUTES = 55  # AWS: "The timeout for builds with the Commands action is 55 minutes"
# AWS's defaults when the configuration names none, and what each compute type is in CodeBuild
# (memory in MB, vCPUs); the vCPUs are capped at what the Docker engine has.
DEFAULT_ENVIRONMENT_TYPE, DEFAULT_COMPUTE_TYPE = "LINUX_CONTAINER", "BUILD_GENERAL1_SMALL"
ENVIRONMENT_TYPES = ("LINUX_CONTAINER", "WINDOWS_SERVER_2022_CONTAINER")
COMPUTE_TYPES = {"BUILD_GENERAL1_SMALL": (3072, 2), "BUILD_GENERAL1_MEDIUM": (7168, 4),
                 "BUILD_GENERAL1_LARGE": (15360, 8)}


def _compute(config: dict[str, str]) -> tuple[int, int]:
    """(memory MB, vCPUs) of the configuration's EnvironmentType and ComputeType. AWS fails an
    incompatible combination when the action runs, not when the pipeline is saved: so here."""
    environment = config.get("EnvironmentType", DEFAULT_ENVIRONMENT_TYPE)
    if environment not in ENVIRONMENT_TYPES:
        raise ActionFailure(f"EnvironmentType {environment} is not one of {', '.join(ENVIRONMENT_TYPES)}")
    if environment != "LINUX_CONTAINER":
        raise ActionFailure(f"EnvironmentType {environment}: pipemu runs Linux containers only (LINUX_CONTAINER)")
    compute = config.get("ComputeType", DEFAULT_COMPUTE_TYPE)
    if compute not in COMPUTE_TYPES:
        raise ActionFailure(f"ComputeType {compute} is not one of {', '.join(COMPUTE_TYPES)}")
    return COMPUTE_TYPES[compute]


def _image(runner: ActionRunner, command: RunAction) -> tuple[str, str]:
    """(image, shell) the commands run in."""
    named = os.environ.get(IMAGE_VARIABLE)
    if named:
        return named, "sh"
    client = runner.client()
    if not image_exists(client, DEFAULT_IMAGE):
        runner.log(command, f"[pipemu] building the Commands image {DEFAULT_IMAGE} (once)")
        try:
            ensure_runtime_image(client, "python3.12", tag=DEFAULT_IMAGE, log=lambda line: runner.log(command, line))
        except (RuntimeError, OSError) as exc:
            raise ActionFailure(f"the Commands image {DEFAULT_IMAGE} could not be built: {exc}") from None
    return DEFAULT_IMAGE, "bash"  # AWS's image runs the commands in bash


def _environment(runner: ActionRunner, command: RunAction) -> tuple[dict[str, str], list[str]]:
    """The container's variables (the daemon's AWS ones, then the action's) and the values its
    log must never show. A SECRETS_MANAGER variable's value names the secret (CodeBuild's syntax
    `secret-id:json-key:version-stage:version-id`), read from its stand-in now."""
    env = runner.aws_environment()
    found = []
    for name, value, kind in command.environment_variables:
        if kind in secrets.TYPES:
            found.append(secrets.Reference(name, kind, value, "action environmentVariables"))
        else:
            env[name] = value
    exported = [r.variable for r in found if r.variable in command.action.output_variables]
    if exported:  # as CodeBuild refuses to export its secret variables
        raise ActionFailure(f"CLIENT_ERROR: outputVariables: {', '.join(exported)} "
                            f"{'is a SECRETS_MANAGER variable' if len(exported) == 1 else 'are SECRETS_MANAGER variables'}"
                            " and cannot be exported: secret variables are never exported")
    try:
        resolved = secrets.resolve(found, runner.definitions())
    except secrets.SecretError as error:
        raise ActionFailure(str(error)) from None
    env.update(resolved.environment)
    return env, list(resolved.masked)


def _buildspec(command: RunAction, shell: str) -> dict:
    action = command.action
    spec: dict = {"version": 0.2, "env": {"shell": shell}, "phases": {"build": {"commands": list(command.commands)}}}
    if action.output_variables:
        spec["env"]["exported-variables"] = list(action.output_variables)
    files = dict(action.output_files)
    for name in action.output_artifacts:  # AWS takes at most one
        if name not in files:
            raise ActionFailure(f"CLIENT_ERROR: output artifact {name} names no files: give the files it takes "
                                "as outputArtifacts[].files (e.g. ['**/*'])")
        spec["artifacts"] = {"files": list(files[name])}
    return spec


def run(runner: ActionRunner, command: RunAction, cancel: threading.Event, container: str) -> ActionOutput:
    """Carry out the Commands action `command` in the container named `container` (a restarted
    daemon re-attaches to it by that name); ActionFailure names what failed."""
    action = command.action
    memory_mb, cpus = _compute(dict(command.configuration))
    env, masked = _environment(runner, command)
    runner.mask(command, env)
    runner.mask_values(command, masked)
    image, shell = _image(runner, command)
    spec = _buildspec(command, shell)
    inputs = {a.name: runner.state_dir / a.location for a in command.inputs}
    primary = action.input_artifacts[0] if action.input_artifacts else None
    revision = next((a.revision for a in command.inputs if a.name == primary), None)
    if revision:
        env.setdefault("CODEBUILD_RESOLVED_SOURCE_VERSION", revision)
        env.setdefault("CODEBUILD_SOURCE_VERSION", revision)
    outputs = [(a, runner.fresh_artifact_dir(command.execution_id, a)) for a in action.output_artifacts]
    build_id = f"{action.name}:{command.action_execution_id}"
    job = BuildJob(
        name=container,
        image=image,
        buildspec=spec,
        primary_input=inputs.get(primary) if primary else None,
        secondary_inputs={k: v for k, v in inputs.items() if k != primary},
        outputs=outputs,
        env=env,
        labels=runner.labels(command),
        timeout_seconds=float(action.timeout_in_minutes or TIMEOUT_MINUTES) * 60,
        memory_mb=memory_mb,
        cpus=float(min(cpus, runner.client().info().get("NCPU") or cpus)),
        network=runner.network_for(command.stage),
    )
    runner.log(command, f"[pipemu] running {len(command.commands)} command(s) in {image}")
    return run_as_action(runner, command, job, cancel, build_id, masked, revision, None)


__all__ = ["COMPUTE_TYPES", "DEFAULT_IMAGE", "IMAGE_VARIABLE", "TIMEOUT_MINUTES", "run"]
