"""EventBridge schedules: a thread that fires each pipeline's schedule expression on time.

The expressions themselves (AWS's cron and rate dialect) are read by emulator/cron.py.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from emulator.cron import ScheduleExpression, utcnow

log = logging.getLogger("pipemu.schedules")

_MAX_SLEEP = 60.0  # Condition.wait counts monotonic time; re-read the wall clock at least this often (suspend, NTP steps)


@dataclass
class _Entry:
    expression: ScheduleExpression
    pipeline: str
    next_at: datetime | None


class Scheduler:
    """Fires `fire(schedule_key, pipeline)` when schedules come due, from one thread that sleeps
    until the next fire time. A fire missed while the daemon was down is not replayed (as
    EventBridge): after any fire, and on start, the next time is computed from now."""

    def __init__(self, fire: Callable[[str, str], None], clock: Callable[[], datetime] = utcnow):
        self._fire = fire
        self._clock = clock
        self._condition = threading.Condition()
        self._entries: dict[str, _Entry] = {}
        self._thread: threading.Thread | None = None
        self._stopping = False

    def set_schedules(self, schedules: dict[str, tuple[ScheduleExpression, str]]) -> None:
        """Replace the set. A key whose expression is unchanged keeps its next time, so that a
        hot reload does not restart a rate's count."""
        now = self._clock()
        with self._condition:
            entries: dict[str, _Entry] = {}
            for key, (expression, pipeline) in schedules.items():
                old = self._entries.get(key)
                if old is not None and (old.expression.text, old.expression.timezone) == (expression.text, expression.timezone):
                    entries[key] = _Entry(old.expression, pipeline, old.next_at)
                else:
                    anchored = expression.anchored(now)
                    entries[key] = _Entry(anchored, pipeline, anchored.next_after(now))
            self._entries = entries
            self._condition.notify_all()

    def next_fire(self) -> datetime | None:
        """The earliest next fire time (for status and tests)."""
        with self._condition:
            return min((e.next_at for e in self._entries.values() if e.next_at), default=None)

    def start(self) -> None:
        now = self._clock()
        with self._condition:
            for entry in self._entries.values():
                if entry.next_at is not None and entry.next_at <= now:
                    entry.next_at = entry.expression.next_after(now)
            self._stopping = False
        self._thread = threading.Thread(target=self._run, name="pipemu-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def advance(self, now: datetime) -> None:
        """For tests: act as if the clock reached `now`; each due schedule fires once, in order."""
        with self._condition:
            due = self._take_due(now)
        self._fire_all(due)

    def _take_due(self, now: datetime) -> list[tuple[str, str]]:
        due = sorted((entry.next_at, key) for key, entry in self._entries.items()
                     if entry.next_at is not None and entry.next_at <= now)
        fired = []
        for _, key in due:
            entry = self._entries[key]
            entry.next_at = entry.expression.next_after(now)
            fired.append((key, entry.pipeline))
        return fired

    def _fire_all(self, due: list[tuple[str, str]]) -> None:
        for key, pipeline in due:
            try:
                self._fire(key, pipeline)
            except Exception:  # one failing target must not stop the other schedules
                log.exception("schedule %s: starting %s failed", key, pipeline)

    def _run(self) -> None:
        while True:
            with self._condition:
                if self._stopping:
                    return
                now = self._clock()
                due = self._take_due(now)
                if not due:
                    upcoming = min((e.next_at for e in self._entries.values() if e.next_at), default=None)
                    timeout = None if upcoming is None else min(_MAX_SLEEP, (upcoming - now).total_seconds())
                    self._condition.wait(timeout)  # woken early by set_schedules() and stop()
                    continue
            self._fire_all(due)  # outside the lock: the callback may call set_schedules()
