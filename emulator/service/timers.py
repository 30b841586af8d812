"""One thread that fires callbacks at given times (approval timeouts, later schedules).

A heap and a condition variable: the thread sleeps until the earliest deadline or until a new
one is added, so an idle daemon uses no CPU (no polling loop).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import Callable

log = logging.getLogger(__name__)


class Timers:
    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._counter = itertools.count()
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="pipemu-timers", daemon=True)
        self._thread.start()

    def at(self, when: float, callback: Callable[[], None]) -> None:
        with self._wake:
            heapq.heappush(self._heap, (when, next(self._counter), callback))
            self._wake.notify()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and (not self._heap or self._heap[0][0] > self._clock()):
                    timeout = self._heap[0][0] - self._clock() if self._heap else None
                    self._wake.wait(timeout)
                if self._stopped:
                    return
                _, _, callback = heapq.heappop(self._heap)
            try:
                callback()
            except Exception:  # a failing timer must not stop the others
                log.exception("timer callback failed")
