"""Local pull requests, and the V2 pullRequest triggers they fire (`pipemu pr open|update|close`).

There is no GitHub here: a pull request is local state the daemon keeps (`pull-requests.json` in
the state folder): its repository (a stand-in of the pipelines folder's `repositories:`), source
and destination branches, title, status (OPEN, CLOSED, MERGED) and the commits it has been at.
Opening one fires OPEN, updating it (its source branch moved) UPDATED, closing it CLOSED (merged
or not: AWS fires CLOSED for both). Each event is held against every pipeline whose trigger
names a source action reading that repository (GitPullRequestFilter: events, destination branch
globs, changed file paths), and every pipeline that passes starts, as AWS starts it: with the
commit at the head of the source branch, the source action reading the source branch (its
BranchName variable is that branch), and trigger WebhookV2.
"""

from __future__ import annotations

import logging
import subprocess
import threading
from pathlib import Path

from emulator.definitions.action_types import git_source
from emulator.runner.source import SourceError, resolve_commit
from emulator.service import ServiceError
from emulator.service.webhooks import read_kept, write_kept

from .git_watch import pull_request_mismatch

log = logging.getLogger(__name__)

EVENTS = ("OPEN", "UPDATED", "CLOSED")


def _refused(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


def changed_between(repo: Path, destination: str, head: str) -> list[str]:
    """The files a pull request changes: from where its source branch left the destination
    (their merge base, as GitHub's "Files changed") to the source head."""
    proc = subprocess.run(["git", "-c", "safe.directory=*", "-C", str(repo), "diff", "--name-only", "-z",
                           f"refs/heads/{destination}...{head}", "--"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise _refused(f"cannot compare {destination} with {head[:12]} in {repo}: {proc.stderr.strip()}")
    return [path for path in proc.stdout.split("\0") if path]


class PullRequests:
    def __init__(self, service, state_dir: Path):
        self.service = service
        self.path = Path(state_dir) / "pull-requests.json"
        self._lock = threading.Lock()
        self._pulls: list[dict] = read_kept(self.path, [])


    def list(self, repository: str | None = None) -> list[dict]:
        with self._lock:
            return [dict(p) for p in self._pulls if repository is None or p["repository"] == repository]

    # -- an event ---------------------------------------------------------------------------

    def event(self, body: dict) -> dict:
        """{"event": OPEN|UPDATED|CLOSED, "repository", "source", "destination", "title" (OPEN),
        "id" or "source" (UPDATED, CLOSED), "merge" (CLOSED)} -> {"pullRequest", "started":
        [{"pipelineName", "pipelineExecutionId"}], "notMatched": [{"pipelineName", "reason"}]}."""
        kind, name = body.get("event"), body.get("repository")
        for key in ("repository", "source", "destination", "title"):
            if body.get(key) is not None and not isinstance(body[key], str):
                raise _refused(f"{key} must be a string")
        if body.get("id") is not None and not (isinstance(body["id"], int) or str(body["id"]).isdigit()):
            raise _refused("id must be a pull request's number")
        if kind not in EVENTS:
            raise _refused(f"event must be one of {', '.join(EVENTS)}, not {kind!r}")
        repositories = getattr(self.service.resources, "repositories", {}) or {}
        repository = repositories.get(name)
        if repository is None:
            raise ServiceError("ResourceNotFoundException",
                               f"no repository {name!r} in the pipelines folder (repositories: {', '.join(sorted(repositories)) or 'none'})")
        path = Path(repository.path)
        with self._lock:
            # Changed on a copy, kept once written (a disk that refuses leaves memory as it was).
            if kind == "OPEN":
                pull = self._open(name, path, body)
                updated = [*self._pulls, pull]
            else:
                found = self._find(name, body)
                if found["status"] != "OPEN":
                    raise _refused(f"pull request {found['id']} of {name} is {found['status']}")
                pull = {**found, "commits": list(found["commits"])}
                head = self._tip(path, pull["source"], pull["commits"][-1] if kind == "CLOSED" else None)
                if head != pull["commits"][-1]:
                    pull["commits"].append(head)
                if kind == "CLOSED":
                    # Marked merged, not merged: pipemu never writes to your repository.
                    pull["status"] = "MERGED" if body.get("merge") else "CLOSED"
                updated = [pull if p is found else p for p in self._pulls]
            write_kept(self.path, updated)
            self._pulls = updated
            pull = dict(pull)
        started, not_matched = self._fire(kind, pull, path)
        return {"pullRequest": pull, "started": started, "notMatched": not_matched}

    def _open(self, name: str, path: Path, body: dict) -> dict:
        source, destination = body.get("source"), body.get("destination")
        if not source or not destination:
            raise _refused("a pull request needs a source branch and a destination branch")
        if source == destination:
            raise _refused(f"the source and destination branches are both {source}")
        self._tip(path, destination)
        head = self._tip(path, source)
        for pull in self._pulls:  # as GitHub: one open pull request per pair of branches
            if (pull["repository"], pull["source"], pull["destination"], pull["status"]) == (name, source, destination, "OPEN"):
                raise _refused(f"pull request #{pull['id']} from {source} into {destination} is open already "
                               f"(pipemu pr update {name} {pull['id']})")
        number = 1 + max((p["id"] for p in self._pulls if p["repository"] == name), default=0)
        pull = {"id": number, "repository": name, "source": source, "destination": destination,
                "title": body.get("title") or f"{source} into {destination}", "status": "OPEN",
                "commits": [head], "created": self.service.now()}
        return pull

    def _find(self, name: str, body: dict) -> dict:
        ident, source = body.get("id"), body.get("source")
        mine = [p for p in self._pulls if p["repository"] == name]
        if ident is not None:
            found = [p for p in mine if str(p["id"]) == str(ident)]
        else:  # by its source branch: the open one
            found = [p for p in mine if p["source"] == source and p["status"] == "OPEN"]
        if not found:
            said = f"#{ident}" if ident is not None else f"open from branch {source}"
            raise ServiceError("ResourceNotFoundException", f"no pull request {said} in {name}")
        return found[-1]

    @staticmethod
    def _tip(path: Path, branch: str, fallback: str | None = None) -> str:
        try:
            return resolve_commit(path, branch).commit_id
        except SourceError as error:
            if fallback is not None:  # closing after the source branch was deleted
                return fallback
            raise _refused(str(error)) from None

    # -- which pipelines it starts ------------------------------------------------------------

    def _fire(self, kind: str, pull: dict, path: Path) -> tuple[list[dict], list[dict]]:
        head, changed = pull["commits"][-1], None
        started, not_matched = [], []
        with self.service.lock:
            plans = {name: p.plan for name, p in sorted(self.service.engine.pipelines.items())}
        for name, plan in plans.items():
            triggers = {(t.get("gitConfiguration") or {}).get("sourceActionName"): t["gitConfiguration"]
                        for t in plan.declaration.get("triggers") or () if t.get("gitConfiguration")}
            for action in plan.stages[0].actions:
                source = git_source(action.provider, action.config)
                if source is None or source[0] != pull["repository"]:
                    continue
                filters = (triggers.get(action.name) or {}).get("pullRequest")
                if not filters:
                    not_matched.append({"pipelineName": name, "reason": f"source action {action.name} has no pullRequest trigger"})
                    continue
                if changed is None and any(f.get("filePaths") for f in filters):
                    changed = changed_between(path, pull["destination"], head)
                reasons = [pull_request_mismatch(f, kind, pull["destination"], changed) for f in filters]
                if all(reasons):
                    not_matched.append({"pipelineName": name, "reason": "; ".join(reasons)})
                    continue
                # AWS records a pull request's start as WebhookV2; the detail says which event.
                detail = (f"pull request {pull['repository']}#{pull['id']} {kind}: {pull['source']} -> "
                          f"{pull['destination']} at {head}")
                try:
                    execution_id = self.service.start_by_trigger(name, "WebhookV2", detail, {action.name: head},
                                                                 {action.name: pull["source"]})
                except ServiceError as error:  # e.g. its file is gone and it is being removed
                    not_matched.append({"pipelineName": name, "reason": f"matched, but not started: {error.message}"})
                    break
                if execution_id is not None:
                    log.info("pull request %s#%s %s: started %s (%s)", pull["repository"], pull["id"], kind, name, execution_id)
                    started.append({"pipelineName": name, "pipelineExecutionId": execution_id})
                break  # one execution per pipeline, whichever of its sources matched
        return started, not_matched
