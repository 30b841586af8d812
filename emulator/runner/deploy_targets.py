"""The targets of deploy action executions, as ListDeployActionExecutionTargets answers them.

One JSON file per action execution under `<state-dir>/deploy-targets/`, written whole and
replaced atomically at each step of the deploy (the API reads it while the deploy goes on, and
a daemon restart keeps it). A target is a DeployActionExecutionTarget of botocore's model:
targetId, targetType, status, startTime, endTime (epoch seconds) and events (name, status,
startTime, endTime, context.message). An action execution without a file has no targets.
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

# Action execution ids are ours (uuids), but one comes from the API too: never a path.
_ID = re.compile(r"[A-Za-z0-9-]{1,200}")


class DeployTargets:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._lock = threading.Lock()

    def _path(self, action_execution_id: str) -> Path | None:
        return self.folder / f"{action_execution_id}.json" if _ID.fullmatch(action_execution_id) else None

    def put(self, action_execution_id: str, targets: list[dict]) -> None:
        path = self._path(action_execution_id)
        if path is None:
            return
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            partial.write_text(json.dumps(targets))
            os.replace(partial, path)

    def get(self, action_execution_id: str) -> list[dict]:
        path = self._path(action_execution_id)
        try:
            return json.loads(path.read_text()) if path is not None else []
        except (FileNotFoundError, ValueError):
            return []


class TargetRecorder:
    """The targets of one deploy, each with its events, saved at every change."""

    def __init__(self, store: DeployTargets, action_execution_id: str, clock):
        self.store, self.id, self.clock = store, action_execution_id, clock
        self.targets: list[dict] = []

    def target(self, target_id: str, target_type: str) -> dict:
        found = {"targetId": target_id, "targetType": target_type, "status": "InProgress",
                 "startTime": self.clock(), "events": []}
        self.targets.append(found)
        self._save()
        return found

    def event(self, target: dict, name: str) -> dict:
        found = {"name": name, "status": "InProgress", "startTime": self.clock()}
        target["events"].append(found)
        self._save()
        return found

    def end(self, item: dict, status: str, message: str | None = None) -> None:
        """End a target or an event: Succeeded or Failed, with what happened."""
        item.update(status=status, endTime=self.clock())
        if message and "events" not in item:
            item["context"] = {"message": message[:2000]}
        self._save()

    def _save(self) -> None:
        self.store.put(self.id, self.targets)
