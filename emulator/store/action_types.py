"""Custom action types and the job workers' hold on jobs, kept beside the event log.

Neither steers the engine: a custom action type is a name a declaration may use (and what
ListActionTypes answers), and a job's worker status (Queued, Dispatched, InProgress, its nonce,
a third-party job's client token) is what PollForJobs / AcknowledgeJob hand out. Both must
survive a restart, so both are tables of the state file; their tables are made here with
CREATE TABLE IF NOT EXISTS rather than as a numbered migration, so that they stand apart from
the event log's schema.
"""

from __future__ import annotations

import json

from .sqlite import Store

_TABLES = """
    CREATE TABLE IF NOT EXISTS custom_action_types (
        type_key TEXT PRIMARY KEY,      -- category/owner/provider/version
        body     TEXT NOT NULL,         -- the ActionType as CreateCustomActionType answered it
        tags     TEXT NOT NULL,
        deleted  INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE IF NOT EXISTS worker_jobs (
        job_id       TEXT PRIMARY KEY,
        status       TEXT NOT NULL,
        nonce        TEXT,
        client_token TEXT
    );
"""


def type_key(category: str, owner: str, provider: str, version: str) -> str:
    return f"{category}/{owner}/{provider}/{version}"


class ActionTypeRecords:
    def __init__(self, store: Store):
        self._store = store
        with store._lock, store._writing():
            store._db.executescript(_TABLES)

    # -- custom action types ----------------------------------------------------------------

    def all(self) -> list[tuple[dict, dict[str, str], bool]]:
        """Every custom action type ever created: (ActionType, tags, deleted), oldest first."""
        with self._store._lock:
            rows = self._store._db.execute(
                "SELECT body, tags, deleted FROM custom_action_types ORDER BY rowid").fetchall()
        return [(json.loads(body), json.loads(tags), bool(deleted)) for body, tags, deleted in rows]

    def get(self, key: str) -> tuple[dict, dict[str, str], bool] | None:
        with self._store._lock:
            row = self._store._db.execute(
                "SELECT body, tags, deleted FROM custom_action_types WHERE type_key = ?", (key,)).fetchone()
        return None if row is None else (json.loads(row[0]), json.loads(row[1]), bool(row[2]))

    def put(self, key: str, body: dict, tags: dict[str, str]) -> None:
        with self._store._lock, self._store._writing():
            self._store._db.execute(
                "INSERT INTO custom_action_types (type_key, body, tags, deleted) VALUES (?, ?, ?, 0) "
                "ON CONFLICT (type_key) DO UPDATE SET body = excluded.body, tags = excluded.tags",
                (key, json.dumps(body), json.dumps(tags)))

    def mark_deleted(self, key: str) -> None:
        with self._store._lock, self._store._writing():
            self._store._db.execute("UPDATE custom_action_types SET deleted = 1 WHERE type_key = ?", (key,))

    def restore(self, key: str) -> None:
        with self._store._lock, self._store._writing():
            self._store._db.execute("UPDATE custom_action_types SET deleted = 0 WHERE type_key = ?", (key,))

    # -- the workers' hold on jobs --------------------------------------------------------------

    def job(self, job_id: str) -> tuple[str, str | None, str | None] | None:
        """(status, nonce, client token) of a job a worker was handed, or None."""
        with self._store._lock:
            row = self._store._db.execute(
                "SELECT status, nonce, client_token FROM worker_jobs WHERE job_id = ?", (job_id,)).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def set_job(self, job_id: str, status: str, nonce: str | None, client_token: str | None = None) -> None:
        with self._store._lock, self._store._writing():
            self._store._db.execute(
                "INSERT INTO worker_jobs (job_id, status, nonce, client_token) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (job_id) DO UPDATE SET status = excluded.status, nonce = excluded.nonce, "
                "client_token = excluded.client_token",
                (job_id, status, nonce, client_token))

    def forget_job(self, job_id: str) -> None:
        with self._store._lock, self._store._writing():
            self._store._db.execute("DELETE FROM worker_jobs WHERE job_id = ?", (job_id,))
