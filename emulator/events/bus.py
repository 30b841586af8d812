"""The default event bus: rules (a pattern and targets), the recent events, and their deliveries.

`publish(events)` is called by the service after an engine event is committed (outside its
lock); it only records and queues. One worker thread matches each event against the enabled
rules and hands every delivery to a small pool, so a slow target delays no execution and no
other target. Delivery never fails an execution: each result (ok, or the reason it failed) is
logged and kept in a bounded list (`deliveries()`, GET /pipemu/deliveries, `pipemu events`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from .patterns import matches
from .targets import DeliveryFailed, TargetNotSupported, sender_for

log = logging.getLogger("pipemu.events")

KEEP = 200  # recent events and deliveries kept for the CLI and the dashboard


@dataclass(frozen=True)
class Target:
    kind: str  # function | pipeline | topic | url | another service's name (not emulated)
    name: str  # what it names: a function, a pipeline, a topic ARN, a URL, an ARN
    id: str = ""
    input: str | None = None  # constant JSON text sent instead of the event
    input_path: str | None = None  # $.detail...: the part of the event sent


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: dict
    targets: tuple[Target, ...] = ()
    enabled: bool = True
    origin: str = ""  # the file that declares it


@dataclass
class _Stats:
    delivered: int = 0
    failed: int = 0


def select(event: dict, path: str | None) -> Any:
    """InputPath: `$`, `$.detail`, `$.detail.type.category`, `$.resources[0]`."""
    if not path or path == "$":
        return event
    value: Any = event
    for part in path[2:].replace("]", "").replace("[", ".").split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return None
    return value


class EventBus:
    def __init__(self, senders: dict[str, Any], *, keep: int = KEEP, workers: int = 4,
                 clock: Callable[[], float] = time.time) -> None:
        self.senders = senders
        self._rules: tuple[Rule, ...] = ()
        self._events: deque[dict] = deque(maxlen=keep)
        self._deliveries: deque[dict] = deque(maxlen=keep)
        self._lock = threading.Lock()
        self._queue: queue.Queue[dict | None] = queue.Queue()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pipemu-delivery")
        self._clock = clock
        self.stats = _Stats()
        self.listeners: list[Callable[[dict], None]] = []  # each AWS event, as it is published
        self.delivery_listeners: list[Callable[[dict], None]] = []
        self._thread = threading.Thread(target=self._run, name="pipemu-events", daemon=True)
        self._thread.start()

    # -- rules ----------------------------------------------------------------------------------

    def set_rules(self, rules: list[Rule]) -> None:
        self._rules = tuple(rules)

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self._rules

    # -- events in --------------------------------------------------------------------------------

    def publish(self, events: list[dict]) -> None:
        """Record and queue; never blocks on a target (called by the service after a change)."""
        for event in events:
            with self._lock:
                self._events.append(event)
            for listener in list(self.listeners):
                try:
                    listener(event)
                except Exception:  # a listener (an SSE stream) must not stop the others
                    log.exception("event listener failed")
            self._queue.put(event)

    def recent_events(self) -> list[dict]:
        with self._lock:
            return list(self._events)

    def deliveries(self) -> list[dict]:
        with self._lock:
            return list(self._deliveries)

    def drain(self, timeout: float = 10.0) -> None:
        """For tests: wait until every queued event was matched and its deliveries ended."""
        done = threading.Event()
        self._queue.put({"__drain__": done})
        done.wait(timeout)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- matching and delivering ------------------------------------------------------------

    def _run(self) -> None:
        pending: list = []
        while True:
            event = self._queue.get()
            if event is None:
                return
            if "__drain__" in event:
                for future in pending:
                    future.exception()  # waits; a delivery never raises (see _deliver)
                pending.clear()
                event["__drain__"].set()
                continue
            pending = [f for f in pending if not f.done()]
            for rule in self._rules:
                try:
                    if not rule.enabled or not matches(rule.pattern, event):
                        continue
                except Exception:  # a pattern the checks let through: that rule only is skipped
                    log.exception("rule %s: matching failed", rule.name)
                    continue
                for target in rule.targets:
                    pending.append(self._pool.submit(self._deliver, rule, target, event))

    def _deliver(self, rule: Rule, target: Target, event: dict) -> None:
        started = self._clock()
        record = {"time": started, "rule": rule.name, "target": f"{target.kind}:{target.name}",
                  "targetId": target.id, "eventId": event.get("id"), "detailType": event.get("detail-type"),
                  "pipeline": (event.get("detail") or {}).get("pipeline"),
                  "state": (event.get("detail") or {}).get("state")}
        try:
            payload = target.input if target.input is not None else select(event, target.input_path)
            note = sender_for(self.senders, target.kind).send(target.name, payload, rule.name)
        except (DeliveryFailed, TargetNotSupported) as error:
            record.update(status="failed", reason=str(error))
        except Exception as error:  # a sender's bug: still a failed delivery, never an execution's
            log.exception("rule %s: delivery to %s", rule.name, record["target"])
            record.update(status="failed", reason=f"{type(error).__name__}: {error}")
        else:
            record.update(status="ok", reason=note)
        record["seconds"] = round(self._clock() - started, 3)
        (log.info if record["status"] == "ok" else log.warning)(
            "rule %s -> %s (%s %s): %s: %s", rule.name, record["target"], record["detailType"], record["state"],
            record["status"], record["reason"])
        with self._lock:
            self._deliveries.append(record)
            if record["status"] == "ok":
                self.stats.delivered += 1
            else:
                self.stats.failed += 1
        for listener in list(self.delivery_listeners):
            try:
                listener(record)
            except Exception:
                log.exception("delivery listener failed")


def rules_from_folder(folder) -> list[Rule]:
    """The bus's rules from a loaded pipelines folder (`eventRules` of its files and templates)."""
    rules = []
    for path, declared in getattr(folder, "event_rules", []) or []:
        targets = []
        for i, target in enumerate(declared.targets):
            kind, name = target.kind_and_name
            targets.append(Target(kind, name, target.id or str(i + 1), target.input, target.inputPath))
        rules.append(Rule(declared.name, declared.eventPattern, tuple(targets), declared.state == "ENABLED", str(path)))
    return rules
