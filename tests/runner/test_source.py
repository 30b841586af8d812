"""CodeCommit-like source from a real local git repository."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from emulator.runner.source import SourceError, export_commit, resolve_commit

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com",
    "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str, **env) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env={**GIT_ENV, **env}).stdout.strip()


@pytest.fixture
def repo(tmp_path) -> Path:
    path = tmp_path / "my-service"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "app.txt").write_text("v1\n")
    (path / "src").mkdir()
    (path / "src" / "main.sh").write_text("echo hi\n")
    os.chmod(path / "src" / "main.sh", 0o755)
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "first commit", GIT_AUTHOR_DATE="2024-05-01T10:00:00+02:00")
    (path / "app.txt").write_text("v2\n")
    (path / "src" / "link").symlink_to("main.sh")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "second commit\n\nwith a body",
        GIT_AUTHOR_DATE="2024-05-02T11:30:00+00:00")
    git(path, "branch", "old", "HEAD~1")
    return path


def test_resolve_tip_of_branch(repo):
    rev = resolve_commit(repo, "main")
    assert rev.commit_id == git(repo, "rev-parse", "main")
    assert len(rev.commit_id) == 40
    assert rev.branch == "main"
    assert rev.message == "second commit\n\nwith a body"
    assert rev.author_date == "2024-05-02T11:30:00+00:00"
    assert rev.repository_name == "my-service"

    old = resolve_commit(repo, "old")
    assert old.message == "first commit" and old.author_date == "2024-05-01T10:00:00+02:00"


def test_resolve_short_commit_id(repo):
    full = git(repo, "rev-parse", "main~1")
    rev = resolve_commit(repo, "main", full[:8])
    assert rev.commit_id == full
    assert rev.message == "first commit"


def test_missing_repository_branch_and_commit(repo, tmp_path):
    with pytest.raises(SourceError, match="repository path .*nowhere.* does not exist"):
        resolve_commit(tmp_path / "nowhere", "main")
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(SourceError, match="not a git repository"):
        resolve_commit(plain, "main")
    with pytest.raises(SourceError, match="branch feature not found"):
        resolve_commit(repo, "feature")
    with pytest.raises(SourceError, match="commit deadbeef not found"):
        resolve_commit(repo, "main", "deadbeef")
    with pytest.raises(SourceError, match="not a valid commit"):
        resolve_commit(repo, "main", "--all")
    with pytest.raises(SourceError, match="commit 0{40} not found"):
        export_commit(repo, "0" * 40, tmp_path / "x")


def test_export_gives_the_tree_of_the_commit(repo, tmp_path):
    tip = resolve_commit(repo, "main").commit_id
    dest = tmp_path / "artifact" / "nested"
    export_commit(repo, tip, dest)
    files = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if not p.is_dir()}
    assert files == {"app.txt", "src/main.sh", "src/link"}
    assert (dest / "app.txt").read_text() == "v2\n"
    assert os.readlink(dest / "src" / "link") == "main.sh"
    assert os.access(dest / "src" / "main.sh", os.X_OK)
    assert not (dest / ".git").exists()

    old_dest = tmp_path / "old"
    export_commit(repo, resolve_commit(repo, "old").commit_id, old_dest)
    assert (old_dest / "app.txt").read_text() == "v1\n"
    assert not (old_dest / "src" / "link").exists()


def test_bare_repository(repo, tmp_path):
    bare = tmp_path / "mirror.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(bare)], check=True, env=GIT_ENV)
    rev = resolve_commit(bare, "main")
    assert rev.repository_name == "mirror"
    export_commit(bare, rev.commit_id, tmp_path / "out")
    assert (tmp_path / "out" / "app.txt").read_text() == "v2\n"


def test_export_without_tarfile_filters(tmp_path, monkeypatch):
    """Debian bookworm's Python 3.11.2 (the daemon's image) predates tarfile's filters."""
    import tarfile

    from emulator.runner.source import export_commit, resolve_commit
    from tests.support.daemon import commit, init_repo

    repo = init_repo(tmp_path / "repo")
    commit(repo, "one", {"a/b.txt": "x"})
    monkeypatch.delattr(tarfile, "tar_filter")
    export_commit(repo, resolve_commit(repo, "main").commit_id, tmp_path / "out")
    assert (tmp_path / "out" / "a" / "b.txt").read_text() == "x"
