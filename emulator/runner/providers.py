"""The providers: one function per (category, provider) that carries out a RunAction and
returns its ActionOutput (None: the job reports its own result through the API) or raises
ActionFailure. ActionRunner (actions.py) gives them the state folder, the definitions, the
Docker client, logging and masking.
"""

from __future__ import annotations

import hashlib
import json
import threading
import zipfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from emulator.definitions.action_types import git_source
from emulator.engine import RunAction
from emulator.engine.events import ActionOutput, ArtifactOutput

from emulator.lambdas.service import FunctionNotFound

from . import build_cache, cloudformation, commands_action, ecs_deploy, pipeline_invoke, s3_deploy, secrets
from .artifact_files import copy_folder
from .build_runs import run_as_action
from .codebuild import BuildJob
from .failures import ActionFailure
from .job_data import action_job_data, lambda_event
from .limits import ArtifactTooLarge, Budget
from .source import SourceError, export_commit, resolve_commit

if TYPE_CHECKING:
    from .actions import ActionRunner


def container_name(action_execution_id: str) -> str:
    return f"pipemu-{action_execution_id}"


def _git_source(runner: ActionRunner, command: RunAction, name: str, branch: str) -> ActionOutput:
    """CodeCommit and CodeStarSourceConnection: the tree of a commit of a local repository."""
    repository = runner.resource("repositories", name, "repository")
    try:
        revision = resolve_commit(Path(repository.path), branch, command.source_revision)
        artifacts = []
        for artifact in command.action.output_artifacts:
            dest = runner.fresh_artifact_dir(command.execution_id, artifact)
            export_commit(Path(repository.path), revision.commit_id, dest, artifact)
            artifacts.append(ArtifactOutput(artifact, runner.artifact_location(command.execution_id, artifact),
                                            revision.commit_id))
    except SourceError as error:
        raise ActionFailure(f"{name}: {error}") from None
    first_line = revision.message.splitlines()[0] if revision.message else ""
    runner.log(command, f"[pipemu] {name}@{revision.branch}: {revision.commit_id} {first_line}")
    variables = {
        "CommitId": revision.commit_id,
        "CommitMessage": revision.message,
        "AuthorDate": revision.author_date,
        "CommitterDate": revision.author_date,
        "BranchName": revision.branch,
        "RepositoryName": name,
    }
    if command.action.provider == "CodeStarSourceConnection":
        variables = {k: v for k, v in variables.items() if k != "RepositoryName"} | {
            "FullRepositoryName": name, "ConnectionArn": dict(command.configuration).get("ConnectionArn", "")}
    return ActionOutput(
        summary=first_line or None,
        external_execution_id=revision.commit_id,
        revision_id=revision.commit_id,
        revision_summary=revision.message,
        revision_created=_epoch(revision.author_date),
        output_variables=tuple(variables.items()),
        artifacts=tuple(artifacts),
    )


def _git(runner: ActionRunner, command: RunAction, cancel: threading.Event) -> ActionOutput:
    """CodeCommit, CodeStarSourceConnection and GitHub (version 1, deprecated by AWS): the
    repository stand-in and branch their configuration names (`git_source`)."""
    repository, branch, _ = git_source(command.action.provider, dict(command.configuration))
    # A pull request's execution takes its source branch, not the configured one (as AWS).
    return _git_source(runner, command, repository, command.source_branch or branch)


def not_emulated(runner: ActionRunner, command: RunAction, cancel: threading.Event) -> ActionOutput:
    """An action type pipemu does not carry out yet (CodeDeploy, Elastic Beanstalk, ...): recorded,
    as `pipemu validate` warned. It succeeds so that the rest of the pipeline runs as on AWS; its
    output artifacts are empty, and its log says so (and what it was asked to do)."""
    action = command.action
    runner.log(command, f"[pipemu] {action.owner}/{action.provider} ({action.category}) actions are not emulated yet: "
                        f"recorded, nothing was {'deployed' if action.category == 'Deploy' else 'run'}")
    for key, value in command.configuration:
        runner.log(command, f"[pipemu]   {key}: {value}")
    for artifact in command.inputs:
        runner.log(command, f"[pipemu]   input artifact {artifact.name}")
    artifacts = []
    for name in action.output_artifacts:
        runner.fresh_artifact_dir(command.execution_id, name).mkdir(parents=True)
        artifacts.append(ArtifactOutput(name, runner.artifact_location(command.execution_id, name)))
        runner.log(command, f"[pipemu]   output artifact {name}: empty")
    for name in action.output_variables:  # declared: later actions may read them, as on AWS
        runner.log(command, f"[pipemu]   output variable {name}: empty")
    return ActionOutput(summary=f"{action.provider} not emulated: recorded", artifacts=tuple(artifacts),
                        output_variables=tuple((name, "") for name in action.output_variables))


