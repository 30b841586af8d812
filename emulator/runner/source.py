"""CodeCommit source actions from a local git repository: resolve a commit and export its tree.

Uses the git command line, so any repository git reads (bare or not, any object format) works.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from .limits import ArtifactTooLarge, Budget


class SourceError(Exception):
    """The repository, branch or commit cannot be found or read; the message names which."""


@dataclass(frozen=True)
class SourceRevision:
    commit_id: str
    branch: str
    message: str
    author_date: str        # ISO 8601, with the author's offset
    repository_name: str


def _git_env() -> dict[str, str]:
    # Never prompt (the daemon has no terminal) and never read the user's pager or locale.
    env = dict(os.environ)
    env.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C", GIT_PAGER="cat")
    return env


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    # safe.directory=*: a repository owned by another user (the daemon in a container, a
    # mounted folder) is still ours to read.
    return subprocess.run(
        ["git", "-c", "safe.directory=*", "-C", str(repo), *args],
        capture_output=True, text=True, env=_git_env(), check=False,
    )


def _repository_name(repo: Path) -> str:
    name = repo.resolve().name
    return name[:-4] if name.endswith(".git") and len(name) > 4 else name


def _check_repo(repo_path: Path) -> Path:
    repo = Path(repo_path)
    if not repo.is_dir():
        raise SourceError(f"repository path {repo} does not exist")
    proc = _git(repo, "rev-parse", "--git-dir")
    if proc.returncode != 0:
        raise SourceError(f"repository path {repo} is not a git repository: {proc.stderr.strip()}")
    return repo


def _rev(repo: Path, rev: str) -> str | None:
    proc = _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None


def resolve_commit(repo_path: Path, branch: str, commit: str | None = None) -> SourceRevision:
    """The revision a source action would take: the tip of `branch`, or `commit` (full or short)."""
    repo = _check_repo(repo_path)
    if not branch or branch.startswith("-"):
        raise SourceError(f"branch {branch!r} is not a valid branch name")
    tip = _rev(repo, f"refs/heads/{branch}")
    if tip is None:
        raise SourceError(f"branch {branch} not found in repository {repo}")
    if commit is None:
        commit_id = tip
    else:
        # A leading dash would be read as an option: no commit id looks like that.
        if not commit or commit.startswith("-"):
            raise SourceError(f"commit {commit!r} is not a valid commit id")
        found = _rev(repo, commit)
        if found is None:
            raise SourceError(f"commit {commit} not found in repository {repo}")
        commit_id = found
    proc = _git(repo, "show", "-s", "--format=%aI%x00%B", commit_id)
    if proc.returncode != 0:
        raise SourceError(f"cannot read commit {commit_id} in {repo}: {proc.stderr.strip()}")
    author_date, _, message = proc.stdout.partition("\x00")
    return SourceRevision(
        commit_id=commit_id,
        branch=branch,
        message=message.strip(),
        author_date=author_date.strip(),
        repository_name=_repository_name(repo),
    )


def export_commit(repo_path: Path, commit_id: str, dest: Path, artifact: str = "source") -> None:
    """Write the tree of `commit_id` as plain files under `dest` (created if missing), at most
    AWS's size for a repository's source artifact (limits.py; ArtifactTooLarge's words in the
    SourceError past it)."""
    budget = Budget(artifact, "repository source")
    repo = _check_repo(repo_path)
    if not commit_id or commit_id.startswith("-") or _rev(repo, commit_id) is None:
        raise SourceError(f"commit {commit_id} not found in repository {repo}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        ["git", "-c", "safe.directory=*", "-C", str(repo), "archive", "--format=tar", commit_id],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_git_env(),
    )
    try:
        # Streamed: a large tree never sits in memory whole.
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                budget.take(member.size if member.isfile() else 0)  # before its bytes are read
                if hasattr(tarfile, "tar_filter"):
                    # The "tar" filter refuses paths escaping dest yet keeps the repository's
                    # symlinks as links (one to /etc/passwd stays that link; nothing follows it).
                    tar.extract(member, dest, filter="tar")
                else:  # Python before 3.11.4 (Debian bookworm's 3.11.2) has no filters: check ourselves
                    target = (dest / member.name).resolve()
                    if not target.is_relative_to(dest.resolve()) or (member.isdev()):
                        raise tarfile.TarError(f"refusing {member.name!r}: outside the artifact")
                    tar.extract(member, dest)
    except ArtifactTooLarge as exc:
        proc.kill()
        proc.wait()
        proc.stderr.close()
        raise SourceError(str(exc)) from None
    except tarfile.TarError as exc:
        proc.kill()
        code = proc.wait()
        said = proc.stderr.read().decode(errors="replace").strip()
        proc.stderr.close()
        # git's own words first (the archive broke because git stopped), else the archive's.
        reason = said or str(exc) or f"{type(exc).__name__} (git archive exited with status {code})"
        raise SourceError(f"cannot export commit {commit_id} from {repo}: {reason}") from None
    finally:
        proc.stdout.close()
    stderr = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    code = proc.wait()
    if code != 0:
        reason = stderr.strip() or f"git archive exited with status {code}"
        raise SourceError(f"cannot export commit {commit_id} from {repo}: {reason}")


__all__ = ["SourceError", "SourceRevision", "export_commit", "resolve_commit"]
