"""`pipemu`: the daemon (`serve`) and the commands that talk to it."""

from __future__ import annotations

import sys
from pathlib import Path

import click


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
def serve(pipelines_dir: Path, state_dir: Path, host: str, port: int, access_key: str | None,
          secret_key: str | None) -> None:
    """Run the daemon in the foreground."""
    from emulator.daemon.lock import StateFolderLocked
    from emulator.daemon.main import serve as run

    if bool(access_key) != bool(secret_key):
        click.echo("pipemu: --access-key and --secret-key go together", err=True)
        sys.exit(2)
    try:
        run(pipelines_dir, state_dir, host, port, (access_key, secret_key) if access_key else None)
    except StateFolderLocked as error:
        click.echo(f"pipemu: {error}", err=True)
        sys.exit(2)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def validate(paths: tuple[Path, ...]) -> None:
    """Check definition files or folders; print FILE:LINE:COL: field: message for each error."""
    from emulator.definitions import validate_paths

    errors = validate_paths(list(paths))
    for error in errors:
        click.echo(str(error))
    if errors:
        click.echo(f"{len(errors)} error(s)", err=True)
        sys.exit(1)
    click.echo("ok")


@main.command()
@click.option("--endpoint", default="http://127.0.0.1:7788", show_default=True, help="The daemon's API.")
@click.option("--pipeline", default="my-service-a-pipeline", show_default=True)
@click.option("--repo", default=".pipemu/repos/service-a", show_default=True, type=click.Path(path_type=Path),
              help="The pipeline's source repository, where the demo commits c1..c4.")
def demo(endpoint: str, pipeline: str, repo: Path) -> None:
    """Play the article's scenario (commits c1..c4, approvals, rejections) step by step."""
    from emulator.demo.play import Demo, client_for

    if not (repo / ".git").exists():
        click.echo(f"pipemu: {repo} is not a git repository (run scripts/run-sample.sh first)", err=True)
        sys.exit(2)
    same = Demo(client_for(endpoint), pipeline, repo).play()
    click.echo("the article's table, reproduced" if same else "some rows differ from the article")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
