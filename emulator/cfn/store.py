"""The stacks deploys made: one JSON record per stack under `<state-dir>/cloudformation/`.

A record holds what DescribeStacks, ListStackResources and GetTemplate answer (AWS's field
names) and, per function resource, the function's configuration (what the Lambda service serves).
A record is written whole to a temporary file and renamed over the old one, so a crash leaves
either the old record or the new one. Deleted stacks move to `deleted/` under their stack id:
ListStacks keeps listing them as DELETE_COMPLETE, as CloudFormation does (for 90 days there).
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from pathlib import Path

# CloudFormation's rule for stack names: also what keeps a name a plain file name here.
STACK_NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9]{0,127}")


class StackStore:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._lock = threading.RLock()
        # Moves on every write: what callers derive from the records (the functions stacks made,
        # read on every invocation) is made again only then. This process is the only writer.
        self.version = 0

    @property
    def _live(self) -> Path:
        return self.folder / "stacks"

    @property
    def _deleted(self) -> Path:
        return self.folder / "deleted"

    def get(self, name: str) -> dict | None:
        """The stack named `name` that exists now (not deleted), or None."""
        if not STACK_NAME.fullmatch(name or ""):
            return None
        return _read(self._live / f"{name}.json")

    def by_id(self, stack_id: str) -> dict | None:
        """A stack by its id (ARN), deleted ones included, as DescribeStacks accepts."""
        for record in self.all():
            if record.get("StackId") == stack_id:
                return record
        return None

    def live(self) -> list[dict]:
        with self._lock:
            return [r for p in sorted(self._live.glob("*.json")) if (r := _read(p)) is not None]

    def all(self) -> list[dict]:
        """Every stack, deleted ones included (ListStacks)."""
        with self._lock:
            deleted = [r for p in sorted(self._deleted.glob("*.json")) if (r := _read(p)) is not None]
        return self.live() + sorted(deleted, key=lambda r: r.get("DeletionTime", ""), reverse=True)

    def put(self, record: dict) -> None:
        name = record["StackName"]
        if not STACK_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a stack name")
        with self._lock:
            _write(self._live / f"{name}.json", record)
            self.version += 1

    def delete(self, name: str, when: str) -> dict | None:
        """Mark the stack deleted (DELETE_COMPLETE) and move it out of the live ones."""
        with self._lock:
            record = self.get(name)
            if record is None:
                return None
            record = {**record, "StackStatus": "DELETE_COMPLETE", "DeletionTime": when}
            record.pop("ChangeSets", None)
            _write(self._deleted / f"{record['StackId'].rsplit('/', 1)[-1]}.json", record)
            (self._live / f"{name}.json").unlink(missing_ok=True)
            self.version += 1
            return record

    def exports(self) -> dict[str, dict]:
        """Export name -> {Name, Value, ExportingStackId} of the live stacks."""
        found = {}
        for record in self.live():
            for output in record.get("Outputs") or []:
                if output.get("ExportName"):
                    found[output["ExportName"]] = {"ExportingStackId": record["StackId"],
                                                   "Name": output["ExportName"], "Value": output["OutputValue"]}
        return found


def new_stack_id(region: str, account: str, name: str) -> str:
    return f"arn:aws:cloudformation:{region}:{account}:stack/{name}/{uuid.uuid4()}"


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write(path: Path, record: dict) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    try:
        # 0600, as every file of the state folder: a record holds a stack's outputs and parameters.
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as fh:
            json.dump(record, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(partial, path)
    except BaseException:  # a full disk: the old record stays whole, the partial one goes
        partial.unlink(missing_ok=True)
        raise
