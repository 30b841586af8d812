"""The local CloudWatch alarms: the states of the `alarms:` stand-ins, which nobody evaluates here
(no metrics exist locally): a user sets them (`pipemu alarm set`, SetAlarmState, the dashboard)
and whoever watches them (a CloudWatchAlarm rule, DescribeAlarms) reads them.

Which alarms exist is the definitions' business (`declared()`, the pipelines folder's `alarms`);
what they were set to lives in `<state-dir>/alarms.json`, written whole and renamed (a crash
leaves the old file or the new one), so a state survives a restart. A declared alarm nobody set
has its declaration's initial state (AWS's INSUFFICIENT_DATA by default). Editing that initial
state in the file counts as setting it: a record remembers the declaration it overrode and
yields once the declaration says something else.

A room of its own, beside cfn/ and lambdas/: the service (the CloudWatch API) and the runner (a
rule that waits on an alarm) both use one `Alarms`, which is thread-safe; `wait_for_change`
lets a watcher sleep until a state is set instead of polling.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from emulator.cfn.store import _write as write_whole  # the state folder's one way to write a record
from emulator.definitions.models import ALARM_STATES, INITIAL_ALARM_STATE

log = logging.getLogger(__name__)

# What AWS says of an alarm that has not been evaluated yet.
INITIAL_REASON = "Unchecked: Initial alarm creation"


class AlarmNotFound(KeyError):
    """No alarm of this name is declared (CloudWatch's ResourceNotFound)."""


@dataclass(frozen=True)
class AlarmState:
    value: str  # StateValue: OK | ALARM | INSUFFICIENT_DATA
    reason: str  # StateReason
    updated: float  # StateUpdatedTimestamp, seconds since the epoch
    reason_data: str | None = None  # StateReasonData (JSON text), when the setter gave one


class Alarms:
    def __init__(self, path: Path, declared: Callable[[], Mapping[str, Any]],
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._declared = declared
        self._clock = clock
        self._changed = threading.Condition()
        self._records = self._read()
        self._first_seen: dict[tuple[str, str], float] = {}  # when an alarm nobody set was first asked about
        self.version = 0  # moves on every set: what wait_for_change waits for
        # Called (from the setter's thread) after each set: the live views' change notices.
        self.listeners: list[Callable[[], None]] = []

    def _read(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            # A damaged file must not stop the daemon; its alarms start from their declarations.
            log.warning("%s is unreadable (%s): alarms start from their declarations",
                                                self.path, error)
            return {}
        alarms = data.get("alarms") if isinstance(data, dict) else None
        return {k: v for k, v in alarms.items() if isinstance(v, dict)} if isinstance(alarms, dict) else {}

    def names(self) -> list[str]:
        """The declared alarms' names, sorted (as DescribeAlarms lists them)."""
        return sorted(self._declared() or {})

    def declaration(self, name: str) -> Any | None:
        """The alarm's stand-in (definitions' `Alarm`: `state`, `description`), or None."""
        return (self._declared() or {}).get(name)

    def state(self, name: str) -> AlarmState | None:
        """The alarm's current state, or None when no alarm of this name is declared."""
        declared = self.declaration(name)
        if declared is None:
            return None
        initial = getattr(declared, "state", INITIAL_ALARM_STATE)
        with self._changed:
            record = self._records.get(name)
            if record is not None and record.get("DeclaredState") == initial:
                return AlarmState(record["StateValue"], record.get("StateReason", ""),
                                  float(record.get("StateUpdatedTimestamp", 0)), record.get("StateReasonData"))
            seen = self._first_seen.setdefault((name, initial), self._clock())
        reason = INITIAL_REASON if initial == INITIAL_ALARM_STATE else f"Initial state {initial} declared in the " \
                                                                       "pipelines folder"
        return AlarmState(initial, reason, seen)

    def set(self, name: str, value: str, reason: str, reason_data: str | None = None) -> AlarmState:
        """Set the alarm's state (kept in the state folder before it counts); wakes the waiters.
        AlarmNotFound for an alarm not declared, ValueError for a value CloudWatch does not have."""
        if value not in ALARM_STATES:
            raise ValueError(f"{value!r} is not one of {', '.join(ALARM_STATES)}")
        declared = self.declaration(name)
        if declared is None:
            raise AlarmNotFound(name)
        record = {"StateValue": value, "StateReason": reason, "StateUpdatedTimestamp": self._clock(),
                  "DeclaredState": getattr(declared, "state", INITIAL_ALARM_STATE)}
        if reason_data is not None:
            record["StateReasonData"] = reason_data
        with self._changed:
            records = {**self._records, name: record}
            # Written before it counts: a disk that refuses it changes nothing (the error goes up).
            write_whole(self.path, {"alarms": records})
            self._records = records
            self.version += 1
            self._changed.notify_all()
        for listener in list(self.listeners):
            listener()
        return AlarmState(value, reason, record["StateUpdatedTimestamp"], reason_data)

    def wait_for_change(self, timeout: float, since: int | None = None) -> int:
        """Sleep until a state is set after version `since` (default: the current one), or until
        `timeout` seconds pass; the version then (equal to `since` on a timeout)."""
        with self._changed:
            start = self.version if since is None else since
            self._changed.wait_for(lambda: self.version != start, timeout)
            return self.version

    def notify(self) -> None:
        """Wake the waiters without a set (the declarations changed: an initial state may have)."""
        with self._changed:
            self.version += 1
            self._changed.notify_all()
