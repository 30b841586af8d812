"""GitWatcher against real git commands, and the V2 trigger push filters."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from emulator.daemon.git_watch import GitWatcher, changed_files, glob_match, push_matches

ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
       "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=ENV).stdout.strip()


def commit(repo: Path, name: str, text: str = "x\n") -> str:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"change {name}")
    return git(repo, "rev-parse", "HEAD")


def init(path: Path, bare: bool = False) -> Path:
    subprocess.run(["git", "init", "-q", "-b", "main", *(["--bare"] if bare else []), str(path)], check=True, env=ENV)
    return path


class Commits:
    def __init__(self):
        self.calls: list[tuple[str, str, str, str]] = []
        self.changed = threading.Condition()

    def __call__(self, *call):
        with self.changed:
            self.calls.append(call)
            self.changed.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> None:
        # 5 s (was 1): returns at the call; only a machine loaded by parallel test workers waits longer.
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.calls) >= count, timeout), f"calls: {self.calls}"

    def settle(self, seconds: float = 0.4) -> list:
        time.sleep(seconds)
        return self.calls


@pytest.fixture
def commits():
    return Commits()


@pytest.fixture
def watcher(commits):
    watcher = GitWatcher(commits)
    watcher.start()
    yield watcher
    watcher.stop()


@pytest.fixture
def repo(tmp_path):
    repo = init(tmp_path / "repo")
    commit(repo, "first.txt")
    return repo


def test_a_commit_is_reported_once_with_old_and_new_ids(repo, watcher, commits):
    old = git(repo, "rev-parse", "main")
    watcher.watch(repo, ["main"])
    start = time.monotonic()
    new = commit(repo, "second.txt")
    commits.wait_for(1)
    # Seen at once (no polling): the time covers the test's own `git add` and `git commit`
    # processes too, so 3 s (was 1) for a machine loaded by parallel test workers.
    assert time.monotonic() - start < 3.0
    assert commits.settle() == [(str(repo), "refs/heads/main", old, new)]


def test_a_commit_on_an_unwatched_branch_calls_nothing(repo, watcher, commits):
    watcher.watch(repo, ["main"])
    git(repo, "checkout", "-q", "-b", "other")
    commit(repo, "other.txt")
    assert commits.settle(0.5) == []


def test_a_branch_name_with_a_slash(repo, watcher, commits):
    git(repo, "branch", "feature/deep/x")
    base = git(repo, "rev-parse", "feature/deep/x")
    watcher.watch(repo, ["feature/deep/x"])
    git(repo, "checkout", "-q", "feature/deep/x")
    new = commit(repo, "feature.txt")
    commits.wait_for(1)
    assert commits.settle() == [(str(repo), "refs/heads/feature/deep/x", base, new)]


def test_a_new_branch_in_a_new_folder_is_reported_with_no_old_id(repo, watcher, commits):
    watcher.watch(repo, ["release/*"])
    git(repo, "checkout", "-q", "-b", "release/1.0")
    head = git(repo, "rev-parse", "HEAD")
    commits.wait_for(1)
    assert commits.calls[0] == (str(repo), "refs/heads/release/1.0", "", head)
    new = commit(repo, "release.txt")
    commits.wait_for(2)
    assert commits.settle() [1] == (str(repo), "refs/heads/release/1.0", head, new)


def test_gc_packing_refs_is_not_a_change(repo, watcher, commits):
    git(repo, "branch", "feature/x")
    watcher.watch(repo, ["main", "feature/x"])
    git(repo, "gc", "-q")
    assert (git_dir := repo / ".git" / "packed-refs").exists(), git_dir
    assert commits.settle(0.5) == []
    old = git(repo, "rev-parse", "main")
    new = commit(repo, "after-gc.txt")  # a loose ref again, beside the packed one
    commits.wait_for(1)
    assert commits.settle() == [(str(repo), "refs/heads/main", old, new)]


def test_a_push_to_a_bare_repository(tmp_path, watcher, commits):
    bare = init(tmp_path / "bare.git", bare=True)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(bare), str(clone)], check=True, env=ENV, capture_output=True)
    git(clone, "checkout", "-q", "-b", "main")
    first = commit(clone, "first.txt")
    git(clone, "push", "-q", "origin", "main")
    watcher.watch(bare, ["main"])
    second = commit(clone, "second.txt")
    assert commits.settle(0.3) == []  # not pushed yet
    git(clone, "push", "-q", "origin", "main")
    commits.wait_for(1)
    assert commits.settle() == [(str(bare), "refs/heads/main", first, second)]


def test_tags_when_asked(repo, watcher, commits):
    watcher.watch(repo, ["main"], tags=True)
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "tag", "-a", "-m", "v1", "v1.0")
    commits.wait_for(1)
    assert commits.settle() == [(str(repo), "refs/tags/v1.0", "", head)]  # annotated: peeled to the commit


def test_tags_are_ignored_unless_asked(repo, watcher, commits):
    watcher.watch(repo, ["main"])
    git(repo, "tag", "v1.0")
    assert commits.settle(0.5) == []


def test_unwatch_all_stops_reporting(repo, watcher, commits):
    watcher.watch(repo, ["main"])
    watcher.unwatch_all()
    commit(repo, "second.txt")
    assert commits.settle(0.5) == []
    watcher.watch(repo, ["main"])
    commit(repo, "third.txt")
    commits.wait_for(1)


def test_changed_files(repo):
    first = git(repo, "rev-parse", "HEAD")
    commit(repo, "src/app/main.py")
    second = commit(repo, "docs/read me.md")
    assert sorted(changed_files(repo, first, second)) == ["docs/read me.md", "src/app/main.py"]
    assert sorted(changed_files(repo, "", second)) == ["docs/read me.md", "first.txt", "src/app/main.py"]


@pytest.mark.parametrize("pattern, value, expected", [
    ("main", "main", True),
    ("main", "main2", False),
    ("feature/*", "feature/a", True),
    ("feature/*", "feature/a/b", False),
    ("feature/**", "feature/a/b", True),
    ("**/*.py", "app.py", True),
    ("**/*.py", "src/app/x.py", True),
    ("src/**/test_*.py", "src/test_a.py", True),
    ("*.py", "src/app.py", False),
    ("v?.0", "v1.0", True),
    ("v?.0", "v10.0", False),
    ("*.{md,txt}", "a.txt", True),
    ("[!a]*", "abc", False),
    ("[a-c]x", "bx", True),
    ("\\*", "*", True),
    ("\\*", "a", False),
])
def test_glob(pattern, value, expected):
    assert glob_match(pattern, value) is expected


BRANCHES = {"branches": {"includes": ["main", "release/**"], "excludes": ["release/old/**"]}}
TAGS = {"tags": {"includes": ["v*"], "excludes": ["v*-rc*"]}}
PATHS = {"branches": {"includes": ["main"]}, "filePaths": {"includes": ["src/**"], "excludes": ["src/**/*.md"]}}


@pytest.mark.parametrize("filters, ref, files, expected", [
    (BRANCHES, "refs/heads/main", ["a"], True),
    (BRANCHES, "refs/heads/release/1/2", ["a"], True),
    (BRANCHES, "refs/heads/release/old/1", ["a"], False),  # excludes win over includes
    (BRANCHES, "refs/heads/dev", ["a"], False),
    (BRANCHES, "refs/tags/main", ["a"], False),  # a branches filter passes branches only
    (TAGS, "refs/tags/v1.0", [], True),
    (TAGS, "refs/tags/v1.0-rc1", [], False),
    (TAGS, "refs/tags/release", [], False),
    (TAGS, "refs/heads/v1.0", [], False),  # a tags filter passes tags only
    (PATHS, "refs/heads/main", ["src/a/b.py"], True),
    (PATHS, "refs/heads/main", ["README.md", "src/x.py"], True),
    (PATHS, "refs/heads/main", ["README.md"], False),
    (PATHS, "refs/heads/main", ["src/docs/a.md"], False),  # included but excluded
    (PATHS, "refs/heads/main", [], False),
    (PATHS, "refs/heads/dev", ["src/a.py"], False),
    ({"branches": {"excludes": ["wip/*"]}}, "refs/heads/anything", [], True),  # no includes: all
    ({"branches": {"excludes": ["wip/*"]}}, "refs/heads/wip/x", [], False),
    ({"filePaths": {"includes": ["*.py"]}}, "refs/heads/any", ["a.py"], True),
    ({"filePaths": {"includes": ["*.py"]}}, "refs/tags/v1", ["a.py"], False),
    ({}, "refs/notes/x", [], False),
])
def test_push_matches(filters, ref, files, expected):
    assert push_matches(filters, ref, files) is expected


@pytest.mark.parametrize("filters, event, destination, changed, why", [
    ({"events": ["OPEN"], "branches": {"includes": ["main"]}}, "OPEN", "main", None, None),
    ({}, "CLOSED", "anything", None, None),  # no events: all three
    ({"events": ["OPEN", "UPDATED"]}, "CLOSED", "main", None, "event CLOSED is not one of OPEN, UPDATED"),
    ({"branches": {"includes": ["release/**"]}}, "OPEN", "release/2024/q4", None, None),
    ({"branches": {"includes": ["release/*"]}}, "OPEN", "release/2024/q4", None, "destination branch release/2024/q4"),
    ({"branches": {"includes": ["main"], "excludes": ["main"]}}, "OPEN", "main", None, "destination branch main"),
    ({"filePaths": {"includes": ["src/**"], "excludes": ["**/*.md"]}}, "UPDATED", "main", ["src/a.py", "README.md"], None),
    ({"filePaths": {"includes": ["src/**"], "excludes": ["**/*.md"]}}, "UPDATED", "main", ["src/NOTES.md"], "none of the changed files"),
    ({"filePaths": {"includes": ["src/**"]}}, "UPDATED", "main", [], "none of the changed files (none)"),
])
def test_pull_request_filters(filters, event, destination, changed, why):
    from emulator.daemon.git_watch import pull_request_mismatch

    said = pull_request_mismatch(filters, event, destination, changed)
    assert (said is None) if why is None else (said is not None and said.startswith(why)), said