def _s3(runner: ActionRunner, command: RunAction, cancel: threading.Event) -> ActionOutput:
    """S3 source: an object key in a local folder standing in for the bucket, either a zip (as
    AWS expects) or a folder; its revision is the content's SHA-256 (S3 gives a version id).
    A folder's links are copied as links, never followed; FIFOs, devices and sockets are left
    out. Either is capped at AWS's size for S3 source artifacts (limits.py)."""
    config = dict(command.configuration)
    where = f"s3://{config['S3Bucket']}/{config['S3ObjectKey']}"
    bucket = runner.resource("buckets", config["S3Bucket"], "bucket")
    source = (Path(bucket.path) / config["S3ObjectKey"]).resolve()
    if not source.is_relative_to(Path(bucket.path).resolve()) or not (source.is_dir() or source.is_file()):
        raise ActionFailure(f"{where}: no such object in {bucket.path}")
    digest = hashlib.sha256()
    artifacts = []
    try:
        for artifact in command.action.output_artifacts:
            dest = runner.fresh_artifact_dir(command.execution_id, artifact)
            budget, digest = Budget(artifact, "S3 source"), hashlib.sha256()
            if source.is_dir():
                for path in copy_folder(source, dest, budget, digest):
                    runner.log(command, f"[pipemu] {where}: {path} is not a file, folder or link: not copied")
            else:
                _unzip(source, dest, budget, digest, where)
            artifacts.append(ArtifactOutput(artifact, runner.artifact_location(command.execution_id, artifact)))
    except ArtifactTooLarge as exc:
        raise ActionFailure(f"{where}: {exc}") from None
    version = digest.hexdigest()
    runner.log(command, f"[pipemu] s3://{config['S3Bucket']}/{config['S3ObjectKey']} version {version[:12]}")
    return ActionOutput(
        summary=config["S3ObjectKey"],
        external_execution_id=version,
        revision_id=version,
        revision_summary=config["S3ObjectKey"],
        output_variables=(("ObjectKey", config["S3ObjectKey"]), ("VersionId", version), ("ETag", version[:32])),
        artifacts=tuple(ArtifactOutput(a.name, a.location, version) for a in artifacts),
    )


