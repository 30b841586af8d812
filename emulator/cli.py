"""`pipemu`: the daemon (`serve`) and the commands that talk to it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from emulator.cli_alarms import register as register_alarms
from emulator.cli_pr import register as register_pr
from emulator.cli_cfn import register as register_cloudformation
from emulator.cli_debug import register as register_debugging
from emulator.cli_events import register as register_events


@click.group()
def main() -> None:
    """pipeline-emulator: an offline twin of AWS CodePipeline."""


@main.command()
@click.option("--pipelines", "pipelines_dir", default="./pipelines", show_default=True, type=click.Path(path_type=Path))
@click.option("--state-dir", default="./.pipemu", show_default=True, type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=7788, show_default=True, type=int)
@click.option("--access-key", envvar="PIPEMU_ACCESS_KEY", default=None,
              help="With --secret-key: accept only requests SigV4-signed with these credentials.")
@click.option("--secret-key", envvar="PIPEMU_SECRET_KEY", default=None)
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="Another host name clients use to reach the daemon (besides localhost, IP addresses and the "
                   "name its containers use); PIPEMU_ALLOWED_HOSTS takes a comma-separated list.")
@click.option("--keep-failed", is_flag=True, envvar="PIPEMU_KEEP_FAILED",
              help="Keep every failed build's workspace for `pipemu shell` (a project's keepFailed does it for one).")
@click.option("--simulate", is_flag=True, envvar="PIPEMU_SIMULATE",
              help="Simulate every container action (builds, Commands, CloudFormation/S3/ECS deploys): no Docker, "
                   "Succeeded after a short wait. pipemu's own mode, for testing release logic.")
def serve(pipelines_dir: Path, state_dir: Path, host: str, port: int, access_key: str | None,
          secret_key: str | None, allowed_hosts: tuple[str, ...], keep_failed: bool, simulate: bool) -> None:
    """Run the daemon in the foreground."""
    if keep_failed:
        os.environ["PIPEMU_KEEP_FAILED"] = "1"  # read where the runner is made (daemon/main.py)
    if simulate:
        os.environ["PIPEMU_SIMULATE"] = "1"  # likewise
    from emulator.daemon.lock import StateFolderLocked
    from emulator.daemon.main import serve as run
    from emulator.store.errors import StateFolderUnusable, unusable

    if bool(access_key) != bool(secret_key):
        click.echo("pipemu: --access-key and --secret-key go together", err=True)
        sys.exit(2)
    source = click.get_current_context().get_parameter_source("secret_key")
    if secret_key and source == click.core.ParameterSource.COMMANDLINE:
        click.echo("pipemu: warning: --secret-key on the command line shows in every user's process list; "
                   "prefer PIPEMU_SECRET_KEY", err=True)
    try:
        names = [*allowed_hosts, *os.environ.get("PIPEMU_ALLOWED_HOSTS", "").split(",")]
        run(pipelines_dir, state_dir, host, port, (access_key, secret_key) if access_key else None,
            allowed_hosts=[n for n in names if n.strip()])
    except StateFolderLocked as error:
        click.echo(f"pipemu: {error}", err=True)
        sys.exit(2)
    except StateFolderUnusable as error:  # full disk, read-only, damaged or locked database
        click.echo(f"pipemu: {error}", err=True)
        sys.exit(1)
    except OSError as error:
        if not _in_folder(error.filename, state_dir):
            raise
        click.echo(f"pipemu: {unusable(error, state_dir)}", err=True)
        sys.exit(1)


def _in_folder(filename, folder: Path) -> bool:
    """Whether an OS error is about a file of the state folder (the folder itself included)."""
    if not isinstance(filename, (str, bytes, os.PathLike)):
        return False
    path, folder = Path(os.fsdecode(filename)).absolute(), folder.absolute()
    return path == folder or folder in path.parents


@main.command()
@click.option("--state-dir", default="./.pipemu", show_default=True, type=click.Path(path_type=Path))
@click.option("--caches", is_flag=True, help="Also remove the projects' build caches (Docker volumes).")
def down(state_dir: Path, caches: bool) -> None:
    """Remove what a stopped daemon leaves running on Docker: its deployed services (stacks) and
    its networks (the state folder, with the history, stays; so do the build caches unless
    --caches). Refused while the daemon runs."""
    from emulator.daemon.lock import StateFolderLocked, lock_state_folder

    if not (state_dir / "daemon-id").exists():
        click.echo(f"pipemu: {state_dir} is not a daemon's state folder (no daemon-id): nothing to remove")
        return
    try:
        lock = lock_state_folder(state_dir)
    except StateFolderLocked as error:
        click.echo(f"pipemu: {error}", err=True)
        sys.exit(1)
    try:
        import docker

        from emulator.cli_debug import remove_kept
        from emulator.runner.build_cache import remove_caches
        from emulator.runner.stacks import remove_everything

        client, daemon = docker.from_env(), (state_dir / "daemon-id").read_text().strip()
        containers, networks = remove_everything(client, daemon)
        volumes = remove_caches(client, daemon) if caches else []
        kept = remove_kept(client, daemon)
    except Exception as error:  # no engine, or one that refuses: say why, in one line
        click.echo(f"pipemu: cannot reach the Docker engine: {error}", err=True)
        sys.exit(3)
    finally:
        lock.close()
    for name in containers:
        click.echo(f"removed container {name}")
    for name in networks:
        click.echo(f"removed network {name}")
    for name in volumes:
        click.echo(f"removed build cache {name}")
    for name in kept:
        click.echo(f"removed kept workspace {name}")
    click.echo(f"{len(containers)} container(s), {len(networks)} network(s)"
               + (f", {len(volumes)} build cache(s)" if caches else "") + " removed")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help='Print {"ok": bool, "errors": [...]} instead.')
def validate(paths: tuple[Path, ...], as_json: bool) -> None:
    """Check definition files or folders; print FILE:LINE:COL: field: message for each error,
    and FILE:LINE:COL: warning: field: message for each field accepted but not carried out
    (or a stand-in the pipeline will need when it runs).

    Exit codes: 0 valid (warnings or not), 1 errors found, 2 usage error."""
    from emulator.definitions import validate_paths

    found = validate_paths(list(paths))
    errors = [e for e in found if e.severity == "error"]
    warnings = [e for e in found if e.severity == "warning"]
    if as_json:
        click.echo(json.dumps({"ok": not errors, "errors": [str(e) for e in errors],
                               "warnings": [str(w) for w in warnings]}, indent=2))
        sys.exit(1 if errors else 0)
    for problem in found:
        click.echo(str(problem))
    if errors:
        click.echo(f"{len(errors)} error(s)" + (f", {len(warnings)} warning(s)" if warnings else ""), err=True)
        sys.exit(1)
    click.echo(f"ok, {len(warnings)} warning(s)" if warnings else "ok")


@main.command()
@click.option("--endpoint", default="http://127.0.0.1:7788", show_default=True, help="The daemon's API.")
@click.option("--pipeline", default="my-service-a-pipeline", show_default=True)
@click.option("--repo", default=".pipemu/repos/service-a", show_default=True, type=click.Path(path_type=Path),
              help="The pipeline's source repository, where the demo commits c1..c7.")
def demo(endpoint: str, pipeline: str, repo: Path) -> None:
    """Play the article's scenario (commits c1..c7, approvals, rejections) step by step."""
    from emulator.demo.play import Demo, client_for

    if not (repo / ".git").exists():
        click.echo(f"pipemu: {repo} is not a git repository (run scripts/run-sample.sh first)", err=True)
        sys.exit(2)
    try:
        same = Demo(client_for(endpoint), pipeline, repo).play()
    except RuntimeError as error:  # a step that could not be played: say which, in one line
        click.echo(f"pipemu: {error}", err=True)
        sys.exit(1)
    click.echo("the article's table, reproduced" if same else "some rows differ from the article")
    sys.exit(0 if same else 1)


