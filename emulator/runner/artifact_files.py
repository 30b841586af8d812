"""Artifacts are closed: nothing inside one leads the daemon outside it.

An artifact holds what a build or a repository made: anyone who can commit or write a buildspec
controls it, symlinks included. The daemon keeps symlinks as they are (the next container sees
them, inside its own file system) but never follows one out of the artifact on the host: reading
a buildspec, a template, `Fn::GetParam`'s file or a template configuration goes through
`inside`, and writing a build's output goes through `writable`, which refuses a path whose
folder leads elsewhere through a link the same output made. Copies go through `input_member`
(into a container) and `copy_folder` (a bucket folder into an artifact): links stay links.
"""

from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path, PurePosixPath
from typing import Iterator

from .containers import root_owned


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


def new_file(root: Path, relative: str, what: str = "file") -> Path:
    """Where to write the new file `relative` (a name the pipeline's declaration gives, such as
    OutputFileName) of the artifact folder `root`, its folders made: OutsideArtifact if the
    name is absolute, climbs out with `..`, or reaches its folder through a link."""
    parts = PurePosixPath(relative).parts
    if not relative or PurePosixPath(relative).is_absolute() or ".." in parts:
        raise OutsideArtifact(f"{what} {relative!r} must be a path inside the output artifact")
    target = Path(root).resolve().joinpath(*parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    if writable(root, relative) is None or target.is_symlink():
        raise OutsideArtifact(f"{what} {relative!r} leads outside the output artifact through a link")
    return target


def input_member(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """tarfile.add's filter for an artifact copied into a container: members owned by root, links
    kept as links (add never follows one), and nothing but files, folders and links: a FIFO or a
    device node has no place in an artifact (one in a bucket folder is not copied either)."""
    if not (info.isreg() or info.isdir() or info.issym() or info.islnk()):
        return None
    return root_owned(info)


def walk(source: Path) -> Iterator[tuple[PurePosixPath, os.DirEntry, int]]:
    """Every entry under the folder `source` as (its relative path, its DirEntry, its lstat mode),
    each folder before what it holds, names sorted: a fixed order, so a digest over it is stable.
    Links are yielded as links, never followed (a link to a folder is not entered)."""
    todo = [PurePosixPath()]
    while todo:
        rel = todo.pop()
        with os.scandir(source / rel) as listing:
            entries = sorted(listing, key=lambda e: e.name)
        for entry in entries:
            path = rel / entry.name
            mode = entry.stat(follow_symlinks=False).st_mode
            if stat.S_ISDIR(mode):
                todo.append(path)
            yield path, entry, mode


def copy_folder(source: Path, dest: Path, budget, digest) -> list[str]:
    """Copy the folder `source` into `dest` (made if missing): folders, files, and links as the
    links they are (never followed, wherever they lead). A FIFO, a device or a socket is not
    copied (opening one would block or never end): the paths left out are returned. `budget`
    (limits.Budget) counts each file's size before its bytes are read; `digest` (a hashlib
    object) gets each file's path and bytes, and each link's path and target, in a fixed order."""
    skipped: list[str] = []
    dest.mkdir(parents=True, exist_ok=True)
    for path, entry, mode in walk(source):
        if stat.S_ISLNK(mode):
            target = os.readlink(entry.path)
            os.symlink(target, dest / path)
            digest.update(f"{path}\0{target}\0".encode())
        elif stat.S_ISDIR(mode):
            (dest / path).mkdir(exist_ok=True)
        elif stat.S_ISREG(mode):
            _copy_file(entry.path, dest / path, str(path), budget, digest, skipped)
        else:
            skipped.append(str(path))
    return skipped


def _copy_file(source: str, target: Path, rel: str, budget, digest, skipped: list[str]) -> None:
    # O_NOFOLLOW and O_NONBLOCK: a file swapped for a link or a FIFO since it was listed is
    # neither followed nor waited on; fstat then says what was opened.
    fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with open(fd, "rb") as src:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            skipped.append(rel)
            return
        budget.take(info.st_size)
        digest.update(rel.encode())
        with open(target, "wb") as out:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    os.chmod(target, stat.S_IMODE(info.st_mode) & 0o777)
