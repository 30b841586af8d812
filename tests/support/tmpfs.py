"""A small tmpfs the test mounts and removes itself, and a file that fills it to the last byte.

Mounting needs root: elsewhere the test is skipped with the reason, except in CI (`CI=true`),
where the tests run as root and a skip would hide a failure.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from pathlib import Path

import pytest


def require_root() -> None:
    if os.geteuid() == 0:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("mounting a tmpfs needs root, and CI runs the tests as root")
    pytest.skip("mounting a small tmpfs (a disk that fills up) needs root")


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str = "6m"):
    """`path` is a fresh tmpfs of `size` for the block's life."""
    require_root()
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        # Lazy: a daemon the test could not stop may still hold a file open there.
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount(path: Path, mode: str) -> None:
    """`mode`: "ro" or "rw"."""
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True)


def fill(folder: Path) -> Path:
    """A filler file that takes every free byte of `folder`'s filesystem."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as handle:
        for chunk in (1 << 20, 1 << 16, 1 << 12, 1 << 9, 1):
            try:
                while True:
                    handle.write(b"\0" * chunk)
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
    assert os.statvfs(folder).f_bavail == 0
    return filler
