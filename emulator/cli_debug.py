"""Debugging a failed action: `pipemu shell` opens a shell in a failed build's kept workspace
(`pipemu serve --keep-failed`, or a project's `keepFailed: true`: runner/actions.py keeps it as
an image), and `pipemu rerun` runs one failed action again, as AWS's retry of the failed actions
of its stage (RetryStageExecution FAILED_ACTIONS: AWS has no retry of one action alone)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import click

# The same names the runner masks in logs (runner/actions.py SECRET_NAME), and the daemon's key.
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE_KEY|API_KEY|CREDENTIAL", re.IGNORECASE)


def kept_image(action_execution_id: str):
    """The image of the failed build's workspace, or None (docker's client; raises if no engine)."""
    import docker

    found = docker.from_env().images.list(filters={"label": f"pipemu.action-execution={action_execution_id}"})
    return found[0] if found else None


def shown_environment(image) -> list[str]:
    """NAME=value lines of the workspace's environment, secrets' values masked."""
    config = image.attrs.get("Config") or {}
    secret = set(filter(None, (config.get("Labels") or {}).get("pipemu.secret-variables", "").split(",")))
    lines = []
    for item in sorted(config.get("Env") or []):
        name, _, value = item.partition("=")
        lines.append(f"{name}=***" if name in secret or SECRET_NAME.search(name) else item)
    return lines


def remove_kept(client, daemon_id: str) -> list[str]:
    """`pipemu down`: the kept workspaces of a daemon (images); their tags."""
    import docker.errors

    removed = []
    for image in client.images.list(filters={"label": [f"pipemu.daemon={daemon_id}", "pipemu.kept"]}):
        try:
            client.images.remove(image.id, force=True)
            removed.extend(image.tags or [image.short_id])
        except docker.errors.APIError:  # a shell still runs in it, or gone meanwhile
            continue
    return removed


def register(main: click.Group, client_command) -> None:
    @main.command()
    @click.argument("pipeline")
    @click.argument("stage")
    @click.argument("action")
    @click.option("--execution", default=None, help="The pipeline execution (default: the action's latest run).")
    @click.option("--command", "-c", "run", default=None, help="Run this command in the workspace instead of a shell.")
    @click.option("--shell", default="sh", show_default=True, help="The shell to start (bash where the image has it).")
    @client_command
    def shell(out, pipeline: str, stage: str, action: str, execution: str | None, run: str | None, shell: str) -> None:
        """Open a shell in the workspace of ACTION's failed build: its files as the build left
        them (inputs, what the commands made), its environment and working folder. The
        workspace is there when the daemon keeps failed builds (`pipemu serve --keep-failed`, or
        `keepFailed: true` on the project). The shell's container is removed when it exits.

        Exit codes: the shell's own, 1 no workspace kept, 2 usage error, 3 daemon or Docker not
        reachable, 4 AWS error from the daemon."""
        from emulator.cli_client import NEGATIVE, UNREACHABLE, CliError

        detail = out.daemon.pick_action(pipeline, execution, stage, action)
        action_execution_id = detail["actionExecutionId"]
        try:
            image = kept_image(action_execution_id)
        except Exception as error:  # no engine here
            raise CliError(f"cannot reach the Docker engine: {error}", UNREACHABLE) from None
        if image is None:
            raise CliError(f"no workspace was kept for {stage}.{action} of {pipeline} (action execution "
                           f"{action_execution_id}, {detail['status']}): only failed builds are kept, when the daemon "
                           f"runs with --keep-failed or the project says keepFailed: true; then `pipemu rerun "
                           f"{pipeline} {stage} {action}`", NEGATIVE)
        if shutil.which("docker") is None:
            raise CliError("the docker command is needed to open the shell (Debian: apt install docker.io)", UNREACHABLE)
        workdir = (image.attrs.get("Config") or {}).get("WorkingDir") or "/"
        summary = (detail.get("output") or {}).get("executionResult", {}).get("externalExecutionSummary", "")
        click.echo(f"# {pipeline} {stage}.{action}, action execution {action_execution_id} ({detail['status']})"
                   + (f": {summary}" if summary else ""), err=True)
        click.echo(f"# workspace {workdir}; environment:", err=True)
        for line in shown_environment(image):
            click.echo(f"#   {line}", err=True)
        interactive = ["-i"] + (["-t"] if sys.stdin.isatty() and run is None else [])
        done = subprocess.run(["docker", "run", "--rm", *interactive, "--entrypoint", shell, "-w", workdir, image.id,
                               *(["-c", run] if run is not None else [])])
        sys.exit(done.returncode)

    @main.command()
    @click.argument("pipeline")
    @click.argument("stage")
    @click.argument("action")
    @click.option("--execution", default=None, help="The pipeline execution (default: the latest in STAGE).")
    @client_command
    def rerun(out, pipeline: str, stage: str, action: str, execution: str | None) -> None:
        """Run ACTION of STAGE again in the same pipeline execution, without the rest of the
        pipeline: AWS's retry of the stage's failed actions (RetryStageExecution FAILED_ACTIONS),
        allowed where AWS allows it (the execution is the stage's latest, and ACTION failed).
        Other actions of the stage that failed run again too (AWS retries them together); those
        that succeeded do not.

        --json prints AWS's answer {"pipelineExecutionId"}.

        Exit codes: 0 running again, 1 ACTION did not fail, 2 usage error, 3 daemon not reachable,
        4 AWS error from the daemon (StageNotRetryableException, NotLatestPipelineExecutionException)."""
        from emulator.cli_client import NEGATIVE, CliError, stage_of

        if execution is None:
            latest = stage_of(out.daemon.state(pipeline), stage).get("latestExecution") or {}
            execution = latest.get("pipelineExecutionId")
            if execution is None:
                raise CliError(f"nothing ran in {stage} of {pipeline} yet", NEGATIVE)
        runs = out.daemon.pages("list_action_executions", "actionExecutionDetails", pipelineName=pipeline,
                                filter={"pipelineExecutionId": execution})
        mine = [r for r in runs if r["stageName"] == stage and r["actionName"] == action]
        if not mine:
            raise CliError(f"{stage}.{action} did not run in execution {execution} of {pipeline}", NEGATIVE)
        if mine[0]["status"] != "Failed":  # newest first
            raise CliError(f"{stage}.{action} of execution {execution} is {mine[0]['status']}, not Failed: AWS retries "
                           f"failed actions only (`pipemu retry {pipeline} {stage} --all` runs the whole stage again)",
                           NEGATIVE)
        latest: dict[str, str] = {}
        for run in runs:  # newest first: each action's latest status
            if run["stageName"] == stage:
                latest.setdefault(run["actionName"], run["status"])
        also = sorted(name for name, status in latest.items() if status == "Failed" and name != action)
        answer = out.daemon.call("retry_stage_execution", pipelineName=pipeline, stageName=stage,
                                 pipelineExecutionId=execution, retryMode="FAILED_ACTIONS")
        out.emit(answer, f"running {stage}.{action} of {pipeline} execution {execution} again"
                         + (f" (with {', '.join(also)}, which failed too: AWS retries a stage's failed actions together)"
                            if also else ""))
