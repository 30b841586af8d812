"""`pipemu serve` on a state folder it cannot use says so in one line naming the file and what to
do, and exits non-zero: no traceback (damaged, truncated or locked database; read-only folder;
full disk)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.store import Store
from tests.support.daemon import ROOT, free_port
from tests.support.tmpfs import fill, remount, small_tmpfs


def serve(tmp_path: Path, state: Path) -> subprocess.CompletedProcess:
    (tmp_path / "pipelines").mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "emulator.cli", "serve", "--pipelines", str(tmp_path / "pipelines"),
         "--state-dir", str(state), "--port", str(free_port())],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )


def assert_refused(answer: subprocess.CompletedProcess, file: Path, *words: str) -> None:
    assert answer.returncode != 0, answer.stderr
    assert "Traceback" not in answer.stderr, answer.stderr
    ours = [line for line in answer.stderr.splitlines() if line.startswith("pipemu:")]
    assert len(ours) == 1, answer.stderr
    assert ours[0] == answer.stderr.splitlines()[-1]
    assert str(file) in ours[0], ours[0]
    for word in words:
        assert word in ours[0], ours[0]


def state_with_logs(state: Path) -> Path:
    store = Store(state)
    for number in range(2000):
        store.append_log("build", f"line {number} " * 8, 1.0)
    store.close()
    return state / "state.sqlite3"


def test_a_file_that_is_not_a_database(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "state.sqlite3").write_bytes(os.urandom(8192))
    assert_refused(serve(tmp_path, state), state / "state.sqlite3", "damaged", "move it away")


def test_a_truncated_database(tmp_path):
    database = state_with_logs(tmp_path / "state")
    os.truncate(database, os.path.getsize(database) // 2)
    assert_refused(serve(tmp_path, tmp_path / "state"), database, "damaged", "move it away")


def test_a_database_another_process_holds_locked(tmp_path):
    database = state_with_logs(tmp_path / "state")
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("DELETE FROM action_logs WHERE seq = 1")
    try:
        assert_refused(serve(tmp_path, tmp_path / "state"), database, "locked", "stop that process")
    finally:
        holder.close()


def test_a_read_only_state_folder(tmp_path):
    with small_tmpfs(tmp_path / "state") as state:
        state_with_logs(state)
        remount(state, "ro")
        assert_refused(serve(tmp_path, state), state, "Read-only file system", "make the state folder writable")


def test_a_full_disk(tmp_path):
    with small_tmpfs(tmp_path / "state") as state:
        state_with_logs(state)
        fill(state)
        assert_refused(serve(tmp_path, state), state, "No space left on device", "free space")


def test_the_same_folder_serves_once_space_is_freed(tmp_path):
    with small_tmpfs(tmp_path / "state") as state:
        state_with_logs(state)
        filler = fill(state)
        assert serve(tmp_path, state).returncode != 0
        filler.unlink()
        with pytest.raises(subprocess.TimeoutExpired):  # it serves (until the test stops waiting)
            subprocess.run(
                [sys.executable, "-m", "emulator.cli", "serve", "--pipelines", str(tmp_path / "pipelines"),
                 "--state-dir", str(state), "--port", str(free_port())],
                cwd=ROOT, capture_output=True, timeout=8,
            )
