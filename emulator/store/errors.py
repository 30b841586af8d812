"""What can go wrong with the state folder, in words a user can act on.

`StateNotWritable`: a write could not be committed (disk full, I/O error, read-only): nothing of
it was saved, and the caller must not act as if it were. `StateFolderUnusable`: the daemon cannot
start on this state folder; its message is one line naming the file and what to do.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

# SQLite's primary result codes for a write that the disk refused, as the OS would name them.
_SQLITE_ERRNO = {
    "SQLITE_FULL": errno.ENOSPC,
    "SQLITE_READONLY": errno.EROFS,
    "SQLITE_IOERR": errno.EIO,
    "SQLITE_CANTOPEN": errno.EACCES,
    "SQLITE_BUSY": errno.EBUSY,
    "SQLITE_LOCKED": errno.EBUSY,
    "SQLITE_CORRUPT": errno.EIO,
    "SQLITE_NOTADB": errno.EIO,
}
# OS errors that say the state folder's disk cannot take a write.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EACCES, errno.EPERM})


class StateNotWritable(OSError):
    """A write to the state folder failed; nothing of it was committed."""

    def __init__(self, code: int, reason: str, path: Path | str):
        super().__init__(code, reason, str(path))
        self.reason = reason
        self.path = str(path)

    def __str__(self) -> str:
        return f"pipeline-emulator could not write its state folder ({self.path}): {self.reason}"


class StateFolderUnusable(Exception):
    """The daemon cannot start on this state folder."""


def sqlite_errno(error: sqlite3.Error) -> int:
    name = getattr(error, "sqlite_errorname", "") or ""
    return next((code for prefix, code in _SQLITE_ERRNO.items() if name.startswith(prefix)), errno.EIO)


def not_writable(error: sqlite3.Error, path: Path) -> StateNotWritable:
    """The SQLite error of a failed write, named as the OS names it ("No space left on device")."""
    code = sqlite_errno(error)
    return StateNotWritable(code, f"{os.strerror(code)} ({error})", path)


def unusable(error: BaseException, path: Path | str) -> StateFolderUnusable:
    """A start-up failure on `path` as one line: the file, what is wrong, what to do."""
    if isinstance(error, sqlite3.Error):
        name = getattr(error, "sqlite_errorname", "") or ""
        if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in str(error):
            return StateFolderUnusable(
                f"state file {path} is damaged ({error}): move it away to start with an empty state, "
                "or put back a copy of it")
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return StateFolderUnusable(
                f"state file {path} is locked by another process ({error}): stop that process, "
                "or pass another --state-dir")
        code = sqlite_errno(error)
        reason = f"{os.strerror(code)} ({error})"
    elif isinstance(error, OSError):
        code = error.errno or errno.EIO
        reason = error.strerror or str(error)
        path = error.filename or path
    else:
        return StateFolderUnusable(f"state file {path}: {error}")
    advice = {
        errno.ENOSPC: "free space on its disk",
        errno.EDQUOT: "free space on its disk",
        errno.EROFS: "make the state folder writable",
        errno.EACCES: "give the daemon's user access to it",
        errno.EPERM: "give the daemon's user access to it",
    }.get(code, "check the state folder's disk")
    return StateFolderUnusable(f"cannot write state file {path} ({reason}): {advice}, or pass another --state-dir")
