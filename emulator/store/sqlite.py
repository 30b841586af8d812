"""SQLite state under the state folder: the engine's event log and the actions' logs.

The event log is the truth: every event is committed (with the time and the ids the engine drew
while handling it) before any of its commands runs, so replaying the log rebuilds the engine's
state exactly, a crash included. WAL mode: readers never block the writer.

A write the disk refuses (full, read-only, I/O error) raises `StateNotWritable` with nothing of it
committed. Opening checks the database (`PRAGMA quick_check`) and that the folder takes a write,
and raises `StateFolderUnusable` (one line: the file, what to do) when it cannot serve.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import codec
from .errors import StateFolderUnusable, not_writable, unusable

SCHEMA_VERSION = 2
# Opening writes and removes this much in the state folder: a daemon that could not write the
# first few events refuses to start instead.
HEADROOM = 256 * 1024

_MIGRATIONS = {
    1: """
        CREATE TABLE events (
            seq      INTEGER PRIMARY KEY AUTOINCREMENT,
            at       REAL NOT NULL,
            type     TEXT NOT NULL,
            pipeline TEXT NOT NULL,
            payload  TEXT NOT NULL,
            ids      TEXT NOT NULL
        );
        CREATE TABLE action_logs (
            action_execution_id TEXT NOT NULL,
            seq  INTEGER NOT NULL,
            at   REAL NOT NULL,
            text TEXT NOT NULL,
            PRIMARY KEY (action_execution_id, seq)
        );
    """,
    2: """
        CREATE TABLE tags (
            resource_arn TEXT NOT NULL,
            key   TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (resource_arn, key)
        );
    """,
}


class Store:
    def __init__(self, state_dir: str | Path):
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / "state.sqlite3"
        self._lock = threading.Lock()
        self._log_seq: dict[str, int] = {}
        self._db = None
        self.refusing: Exception | None = None  # the last write's refusal, until a write commits
        try:
            self._open()
        except (OSError, sqlite3.Error) as error:
            if self._db is not None:
                self._db.close()
            raise unusable(error, self.path) from None

    def _open(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # The state holds approval tokens and logs: only the daemon's user reads it. SQLite gives
        # its -wal and -shm files the database file's mode.
        os.chmod(self.state_dir, 0o700)
        os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        os.chmod(self.path, 0o600)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process (the case we guard against); only a power
        # loss could lose the last transactions.
        self._db.execute("PRAGMA synchronous=NORMAL")
        problems = [row[0] for row in self._db.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise StateFolderUnusable(
                f"state file {self.path} is damaged ({'; '.join(problems[:3])}): move it away to start "
                "with an empty state, or put back a copy of it")
        self._migrate()
        self._check_headroom()

    def _check_headroom(self) -> None:
        probe = self.state_dir / ".headroom"
        try:
            with open(probe, "wb") as handle:
                handle.write(b"\0" * HEADROOM)
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            probe.unlink(missing_ok=True)

    @contextmanager
    def _writing(self):
        """One write, committed whole or not at all (StateNotWritable: nothing was saved)."""
        try:
            yield
        except sqlite3.IntegrityError:
            raise  # a bug of ours, not the disk
        except sqlite3.DatabaseError as error:  # full, read-only, I/O error, corrupted under us
            raise self._refused(error) from None
        self.refusing = None

    def check_writable(self) -> None:
        """After a refused write, raise its StateNotWritable again unless a small write commits
        now: a caller that would have to undo work when the commit fails asks first (cheap)."""
        if self.refusing is None:
            return
        with self._lock, self._writing():
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT OR REPLACE INTO action_logs VALUES ('', 0, 0, '')")
            self._db.execute("DELETE FROM action_logs WHERE action_execution_id = ''")
            self._db.execute("COMMIT")

    def _refused(self, error: sqlite3.Error):
        if self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # SQLite rolled it back already
        self.refusing = not_writable(error, self.path)
        return self.refusing

    def _migrate(self) -> None:
        with self._lock:
            current = self._db.execute("PRAGMA user_version").fetchone()[0]
            for version in range(current + 1, SCHEMA_VERSION + 1):
                self._db.execute("BEGIN")
                for statement in _MIGRATIONS[version].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={version}")
                self._db.execute("COMMIT")

    # -- events ---------------------------------------------------------------------------

    def append(self, event, at: float, ids: list[str]) -> int:
        with self._lock, self._writing():
            cursor = self._db.execute(
                "INSERT INTO events (at, type, pipeline, payload, ids) VALUES (?, ?, ?, ?, ?)",
                (at, type(event).__name__, event.pipeline, codec.dumps(event), json.dumps(ids)),
            )
            return cursor.lastrowid

    def events(self) -> Iterator[tuple[object, float, list[str]]]:
        with self._lock:
            rows = self._db.execute("SELECT payload, at, ids FROM events ORDER BY seq").fetchall()
        for payload, at, ids in rows:
            yield codec.loads(payload), at, json.loads(ids)

    # -- action logs ------------------------------------------------------------------------

    def append_log(self, action_execution_id: str, text: str, at: float) -> None:
        with self._lock:
            seq = self._log_seq.get(action_execution_id)
            if seq is None:
                row = self._db.execute(
                    "SELECT COALESCE(MAX(seq), 0) FROM action_logs WHERE action_execution_id = ?",
                    (action_execution_id,),
                ).fetchone()
                seq = row[0]
            seq += 1
            with self._writing():
                self._db.execute(
                    "INSERT INTO action_logs (action_execution_id, seq, at, text) VALUES (?, ?, ?, ?)",
                    (action_execution_id, seq, at, text),
                )
            self._log_seq[action_execution_id] = seq

    def clear_logs(self, action_execution_id: str) -> None:
        with self._lock, self._writing():
            self._db.execute("DELETE FROM action_logs WHERE action_execution_id = ?", (action_execution_id,))
            self._log_seq.pop(action_execution_id, None)

    def logs(self, action_execution_id: str, after: int = 0) -> list[tuple[int, float, str]]:
        with self._lock:
            return self._db.execute(
                "SELECT seq, at, text FROM action_logs WHERE action_execution_id = ? AND seq > ? "
                "ORDER BY seq",
                (action_execution_id, after),
            ).fetchall()

    # -- tags (TagResource; kept beside the event log, they steer nothing) ---------------------

    def tags(self, resource_arn: str) -> dict[str, str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key, value FROM tags WHERE resource_arn = ? ORDER BY key", (resource_arn,)
            ).fetchall()
        return dict(rows)

    def set_tags(self, resource_arn: str, tags: dict[str, str]) -> None:
        with self._lock, self._writing():
            self._db.executemany(
                "INSERT INTO tags (resource_arn, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (resource_arn, key) DO UPDATE SET value = excluded.value",
                [(resource_arn, k, v) for k, v in tags.items()],
            )

    def remove_tags(self, resource_arn: str, keys: list[str] | None = None) -> None:
        with self._lock, self._writing():
            if keys is None:
                self._db.execute("DELETE FROM tags WHERE resource_arn = ?", (resource_arn,))
            else:
                self._db.executemany(
                    "DELETE FROM tags WHERE resource_arn = ? AND key = ?", [(resource_arn, k) for k in keys]
                )

    def close(self) -> None:
        with self._lock:
            self._db.close()
