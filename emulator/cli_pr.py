"""`pipemu pr`: fake pull-request events, in the spirit of act's `-e event.json`: open, update
or close a local pull request of a repository stand-in (`repositories:` in the pipelines folder);
the daemon fires OPEN, UPDATED or CLOSED at every pipeline's pullRequest triggers and starts
those that match (emulator/daemon/pull_requests.py). Signed POST /pipemu/pull-requests."""

from __future__ import annotations

import click


def _report(out, answer: dict) -> None:
    pull = answer["pullRequest"]
    lines = [f"pull request {pull['repository']}#{pull['id']} ({pull['status']}): {pull['source']} -> "
             f"{pull['destination']} at {pull['commits'][-1][:12]}"]
    for started in answer["started"]:
        lines.append(f"  started {started['pipelineName']}: {started['pipelineExecutionId']}")
    for skipped in answer["notMatched"]:
        lines.append(f"  not started {skipped['pipelineName']}: {skipped['reason']}")
    if not answer["started"] and not answer["notMatched"]:
        lines.append("  no pipeline reads this repository")
    out.emit(answer, "\n".join(lines))


def _target(pull_id: str | None, source: str | None) -> dict:
    if (pull_id is None) == (source is None):
        raise click.UsageError("name the pull request by its ID or by --source BRANCH (one of them)")
    return {"id": int(pull_id)} if pull_id is not None else {"source": source}


def register(main: click.Group, client_command) -> None:
    @main.group()
    def pr() -> None:
        """Local pull requests: open, update, close; each fires the pipelines' pullRequest triggers."""

    @pr.command("open")
    @click.argument("repository")
    @click.option("--source", required=True, help="The branch the pull request brings changes from.")
    @click.option("--destination", required=True, help="The branch it goes into (what branches filters match).")
    @click.option("--title", default=None, help="Its title (default: SOURCE into DESTINATION).")
    @client_command
    def open_command(out, repository: str, source: str, destination: str, title: str | None) -> None:
        """Open a pull request in REPOSITORY (its name under repositories:) and fire OPEN.

        Prints the pull request, each pipeline started (and its execution id), and each pipeline
        reading REPOSITORY that did not start, and why. --json prints {"pullRequest", "started",
        "notMatched"}.

        Exit codes: 0 the event was fired (whether or not a pipeline started), 2 usage error,
        3 daemon not reachable, 4 error from the daemon (no such repository, branch or pull request)."""
        _report(out, out.daemon.post("/pipemu/pull-requests", {
            "event": "OPEN", "repository": repository, "source": source, "destination": destination,
            **({"title": title} if title else {})}))

    @pr.command("update")
    @click.argument("repository")
    @click.argument("pull_id", required=False)
    @click.option("--source", default=None, help="Name the open pull request by its source branch instead of its ID.")
    @client_command
    def update_command(out, repository: str, pull_id: str | None, source: str | None) -> None:
        """Fire UPDATED for an open pull request of REPOSITORY, at its source branch's head now
        (commit to the source branch first).

        Exit codes: 0 the event was fired (whether or not a pipeline started), 2 usage error,
        3 daemon not reachable, 4 error from the daemon (no such repository, branch or pull request)."""
        _report(out, out.daemon.post("/pipemu/pull-requests", {
            "event": "UPDATED", "repository": repository, **_target(pull_id, source)}))

    @pr.command("close")
    @click.argument("repository")
    @click.argument("pull_id", required=False)
    @click.option("--source", default=None, help="Name the open pull request by its source branch instead of its ID.")
    @click.option("--merge", is_flag=True, help="Mark it MERGED rather than CLOSED (your branches are not touched).")
    @client_command
    def close_command(out, repository: str, pull_id: str | None, source: str | None, merge: bool) -> None:
        """Close an open pull request of REPOSITORY and fire CLOSED (merged or not, as AWS).

        Exit codes: 0 the event was fired (whether or not a pipeline started), 2 usage error,
        3 daemon not reachable, 4 error from the daemon (no such repository, branch or pull request)."""
        _report(out, out.daemon.post("/pipemu/pull-requests", {
            "event": "CLOSED", "repository": repository, "merge": merge, **_target(pull_id, source)}))

    @pr.command("list")
    @click.argument("repository", required=False)
    @client_command
    def list_command(out, repository: str | None) -> None:
        """The pull requests the daemon keeps (of REPOSITORY, or all)."""
        import urllib.parse

        query = f"?repository={urllib.parse.quote(repository)}" if repository else ""
        pulls = out.daemon.get(f"/pipemu/pull-requests{query}")["pullRequests"]
        out.emit(pulls, "\n".join(f"{p['repository']}#{p['id']} {p['status']:<6} {p['source']} -> {p['destination']}  "
                                  f"{p['title']}" for p in pulls) or "no pull requests")
