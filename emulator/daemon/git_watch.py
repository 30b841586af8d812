"""Commit triggers: notice a new commit on a watched branch of a local git repository at once.

No polling: watchdog's native observer watches the repository's `refs/` folder (recursively, for
branch names with slashes) and `packed-refs`. A commit or a push ends with git renaming
`<ref>.lock` over the ref file, which is one event; then the watched refs are re-read (one
`git for-each-ref`, which sees loose and packed refs alike) and every ref whose commit id changed
is reported once. Re-reading instead of trusting the event also makes `git gc` (loose refs moved
into packed-refs) a non-change. Also: `push_matches` for V2 triggers' `gitConfiguration` push
filters, and `changed_files` to feed its file-path criteria.
"""

from __future__ import annotations

import logging
import re
import subprocess
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler, FileSystemMovedEvent
from watchdog.observers import Observer

log = logging.getLogger("pipemu.git_watch")

OnCommit = Callable[[str, str, str, str], None]  # repository path, ref name, old id or "", new id


def _git(git_dir: Path, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True, text=True).stdout


def git_dir_of(repo_path: Path) -> Path:
    """Where the refs live: `.git` of a work tree, the repository itself when bare, and the
    common directory of a linked work tree."""
    out = subprocess.run(["git", "-C", str(repo_path), "rev-parse", "--git-common-dir"],
                         check=True, capture_output=True, text=True).stdout.strip()
    return (Path(repo_path) / out).resolve()


def changed_files(repo: str | Path, old: str, new: str) -> list[str]:
    """Paths changed between two commits; all files of `new` when there is no `old` (a new branch)."""
    git_dir = git_dir_of(Path(repo))
    if old:
        out = _git(git_dir, "diff", "--name-only", "-z", old, new)
    else:
        out = _git(git_dir, "ls-tree", "-r", "--name-only", "-z", new)
    return [path for path in out.split("\0") if path]


@lru_cache(maxsize=512)
def _glob(pattern: str) -> re.Pattern[str]:
    """AWS's trigger glob syntax: `*` within a path component, `**` across them (`**/` also
    matches no folder at all), `?` one character, `[...]` a set (`[!...]` negated), `{a,b}`
    alternatives, `\\` escapes."""
    out, i, group = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 1
        elif pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 2
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 1
        elif c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and pattern.find("]", i + 2) != -1:
            end = pattern.find("]", i + 2)  # a set holds at least one character: "[]]" is "]"
            body = pattern[i + 1:end].replace("\\", "\\\\").replace("[", "\\[")
            body = "^" + body[1:] if body.startswith("!") else "\\" + body if body.startswith("^") else body
            out.append("[" + body + "]")
            i = end
        elif c == "{" and not group:
            out.append("(?:")
            group = True
        elif c == "," and group:
            out.append("|")
        elif c == "}" and group:
            out.append(")")
            group = False
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def glob_match(pattern: str, value: str) -> bool:
    return _glob(pattern).fullmatch(value) is not None


def _criteria(criteria: dict, value: str) -> bool:
    """GitBranchFilterCriteria and friends: excludes win over includes; no includes means all."""
    if any(glob_match(p, value) for p in criteria.get("excludes") or []):
        return False
    includes = criteria.get("includes")
    return not includes or any(glob_match(p, value) for p in includes)


def push_matches(filters: dict, ref: str, changed_files: list[str]) -> bool:
    """Whether a push of `ref` passes one GitPushFilter (`tags`, `branches`, `filePaths`, each
    `{includes, excludes}`). A tags filter only passes tags; a branches filter only branches;
    `filePaths` (branches only) passes when at least one changed file is included and not
    excluded. A V2 trigger starts the pipeline if any of its push filters passes."""
    tags, branches, paths = filters.get("tags"), filters.get("branches"), filters.get("filePaths")
    if ref.startswith("refs/tags/"):
        return tags is not None and _criteria(tags, ref[len("refs/tags/"):])
    if not ref.startswith("refs/heads/"):
        return False
    if branches is None:
        if tags is not None:
            return False
    elif not _criteria(branches, ref[len("refs/heads/"):]):
        return False
    return paths is None or any(_criteria(paths, path) for path in changed_files)


def pull_request_mismatch(filters: dict, event: str, destination: str, changed: list[str] | None) -> str | None:
    """Why a pull-request event does not pass one GitPullRequestFilter, or None when it passes:
    `events` (all three when absent), `branches` matched against the destination branch (the
    branch the pull request goes into), `filePaths` against the files the pull request changes
    (at least one included and not excluded). `changed` may be None when no filter asks."""
    events = filters.get("events") or ["OPEN", "UPDATED", "CLOSED"]
    if event not in events:
        return f"event {event} is not one of {', '.join(events)}"
    branches, paths = filters.get("branches"), filters.get("filePaths")
    if branches is not None and not _criteria(branches, destination):
        return f"destination branch {destination} does not pass branches {_said(branches)}"
    if paths is not None and not any(_criteria(paths, path) for path in changed or ()):
        return f"none of the changed files ({', '.join((changed or [])[:5]) or 'none'}) passes filePaths {_said(paths)}"
    return None