@main.command()
@click.argument("scenario_file", type=click.Path(path_type=Path))
@click.option("--endpoint", default="http://127.0.0.1:7788", show_default=True, help="The daemon's API.")
@click.option("--pipeline", default=None, help="The pipeline to play it on (default: the file's pipeline:).")
@click.option("--repo", default=None, type=click.Path(path_type=Path),
              help="The pipeline's source repository, where commits are made (default: the file's repo:).")
def play(scenario_file: Path, endpoint: str, pipeline: str | None, repo: Path | None) -> None:
    """Play a scenario file (the article's table format: steps and the expected table after each)
    against the running daemon; stop at the first row that differs, showing both tables.
    Exit codes: 0 every table as expected, 1 a table differs or a step cannot be played, 2 a bad file."""
    from emulator.demo.play import Demo, client_for
    from emulator.demo.scenario import ScenarioError, load

    try:
        story = load(scenario_file)
    except ScenarioError as error:
        click.echo(f"pipemu: {error}", err=True)
        sys.exit(2)
    base = scenario_file.parent
    pipeline = pipeline or story.get("pipeline")
    repo = repo or (base / story["repo"] if story.get("repo") else None)
    if not pipeline or repo is None:
        click.echo("pipemu: say which pipeline and repository to play on (--pipeline/--repo, or pipeline: and "
                   "repo: in the file)", err=True)
        sys.exit(2)
    if not (Path(repo) / ".git").exists():
        click.echo(f"pipemu: {repo} is not a git repository", err=True)
        sys.exit(2)
    try:
        same = Demo(client_for(endpoint), pipeline, Path(repo), story=story).play(stop_at_difference=True)
    except RuntimeError as error:  # a step that could not be played: say which, in one line
        click.echo(f"pipemu: {error}", err=True)
        sys.exit(1)
    except Exception as error:  # the daemon unreachable, or an AWS error: one line, no traceback
        click.echo(f"pipemu: {type(error).__name__}: {error}", err=True)
        sys.exit(3)
    click.echo(f"{scenario_file}: every table as expected" if same else f"{scenario_file}: stopped at the first difference")
    sys.exit(0 if same else 1)


