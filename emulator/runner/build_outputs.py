"""What a build leaves in its container, read back as the archive streams in.

get_archive sends a tar of the folder; it is read as a stream (tarfile's "r|"), never kept whole:
each member's header says its size before its data arrives, so an output past its artifact's
limit (limits.py) fails before its bytes are read, and the daemon stops reading there (a 2 GB
sparse file never becomes 2 GB on the host, nor a temporary copy). Members are written through
tarfile's "data" extraction filter: nothing lands outside the artifact, nor through a link the
same output made. A link a build made is kept as a link (the next container sees it inside its
own file system); the daemon never follows it (artifact_files.py).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import io
import os
import shutil
import tarfile
from pathlib import Path, PurePosixPath

import docker.errors

from .buildspec import EXPORTED_FILE, FAILURE_FILE, ArtifactSpec, artifact_path
from .limits import Budget

# The build's own state files (exported variables, the failed command) are read into memory: a
# build may not make them large (a 400 MB exported.env took the daemon from 139 to 883 MB).
MAX_STATE_FILE = 1024 * 1024


class OutputError(Exception):
    """The build's outputs cannot be kept; the message says why (CodeBuild's wording)."""


class _Chunks(io.RawIOBase):
    """A file reading the chunks get_archive yields, as they arrive."""

    def __init__(self, chunks):
        self._chunks, self._rest = chunks, memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._rest:
            self._rest = memoryview(next(self._chunks, b""))  # slices of a view copy nothing
            if not self._rest:
                return 0
        size = min(len(buffer), len(self._rest))
        buffer[:size], self._rest = self._rest[:size], self._rest[size:]
        return size


@contextlib.contextmanager
def archive(container, path: str):
    """The tar of `path` in `container`, as a stream of members; leaving it drops the rest
    unread (the generator is closed, its response dropped: the engine stops sending)."""
    chunks, _ = container.get_archive(path)
    try:
        with tarfile.open(fileobj=io.BufferedReader(_Chunks(iter(chunks)), 1 << 20), mode="r|") as tar:
            yield tar
    finally:
        chunks.close()


def read_state(container, state_dir: str) -> tuple[dict[str, str], list[str] | None]:
    """The exported variables and the first failure (phase, status, command) the script left."""
    exported: dict[str, str] = {}
    failure = None
    try:
        with archive(container, state_dir) as tar:
            for member in tar:
                name = PurePosixPath(member.name).name
                if not member.isfile() or name not in (EXPORTED_FILE, FAILURE_FILE):
                    continue
                if member.size > MAX_STATE_FILE:  # known from its header: its bytes are never read
                    what = "exported variables" if name == EXPORTED_FILE else "failure record"
                    raise OutputError(f"CLIENT_ERROR: the {what} file is {member.size} bytes; pipemu reads at "
                                      f"most {MAX_STATE_FILE} bytes (1 MiB)")
                text = tar.extractfile(member).read().decode("utf-8", "replace")
                if name == FAILURE_FILE:
                    failure = text.rstrip("\n").split("\n", 2)
                    continue
                for line in text.splitlines():
                    key, _, value = line.partition("=")
                    try:
                        exported[key] = base64.b64decode(value).decode("utf-8", "replace")
                    except ValueError:
                        exported[key] = ""
    except docker.errors.NotFound:
        return {}, None
    return exported, failure


class _Refused(Exception):
    """A member the filter keeps out of the artifact."""


def _changed(member: tarfile.TarInfo, **changes) -> tarfile.TarInfo:
    new = copy.copy(member)  # TarInfo.replace is as new as the filters
    for key, value in changes.items():
        setattr(new, key, value)
    return new


def _filter(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
    """tarfile's "data" filter (no path outside `dest`, none through a link, no devices, no
    set-id bits), except that a symlink leading outside is kept as the link it is: builds output
    virtualenvs and the like, whose links name absolute paths of the container. The "tar" filter
    still refuses such a link's own path if it leaves `dest`."""
    if not hasattr(tarfile, "data_filter"):
        return _filter_without_filters(member, dest)
    try:
        return tarfile.data_filter(member, dest)
    except (tarfile.AbsoluteLinkError, tarfile.LinkOutsideDestinationError):
        if not member.issym():
            raise _Refused(member.name) from None
        try:
            return tarfile.tar_filter(member, dest)
        except tarfile.FilterError:
            raise _Refused(member.name) from None
    except tarfile.FilterError:
        raise _Refused(member.name) from None


