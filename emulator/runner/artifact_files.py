"""Artifacts are closed: nothing inside one leads the daemon outside it.

An artifact holds what a build or a repository made: anyone who can commit or write a buildspec
controls it, symlinks included. The daemon keeps symlinks as they are (the next container sees
them, inside its own file system) but never follows one out of the artifact on the host: reading
a buildspec, a template, `Fn::GetParam`'s file or a template configuration goes through
`inside`, and writing a build's output goes through `writable`, which refuses a path whose
folder leads elsewhere through a link the same output made.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath


class OutsideArtifact(ValueError):
    """A path that is not a plain file inside its artifact (the message says which and why)."""


def inside(root: Path, relative: str, what: str = "file", folders: bool = False) -> Path:
    """The file `relative` of the artifact folder `root` (or a folder, with `folders`), resolved,
    if it stays inside `root` (links within the artifact are fine); else OutsideArtifact. A
    missing one raises FileNotFoundError."""
    parts = PurePosixPath(relative).parts
    if PurePosixPath(relative).is_absolute() or ".." in parts:
        raise OutsideArtifact(f"{what} {relative}: the path leaves the artifact")
    base = Path(root).resolve()
    path = base.joinpath(*parts)
    if not path.is_symlink() and not path.exists():
        raise FileNotFoundError(relative)
    real = path.resolve()
    if not real.is_relative_to(base):
        raise OutsideArtifact(f"{what} {relative} is a link that leads outside the artifact; it is not read")
    if not real.is_file() and not (folders and real.is_dir()):
        raise FileNotFoundError(relative)
    return real


def writable(root: Path, relative: str) -> Path | None:
    """Where to write `relative` of an artifact being made under `root`: None if its folder
    would be reached through a link that leads outside `root`."""
    base = Path(root).resolve()
    target = base / relative
    if not target.parent.resolve().is_relative_to(base):
        return None
    return target