# -- commands that talk to a running daemon (emulator/cli_client.py, emulator/cli_render.py) ------
#
# Every one takes --endpoint (or PIPEMU_ENDPOINT; default http://127.0.0.1:7788) and --json, and
# exits 0 when done, 1 when the thing asked about is in a failed or negative state (said in the
# command's help), 2 on a usage error, 3 when the daemon is not reachable, 4 when the daemon
# answers with an AWS error (printed as `pipemu: <Code>: <message>` on stderr, one line).

EXIT_CODES = ("Exit codes: 0 ok, 1 {negative}, 2 usage error, 3 daemon not reachable, "
              "4 AWS error from the daemon (`pipemu: <Code>: <message>` on stderr).")


class Out:
    """What a client command works with: the daemon, and how to print (human or JSON)."""

    def __init__(self, endpoint: str | None, as_json: bool):
        import os

        from emulator.cli_client import Daemon
        from emulator.cli_render import Paint

        self.daemon = Daemon(endpoint)
        self.json = as_json
        self.tty = sys.stdout.isatty()
        self.paint = Paint(self.tty and not os.environ.get("NO_COLOR"))

    def emit(self, value, human: str | None = None) -> None:
        """`value` as JSON with --json, else the human text (if any)."""
        from emulator.cli_render import to_json

        if self.json:
            click.echo(to_json(value))
        elif human is not None:
            click.echo(human)