def _filter_without_filters(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
    """What the filter above checks of the members written here (files, links), on a Python
    without tarfile's filters (before 3.11.4: Debian bookworm's 3.11.2, the daemon's image)."""
    root = os.path.realpath(dest)
    real = os.path.realpath(os.path.join(root, member.name))
    if os.path.isabs(member.name) or os.path.commonpath([real, root]) != root:
        raise _Refused(member.name)
    return member if member.issym() else _changed(member, mode=(member.mode & 0o755) | 0o600)


def _place(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path, rel: str, copy_of: Path | None) -> Path | None:
    """Write `member` as `rel` of the artifact folder `dest` (a copy of the file `copy_of` when its
    bytes were read already); None if the filter refuses it."""
    try:
        safe = _filter(_changed(member, name=rel), str(dest))
    except _Refused:
        return None  # e.g. under a link this output made that leads outside it: never written
    target = dest / safe.name
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        target.unlink()  # a later member wins (discard-paths); a file is never written through a link
    elif target.is_dir():
        return None
    if copy_of is not None and not safe.issym():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(copy_of, target, follow_symlinks=False)
    else:
        # Filtered just above; attributes are set here: no owner (the container's ids mean
        # nothing on the host), the filtered mode only.
        trusted = {"filter": "fully_trusted"} if hasattr(tarfile, "data_filter") else {}
        tar.extract(safe, dest, set_attrs=False, **trusted)
    if not safe.issym():
        os.chmod(target, safe.mode & 0o777)
    return target


def write_artifacts(container, src_dir: str, outputs: list[tuple[str, ArtifactSpec, Path]], kind: str) -> None:
    """Write each output (name, its buildspec spec, its folder) from the build's `src_dir`; raises
    OutputError when one matches nothing, or ArtifactTooLarge when one passes its limit."""
    budgets = {name: Budget(name, kind) for name, _, _ in outputs}
    counts = {name: 0 for name, _, _ in outputs}
    written: dict[str, list[Path]] = {}  # archive name -> the files written from it
    for _, _, folder in outputs:
        Path(folder).mkdir(parents=True, exist_ok=True)
    prefix = PurePosixPath(src_dir).name + "/"  # get_archive names the folder itself first
    with archive(container, src_dir) as tar:
        for member in tar:
            if not (member.isfile() or member.issym() or member.islnk()) or not member.name.startswith(prefix):
                continue
            bytes_in: Path | None = None  # a file already written with this member's bytes
            if member.islnk():  # a hard link: a copy of the file its target became (in any output)
                bytes_in = next((f for f in written.get(member.linkname, ()) if f.is_file() and not f.is_symlink()), None)
                if bytes_in is None:
                    continue  # its target is in no output (now): a stream cannot go back for its bytes
                member = _changed(member, type=tarfile.REGTYPE, linkname="", size=bytes_in.stat().st_size)
            for name, spec, folder in outputs:
                rel = artifact_path(spec, member.name[len(prefix):])
                if rel is None:
                    continue
                if member.isfile():
                    budgets[name].take(member.size)  # before its bytes are read
                placed = _place(tar, member, Path(folder), rel, bytes_in)
                if placed is None:
                    continue
                counts[name] += 1
                if member.isfile():
                    bytes_in = bytes_in or placed
                    written.setdefault(member.name, []).append(placed)
    for name, count in counts.items():
        if count == 0:
            raise OutputError(f"CLIENT_ERROR: no matching artifact paths found for {name}")


__all__ = ["MAX_STATE_FILE", "OutputError", "archive", "read_state", "write_artifacts"]
