"""Results the state folder would not take: kept in memory, stored once it takes writes again.

A runner thread or a timer reports an action's end while the disk is full (or read-only): the
event could not be committed, so the engine did not change. The result is kept here as the
action's failure (a success whose record was lost is not trusted; a failure keeps its own
words) and stored again every `RETRY_SECONDS`, in the order the results came, until the store
takes it or the engine refuses it (the execution ended meanwhile, e.g. stopped); the next change
that can be saved stores them first.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from emulator.engine import ActionFailed, ActionSucceeded, Event, JobFailed, JobSucceeded
from emulator.store import StateNotWritable

from .errors import ServiceError

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0


def as_failure(event: Event, error: StateNotWritable) -> Event:
    """The failure to store in place of a result that could not be stored."""
    message = (f"pipeline-emulator could not write its state folder when the action ended "
               f"({error.reason}): the action's result was not saved")
    if isinstance(event, ActionSucceeded):
        return ActionFailed(event.pipeline, event.execution_id, event.stage, event.action,
                            event.action_execution_id, message=message)
    if isinstance(event, JobSucceeded):
        return JobFailed(event.job_id, message)
    return event


class Unsaved:
    """The results waiting to be stored; `apply` commits one (raising as ServiceCore.apply does)."""

    def __init__(self, apply: Callable[[Event], object], later: Callable[[float, Callable[[], None]], None] | None,
                 clock: Callable[[], float]):
        self._apply = apply
        self._later = later
        self._clock = clock
        self._events: list[Event] = []
        self._lock = threading.Lock()
        self._scheduled = False

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    def keep(self, event: Event, error: StateNotWritable) -> None:
        log.error("%s not saved (%s); it is saved as soon as the state folder takes writes again",
                  type(event).__name__, error.reason)
        with self._lock:
            self._events.append(as_failure(event, error))
            self._schedule()

    def _schedule(self) -> None:
        if self._later is not None and not self._scheduled and self._events:
            self._scheduled = True
            self._later(self._clock() + RETRY_SECONDS, self.flush)

    def flush(self) -> int:
        """Store what waits, oldest first; stop at the first the store refuses. Returns how many
        are left."""
        with self._lock:
            self._scheduled = False
            waiting, self._events = self._events, []  # a flush's own changes find none waiting
        left: list[Event] = []
        for index, event in enumerate(waiting):
            try:
                self._apply(event)
            except StateNotWritable:
                left = waiting[index:]
                break
            except ServiceError as error:  # the execution moved on (stopped, retried): nothing to end
                log.warning("unsaved %s dropped: %s", type(event).__name__, error.message)
            else:
                log.info("saved %s that could not be saved before", type(event).__name__)
        with self._lock:
            self._events[:0] = left
            self._schedule()
            return len(self._events)