def client_command(func):
    """Adds --endpoint and --json; turns CliError into one line on stderr and its exit code."""
    import functools

    @click.option("--endpoint", envvar="PIPEMU_ENDPOINT", default="http://127.0.0.1:7788", show_default=True,
                  help="The daemon's URL (or PIPEMU_ENDPOINT).")
    @click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
    @functools.wraps(func)
    def wrapper(endpoint: str, as_json: bool, **kwargs):
        from emulator.cli_client import CliError

        try:
            return func(Out(endpoint, as_json), **kwargs)
        except CliError as error:
            click.echo(f"pipemu: {error.message}", err=True)
            sys.exit(error.code)

    return wrapper


def _pairs(values: tuple[str, ...], what: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{value!r} is not {what}")
        pairs.append((name, rest))
    return pairs


BY = click.option("--by", type=click.Choice(["commit", "message"]), default="commit", show_default=True,
                  help="Show revisions as 7 characters of the commit id, or the commit message's first words.")


@main.command()
@click.argument("target", metavar="[PIPELINE_OR_PRODUCT]", required=False)
@click.option("--watch", "-w", is_flag=True, help="Redraw whenever the daemon's state moves (Ctrl-C quits).")
@BY
@client_command
def status(out: Out, target: str | None, watch: bool, by: str) -> None:
    """The article's table: a column per stage, each cell the revision in the stage's latest
    execution and its status (◯ in progress, ✓ succeeded, ✗ failed, superseded, stopped...).

    PIPELINE_OR_PRODUCT is a pipeline's name, or a product: `my` shows every `my-*` pipeline;
    without it, all pipelines. A cell also names the rule of a condition that holds the stage or
    failed it (`c4 ◯ held at entry: ReleaseWindow ◯`, `c5 ✗ entry: ReleaseCommit ✗`) and marks a
    ROLLBACK execution (`c1 ✓ rollback`). A `waiting` row shows who waits at each stage's entrance
    (⊘: the transition is disabled); then the disabled transitions, the approvals that wait, the
    held or failed conditions (⏸, ✗) and rollbacks (↶), and the daemon's definition errors
    (`! FILE:LINE:COL: path: message`).

    --json prints {"pipelines": [{"pipelineName", "pipelineVersion", "stages": [{"stageName",
    "latestExecution": {"pipelineExecutionId", "status", "revision", "executionType"?: "ROLLBACK",
    "rollbackTargetPipelineExecutionId"?} | null, "waiting": [{"pipelineExecutionId", "revision"}],
    "transitionEnabled", "disabledReason"?, "pendingApprovals": [{"actionName", "summary"}],
    "conditions": [{"conditionType", "status", "rules": [{"ruleName", "status", "message"?}]}],
    "cell"}]}], "definitionErrors": [...]}; with --watch, one such document per line at each change.

    Exit codes: 0 ok (also on Ctrl-C in --watch), 2 usage error, 3 daemon not reachable (or gone
    while watching), 4 AWS error from the daemon (e.g. PipelineNotFoundException)."""
    from emulator.cli_render import render_status, to_json

    def render() -> str:
        snapshot = out.daemon.status_snapshot(target, by)
        if out.json:  # one document per line while watching
            return json.dumps(snapshot, ensure_ascii=False) if watch else to_json(snapshot)
        return render_status(snapshot["pipelines"], snapshot["definitionErrors"], out.paint)

    if not watch:
        click.echo(render())
        return
    try:
        _watch(out, render)
    except KeyboardInterrupt:
        sys.exit(0)


def _watch(out: Out, render) -> None:
    """Redraw on every change notice from /pipemu/events (coalescing bursts); no polling."""
    import queue
    import threading
    import time

    from emulator.cli_client import CliError

    notices: queue.Queue = queue.Queue()

    def listen() -> None:
        try:
            for changes in out.daemon.events():
                notices.put(changes)
        except CliError as error:
            notices.put(error)

    threading.Thread(target=listen, name="pipemu-events", daemon=True).start()
    shown = None
    while True:
        batch = [notices.get()]
        while not notices.empty():
            batch.append(notices.get_nowait())
        failure = next((n for n in batch if isinstance(n, CliError)), None)
        if failure is not None:
            raise failure
        text = render()
        if text == shown:
            continue
        shown = text
        if out.json:
            click.echo(text)
        elif out.tty:
            footer = out.paint(f"watching {out.daemon.endpoint} · {time.strftime('%H:%M:%S')} · Ctrl-C quits", dim=True)
            click.echo("\x1b[H\x1b[2J" + text + "\n\n" + footer)
        else:
            click.echo(f"--- {time.strftime('%H:%M:%S')}\n{text}")


def _answer(out: Out, pipeline: str, stage: str, action: str | None, summary: str | None, verdict: str) -> None:
    action, token, execution = out.daemon.pending_approval(pipeline, stage, action)
    summary = summary if summary is not None else f"{verdict} with the pipemu CLI"
    answer = out.daemon.call("put_approval_result", pipelineName=pipeline, stageName=stage, actionName=action,
                             result={"summary": summary, "status": verdict}, token=token)
    word = "approved" if verdict == "Approved" else "rejected"
    out.emit({"pipelineName": pipeline, "stageName": stage, "actionName": action, "pipelineExecutionId": execution,
              "status": verdict, "summary": summary, **answer},
             out.paint(f"{word} {pipeline} {stage}.{action} (execution {execution})",
                       fg="green" if verdict == "Approved" else "red"))


def _approval_command(verdict: str):
    verb = "approve" if verdict == "Approved" else "reject"

    @main.command(name=verb)
    @click.argument("pipeline")
    @click.argument("stage")
    @click.argument("action", required=False)
    @click.option("--summary", default=None, help="The reviewer's summary (default: '<verdict> with the pipemu CLI').")
    @client_command
    def command(out: Out, pipeline: str, stage: str, action: str | None, summary: str | None) -> None:
        _answer(out, pipeline, stage, action, summary, verdict)

    command.help = (
        f"{verb.capitalize()} the approval waiting in STAGE of PIPELINE. ACTION defaults to the stage's "
        "only manual approval action; the token is found through GetPipelineState.\n\n"
        '--json prints {"pipelineName", "stageName", "actionName", "pipelineExecutionId", "status", '
        '"summary", "approvedAt"}.\n\n'
        + EXIT_CODES.format(negative="nothing waits for approval there"))
    return command


approve = _approval_command("Approved")
reject = _approval_command("Rejected")


@main.command()
@click.argument("pipeline")
@click.option("--revision", "revisions", multiple=True, metavar="[ACTION=]COMMIT",
              help="Build this commit (the only source action's, or ACTION's). Repeatable.")
@click.option("--variable", "variables", multiple=True, metavar="NAME=VALUE", help="A pipeline variable. Repeatable.")
@client_command
def start(out: Out, pipeline: str, revisions: tuple[str, ...], variables: tuple[str, ...]) -> None:
    """Start an execution of PIPELINE; print its id.

    --json prints AWS's answer {"pipelineExecutionId"}.

    Exit codes: 0 started, 2 usage error, 3 daemon not reachable, 4 AWS error from the daemon."""
    from emulator.cli_client import USAGE, CliError, source_actions

    params: dict = {"name": pipeline}
    if variables:
        params["variables"] = [{"name": n, "value": v} for n, v in _pairs(variables, "NAME=VALUE")]
    if revisions:
        overrides = []
        sources = None
        for value in revisions:
            action, sep, commit = value.rpartition("=")
            if not sep:
                sources = sources if sources is not None else source_actions(out.daemon.declaration(pipeline))
                if len(sources) != 1:
                    raise CliError(f"{pipeline} has {len(sources)} source actions ({', '.join(sources)}): "
                                   "use --revision ACTION=COMMIT", USAGE)
                action = sources[0]
            if not action or not commit:
                raise CliError(f"--revision {value!r}: expected [ACTION=]COMMIT", USAGE)
            overrides.append({"actionName": action, "revisionType": "COMMIT_ID", "revisionValue": commit})
        params["sourceRevisions"] = overrides
    answer = out.daemon.call("start_pipeline_execution", **params)
    out.emit(answer, f"started {pipeline} execution {answer['pipelineExecutionId']}")


@main.command()
@click.argument("pipeline")
@click.argument("execution", required=False)
@click.option("--abandon", is_flag=True, help="Do not wait for running actions: abandon them (containers killed).")
@click.option("--reason", default=None, help="Why (shown as the execution's stopTrigger).")
@client_command
def stop(out: Out, pipeline: str, execution: str | None, abandon: bool, reason: str | None) -> None:
    """Stop an execution of PIPELINE: EXECUTION, or by default the one inside the last busy stage
    (else the newest in progress). Without --abandon it stops once its running actions end.

    --json prints AWS's answer {"pipelineExecutionId"}.

    Exit codes: 0 stopping, 1 nothing runs, 2 usage error, 3 daemon not reachable, 4 AWS error
    from the daemon (e.g. PipelineExecutionNotStoppableException)."""
    from emulator.cli_client import NEGATIVE, CliError

    daemon = out.daemon
    if execution is None:
        state = daemon.state(pipeline)
        busy = [s["latestExecution"]["pipelineExecutionId"] for s in state["stageStates"]
                if (s.get("latestExecution") or {}).get("status") == "InProgress"]
        if busy:
            execution = busy[-1]
        else:
            running = [e["pipelineExecutionId"] for e in daemon.executions(pipeline) if e["status"] == "InProgress"]
            if not running:
                raise CliError(f"nothing runs in {pipeline}", NEGATIVE)
            execution = running[0]
    params = {"pipelineName": pipeline, "pipelineExecutionId": execution, "abandon": abandon}
    if reason is not None:
        params["reason"] = reason
    answer = daemon.call("stop_pipeline_execution", **params)
    verb = "abandoning" if abandon else "stopping"
    out.emit(answer, f"{verb} {pipeline} execution {answer.get('pipelineExecutionId', execution)}")


def _latest_in(out: Out, pipeline: str, stage: str) -> str:
    """The execution a stage's latest run belongs to (CliError NEGATIVE when none ran there)."""
    from emulator.cli_client import NEGATIVE, CliError, stage_of

    latest = stage_of(out.daemon.state(pipeline), stage).get("latestExecution")
    if not latest:
        raise CliError(f"nothing ran in {stage} of {pipeline}", NEGATIVE)
    return latest["pipelineExecutionId"]


@main.command()
@click.argument("pipeline")
@click.argument("stage")
@click.option("--all", "all_actions", is_flag=True, help="Run every action of the stage again (default: the failed ones).")
@click.option("--execution", default=None, help="The execution to retry (default: the stage's latest).")
@client_command
def retry(out: Out, pipeline: str, stage: str, all_actions: bool, execution: str | None) -> None:
    """Retry STAGE of PIPELINE: its failed actions (FAILED_ACTIONS), or all of them with --all.

    --json prints AWS's answer {"pipelineExecutionId"}.

    Exit codes: 0 retrying, 1 nothing ran in the stage, 2 usage error, 3 daemon not reachable,
    4 AWS error from the daemon (e.g. StageNotRetryableException)."""

    execution = execution or _latest_in(out, pipeline, stage)
    mode = "ALL_ACTIONS" if all_actions else "FAILED_ACTIONS"
    answer = out.daemon.call("retry_stage_execution", pipelineName=pipeline, stageName=stage,
                             pipelineExecutionId=execution, retryMode=mode)
    out.emit(answer, f"retrying {stage} of {pipeline} execution {answer['pipelineExecutionId']} ({mode})")


@main.command()
@click.argument("pipeline")
@click.argument("stage")
@click.option("--to", "target", default=None, metavar="EXECUTION",
              help="The execution to roll back to (default: the newest other one that succeeded in STAGE).")
@client_command
def rollback(out: Out, pipeline: str, stage: str, target: str | None) -> None:
    """Roll STAGE of PIPELINE back (RollbackStage): a ROLLBACK execution runs the stage again with
    the source revisions and artifacts of an earlier execution that succeeded there.

    --json prints AWS's answer {"pipelineExecutionId"}.

    Exit codes: 0 rolling back, 1 nothing to roll back to, 2 usage error, 3 daemon not reachable,
    4 AWS error from the daemon (e.g. UnableToRollbackStageException)."""
    from emulator.cli_client import NEGATIVE, CliError, stage_of

    if target is None:
        current = (stage_of(out.daemon.state(pipeline), stage).get("latestExecution") or {}).get("pipelineExecutionId")
        succeeded = out.daemon.pages("list_pipeline_executions", "pipelineExecutionSummaries", limit=100,
                                     pipelineName=pipeline, filter={"succeededInStage": {"stageName": stage}})
        target = next((e["pipelineExecutionId"] for e in succeeded
                       if e["pipelineExecutionId"] != current and e.get("executionType", "STANDARD") == "STANDARD"), None)
        if target is None:
            raise CliError(f"no earlier execution of {pipeline} succeeded in {stage}: nothing to roll back to", NEGATIVE)
    answer = out.daemon.call("rollback_stage", pipelineName=pipeline, stageName=stage, targetPipelineExecutionId=target)
    out.emit(answer, f"rolling {stage} of {pipeline} back to execution {target}: "
                     f"rollback execution {answer['pipelineExecutionId']}")


@main.command()
@click.argument("pipeline")
@click.argument("stage")
@click.option("--on-success", "on_success", is_flag=True,
              help="Override the stage's onSuccess condition (default: its beforeEntry condition).")
@click.option("--execution", default=None, help="The execution the condition holds (default: the stage's latest).")
@client_command
def override(out: Out, pipeline: str, stage: str, on_success: bool, execution: str | None) -> None:
    """Override the condition being judged at STAGE of PIPELINE (OverrideStageCondition): its
    rules stop and the execution goes on as if they had passed.

    Exit codes: 0 overridden, 1 nothing in the stage, 2 usage error, 3 daemon not reachable,
    4 AWS error from the daemon (e.g. ConditionNotOverridableException)."""

    execution = execution or _latest_in(out, pipeline, stage)
    kind = "ON_SUCCESS" if on_success else "BEFORE_ENTRY"
    answer = out.daemon.call("override_stage_condition", pipelineName=pipeline, stageName=stage,
                             pipelineExecutionId=execution, conditionType=kind)
    out.emit(answer, f"overrode the {kind} condition of {stage} for {pipeline} execution {execution}")


@main.command(name="enable-transition")
@click.argument("pipeline")
@click.argument("stage")
@client_command
def enable_transition(out: Out, pipeline: str, stage: str) -> None:
    """Open STAGE's entrance again: the execution waiting there enters.

    --json prints {"pipelineName", "stageName", "transitionType": "Inbound", "enabled": true}.

    Exit codes: 0 done, 2 usage error, 3 daemon not reachable, 4 AWS error from the daemon."""
    out.daemon.call("enable_stage_transition", pipelineName=pipeline, stageName=stage, transitionType="Inbound")
    out.emit({"pipelineName": pipeline, "stageName": stage, "transitionType": "Inbound", "enabled": True},
             f"enabled the transition into {stage} of {pipeline}")


@main.command(name="disable-transition")
@click.argument("pipeline")
@click.argument("stage")
@click.option("--reason", required=True, help="Why (required by AWS; letters, digits, spaces and .,-_ etc.).")
@client_command
def disable_transition(out: Out, pipeline: str, stage: str, reason: str) -> None:
    """Close STAGE's entrance: executions wait there (the newest supersedes the one waiting).

    --json prints {"pipelineName", "stageName", "transitionType": "Inbound", "enabled": false, "reason"}.

    Exit codes: 0 done, 2 usage error, 3 daemon not reachable, 4 AWS error from the daemon."""
    out.daemon.call("disable_stage_transition", pipelineName=pipeline, stageName=stage, transitionType="Inbound",
                    reason=reason)
    out.emit({"pipelineName": pipeline, "stageName": stage, "transitionType": "Inbound", "enabled": False,
              "reason": reason}, f"disabled the transition into {stage} of {pipeline}: {reason}")


@main.command()
@click.argument("pipeline")
@click.option("--limit", "-n", default=20, show_default=True, type=click.IntRange(1, 1000), help="How many, newest first.")
@BY
@client_command
def history(out: Out, pipeline: str, limit: int, by: str) -> None:
    """The executions of PIPELINE, newest first: id, status, trigger, revision, start, duration.

    --json prints AWS's {"pipelineExecutionSummaries": [...]} (up to --limit).

    Exit codes: 0 ok, 2 usage error, 3 daemon not reachable, 4 AWS error from the daemon."""
    from emulator.cli_render import render_history

    summaries = out.daemon.executions(pipeline, limit=limit)
    out.emit({"pipelineExecutionSummaries": summaries}, render_history(summaries, out.paint, by))


@main.command()
@click.argument("pipeline")
@click.option("--execution", default=None, help="The pipeline execution (default: the latest that ran an action).")
@click.option("--stage", default=None, help="Only actions of this stage.")
@click.option("--action", default=None, help="Only this action.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing while the action runs, until it ends.")
@client_command
def logs(out: Out, pipeline: str, execution: str | None, stage: str | None, action: str | None, follow: bool) -> None:
    """Print the log of an action execution of PIPELINE: by default the latest action (approvals
    aside) of the latest execution that ran one; --execution, --stage and --action narrow it.
    With -f, follow a running action's output until it ends.

    A header line (`# PIPELINE STAGE.ACTION ...: STATUS`) goes to stderr, the log to stdout.
    --json prints {"actionExecutionId", "pipelineName", "pipelineExecutionId", "stageName",
    "actionName", "status", "lines": [{"seq", "at", "text"}]} (with -f, once the action ends).

    Exit codes: 0 ok, 1 the action failed (or there is no such action execution), 2 usage error,
    3 daemon not reachable, 4 AWS error from the daemon."""
    from emulator.cli_render import log_header

    detail = out.daemon.pick_action(pipeline, execution, stage, action)
    action_execution_id = detail["actionExecutionId"]
    daemon = out.daemon
    about = daemon.logs(action_execution_id)
    lines = list(about.get("lines", []))
    about["actionExecutionId"] = action_execution_id
    if not out.json:
        click.echo(out.paint(log_header(about), dim=True), err=True)
        for line in lines:
            click.echo(line["text"])
    while follow and about.get("status") == "InProgress":
        after = lines[-1]["seq"] if lines else 0
        about = {**daemon.logs(action_execution_id, after=after, wait=25), "actionExecutionId": action_execution_id}
        fresh = about.get("lines", [])
        lines.extend(fresh)
        if not out.json:
            for line in fresh:
                click.echo(line["text"])
        if about.get("status") != "InProgress":  # lines written just as it ended
            tail = daemon.logs(action_execution_id, after=lines[-1]["seq"] if lines else 0).get("lines", [])
            lines.extend(tail)
            if not out.json:
                for line in tail:
                    click.echo(line["text"])
            if not out.json:
                click.echo(out.paint(f"# {about.get('status')}", dim=True), err=True)
    about["lines"] = lines
    if out.json:
        out.emit(about)
    sys.exit(1 if about.get("status") == "Failed" else 0)


register_cloudformation(main)  # pipemu import / pipemu export (emulator/cli_cfn.py)
register_alarms(main, client_command)  # pipemu alarm set / list (emulator/cli_alarms.py)
register_debugging(main, client_command)  # pipemu shell / rerun (emulator/cli_debug.py)
register_events(main, client_command)  # pipemu events (emulator/cli_events.py)
register_pr(main, client_command)  # pipemu pr open / update / close / list (emulator/cli_pr.py)


if __name__ == "__main__":
    main()