def _said(criteria: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in criteria.items() if v)


@dataclass
class _Repo:
    path: Path
    git_dir: Path
    branches: set[str] = field(default_factory=set)  # names or glob patterns
    tags: bool = False
    ids: dict[str, str] = field(default_factory=dict)  # watched ref -> commit id
    timer: threading.Timer | None = None

    def watched(self, ref: str) -> bool:
        if ref.startswith("refs/tags/"):
            return self.tags
        name = ref[len("refs/heads/"):]
        return any(name == pattern or glob_match(pattern, name) for pattern in self.branches)

    def read(self) -> dict[str, str]:
        """The watched refs' commit ids (annotated tags peeled to their commit)."""
        out = _git(self.git_dir, "for-each-ref", "--format=%(refname)%00%(objectname)%00%(*objectname)",
                   "refs/heads", "refs/tags")
        ids = {}
        for line in out.splitlines():
            ref, objectname, peeled = line.split("\0")
            if self.watched(ref):
                ids[ref] = peeled or objectname
        return ids


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: "GitWatcher", repo: _Repo):
        self.watcher, self.repo = watcher, repo

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type in ("opened", "closed_no_write"):
            return
        paths = [event.src_path]
        if isinstance(event, FileSystemMovedEvent):
            paths.append(event.dest_path)  # `<ref>.lock` renamed over `<ref>`
        for path in paths:
            relative = Path(str(path)).relative_to(self.repo.git_dir).as_posix()
            if relative == "packed-refs" or (relative.startswith("refs/") and not relative.endswith(".lock")):
                self.watcher._touched(self.repo)
                return


class GitWatcher:
    """Calls `on_commit(repository path, ref, old id or "", new id)` from its own thread when a
    watched branch (or, with tags=True, any tag) of a watched repository points to a new commit.
    Branch deletions are not reported. Calls never overlap."""

    def __init__(self, on_commit: OnCommit, debounce: float = 0.1):
        self.on_commit = on_commit
        self.debounce = debounce
        self._lock = threading.Lock()
        self._calling = threading.Lock()
        self._repos: dict[Path, _Repo] = {}
        self._observer = Observer()
        self._observer.daemon = True
        self._stopped = False

    def watch(self, repo_path: Path, branches: list[str], tags: bool = False) -> None:
        """Watch `branches` (names, or glob patterns such as `release/*`) of a repository; the
        commits they point to now are the baseline. Watching a repository again adds to it."""
        git_dir = git_dir_of(Path(repo_path))
        with self._lock:
            repo = self._repos.get(git_dir)
            if repo is None:
                repo = self._repos[git_dir] = _Repo(Path(repo_path), git_dir)
                handler = _Handler(self, repo)
                (git_dir / "refs").mkdir(exist_ok=True)
                self._observer.schedule(handler, str(git_dir), recursive=False)  # packed-refs
                self._observer.schedule(handler, str(git_dir / "refs"), recursive=True)
            repo.branches.update(branches)
            repo.tags = repo.tags or tags
            current = repo.read()
            # Refs already watched keep their baseline, so that a pending change is not swallowed.
            repo.ids = {ref: repo.ids.get(ref, commit) for ref, commit in current.items()}

    def unwatch_all(self) -> None:
        with self._lock:
            for repo in self._repos.values():
                if repo.timer is not None:
                    repo.timer.cancel()
            self._repos.clear()
            self._observer.unschedule_all()

    def start(self) -> None:
        self._observer.start()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        self.unwatch_all()
        self._observer.stop()
        self._observer.join(timeout=5)

    def _touched(self, repo: _Repo) -> None:
        # git writes several files per commit (lock, rename, reflog): one call per burst.
        with self._lock:
            if self._stopped or self._repos.get(repo.git_dir) is not repo:
                return
            if repo.timer is not None:
                repo.timer.cancel()
            repo.timer = threading.Timer(self.debounce, self._check, args=(repo,))
            repo.timer.daemon = True
            repo.timer.start()

    def _check(self, repo: _Repo) -> None:
        with self._calling:
            try:
                current = repo.read()
            except (subprocess.CalledProcessError, OSError) as exc:  # e.g. the repository was removed
                log.warning("reading the refs of %s failed: %s", repo.path, exc)
                return
            with self._lock:
                if self._stopped or self._repos.get(repo.git_dir) is not repo:
                    return
                changes = [(ref, repo.ids.get(ref, ""), commit) for ref, commit in sorted(current.items())
                           if repo.ids.get(ref) != commit]
                repo.ids = current
            for ref, old, new in changes:
                try:
                    self.on_commit(str(repo.path), ref, old, new)
                except Exception:  # one failing trigger must not stop the watcher
                    log.exception("commit trigger for %s %s failed", repo.path, ref)