def _unzip(source: Path, dest: Path, budget: Budget, digest, where: str) -> None:
    """Extract the zip `source` into `dest`; its digest is read in chunks (a 2 GB object never
    sits in memory), its declared sizes are counted before anything is written (zipfile writes no
    more of a member than its header declares)."""
    with open(source, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    try:
        with zipfile.ZipFile(source) as archive:
            for info in archive.infolist():
                budget.take(info.file_size)
            archive.extractall(dest)
    except zipfile.BadZipFile:
        raise ActionFailure(f"{where} is not a zip") from None


def _codebuild(runner: ActionRunner, command: RunAction, cancel: threading.Event) -> ActionOutput:
    config = dict(command.configuration)
    name = config["ProjectName"]
    project = runner.resource("projects", name, "CodeBuild project")
    inputs = {a.name: runner.state_dir / a.location for a in command.inputs}
    primary = config.get("PrimarySource") or (command.action.input_artifacts[0] if command.inputs else None)
    env = runner.aws_environment()
    # Project variables, then the action's (which win, as CodeBuild's environmentVariablesOverride).
    # A SECRETS_MANAGER or PARAMETER_STORE variable's value is the secret's id or the parameter's
    # name: its value is read from the stand-in now, and only this container gets it.
    found: dict[str, secrets.Reference] = {}
    layers = [(project.model_dump()["environmentVariables"], f"project {name} environmentVariables")]
    if "EnvironmentVariables" in config:
        try:
            action_variables = json.loads(config["EnvironmentVariables"])
            layers.append(([{"type": "PLAINTEXT", **v} for v in action_variables], "action EnvironmentVariables"))
        except (ValueError, KeyError, TypeError) as exc:
            raise ActionFailure(f"EnvironmentVariables is not a JSON list of name/value: {exc}") from None
    for variables, where in layers:
        try:
            for variable in variables:
                env.pop(variable["name"], None)
                found.pop(variable["name"], None)
                if variable["type"] in secrets.TYPES:
                    found.update({r.variable: r for r in secrets.references([variable], where)})
                else:
                    env[variable["name"]] = variable["value"]
        except (KeyError, TypeError) as exc:
            raise ActionFailure(f"EnvironmentVariables is not a JSON list of name/value: {exc}") from None
    try:
        resolved = secrets.resolve(list(found.values()), runner.definitions())
    except secrets.SecretError as error:
        raise ActionFailure(str(error)) from None
    env.update(resolved.environment)
    masked = list(resolved.masked)
    outputs = [(a, runner.fresh_artifact_dir(command.execution_id, a)) for a in command.action.output_artifacts]
    revision = next((a.revision for a in command.inputs if a.name == primary), None)
    if revision:
        env.setdefault("CODEBUILD_RESOLVED_SOURCE_VERSION", revision)
        env.setdefault("CODEBUILD_SOURCE_VERSION", revision)
    runner.mask(command, env)
    runner.mask_values(command, masked)

    def buildspec_secrets(spec) -> dict[str, str]:
        for variable in spec.exported_variables:
            if variable in found:  # the buildspec refuses its own secrets when it is parsed
                raise secrets.SecretError(
                    f"CLIENT_ERROR: env.exported-variables: {variable} is a {found[variable].type} variable "
                    f"({found[variable].where}) and cannot be exported: secret variables are never exported")
        refs = [secrets.Reference(variable, kind, reference, f"buildspec env.{section}")
                for kind, section, entries in ((secrets.SECRETS_MANAGER, "secrets-manager", spec.secrets_manager),
                                               (secrets.PARAMETER_STORE, "parameter-store", spec.parameter_store))
                for variable, reference in entries.items() if variable not in env]  # project/action win
        more = secrets.resolve(refs, runner.definitions())
        masked.extend(more.masked)
        runner.mask_values(command, more.masked)
        return more.environment

    build_id = f"{name}:{command.action_execution_id}"
    job = BuildJob(
        name=container_name(command.action_execution_id),
        image=project.image,
        buildspec=project.buildspec,
        primary_input=inputs.get(primary) if primary else None,
        secondary_inputs={k: v for k, v in inputs.items() if k != primary},
        outputs=outputs,
        env=env,
        labels=runner.labels(command),
        timeout_seconds=float(command.action.timeout_in_minutes or 60) * 60,
        privileged=project.privilegedMode,
        network=runner.network_for(command.stage, project.network),
        secrets=buildspec_secrets,
        cache_volume=(build_cache.volume_name(runner.daemon_id, name)
                      if project.cache is not None and project.cache.keeps_paths else None),
    )
    return run_as_action(runner, command, job, cancel, build_id, masked, revision, project.network)


def _lambda(runner: ActionRunner, command: RunAction, cancel: threading.Event) -> ActionOutput | None:
    """Invoke the function with the event AWS sends; the function ends the job itself with
    PutJobSuccessResult/PutJobFailureResult through the daemon's API (nothing is reported here
    unless the invocation fails: an exception, a crash, its timeout). The function may be a
    `functions:` stand-in or one a CloudFormation deploy made."""
    config = dict(command.configuration)
    name = config["FunctionName"]
    try:
        function = runner.lambdas.find(name)
    except FunctionNotFound:
        runner.resource("functions", name, "function")  # fails, saying where a stand-in goes
        raise
    data = action_job_data(command, runner.region)
    runner.mask(command, {**runner.aws_environment(), **function.environment})
    result = runner.lambdas.invoke(
        function, lambda_event(command.job_id, data), log_line=lambda line: runner.log(command, line),
        request_id=command.job_id, container=container_name(command.job_id), labels=runner.labels(command),
        network=runner.network_for(command.stage), cancel=cancel, keep_container=True,
    )
    if not result.succeeded:
        raise ActionFailure(f"{name}: {result.error_type}: {result.error_message}")
    return None


def _commands(runner: ActionRunner, command: RunAction, cancel: threading.Event) -> ActionOutput:
    """V2's Commands action: its commands run as a build (commands_action.py)."""
    return commands_action.run(runner, command, cancel, container_name(command.action_execution_id))


def _epoch(iso: str) -> float | None:
    try:
        return datetime.fromisoformat(iso).timestamp()
    except (TypeError, ValueError):
        return None


PROVIDERS: dict[tuple[str, str], Callable[[ActionRunner, RunAction, threading.Event], ActionOutput]] = {
    ("Source", "CodeCommit"): _git,
    ("Source", "CodeStarSourceConnection"): _git,
    ("Source", "GitHub"): _git,
    ("Source", "S3"): _s3,
    ("Build", "CodeBuild"): _codebuild,
    ("Test", "CodeBuild"): _codebuild,
    ("Deploy", "CloudFormation"): cloudformation.deploy,
    ("Invoke", "Lambda"): _lambda,
    ("Compute", "Commands"): _commands,
    ("Deploy", "S3"): s3_deploy.deploy,
    ("Deploy", "ECS"): ecs_deploy.deploy,
    ("Invoke", "CodePipeline"): pipeline_invoke.invoke,
}

