"""One daemon per state folder: an exclusive lock on `<state-dir>/daemon.lock`."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class StateFolderLocked(Exception):
    pass


def lock_state_folder(state_dir: Path):
    """Hold the lock for the life of the returned file object (the OS drops it on exit or kill)."""
    path = Path(state_dir) / "daemon.lock"
    handle = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600), "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "another process"
        handle.close()
        raise StateFolderLocked(
            f"state folder {state_dir} is in use by a running daemon (pid {owner}); "
            "stop it or pass another --state-dir"
        ) from None
    try:  # unbuffered: closing the handle after a failed write must not write again
        os.ftruncate(handle.fileno(), 0)
        os.pwrite(handle.fileno(), str(os.getpid()).encode(), 0)
    except OSError as error:  # a full disk: name the file, as open() would
        handle.close()
        raise OSError(error.errno, error.strerror, str(path)) from None
    return handle
