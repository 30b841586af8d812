"""CloudWatchAlarm: the rule watches a local alarm stand-in (`alarms:`; its state set with
`pipemu alarm set`, SetAlarmState or the dashboard). It fails as soon as the alarm is in one of
the monitored `AlarmStates` (ALARM unless given; a comma-separated list), at its start or at
any moment of its `WaitTime` (minutes, AWS's unit; 0 when not given: the state now decides),
and passes once the wait is over without that.
"""

from __future__ import annotations

import json
import threading
import time

from . import Verdict, failed, passed

STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")


def _states(text: str | None) -> list[str]:
    if not text:
        return ["ALARM"]
    try:
        found = json.loads(text)
    except ValueError:
        found = text.split(",")
    return [str(s).strip().upper() for s in (found if isinstance(found, list) else [found]) if str(s).strip()]


def judge(alarms, configuration: dict[str, str], started_at: float, cancel: threading.Event,
          clock=time.time) -> Verdict:
    name = configuration.get("AlarmName", "")
    states = _states(configuration.get("AlarmStates"))
    unknown = [s for s in states if s not in STATES]
    if unknown:
        return failed(f"AlarmStates {', '.join(unknown)}: not one of {', '.join(STATES)}", "ConfigurationError")
    try:
        wait = float(configuration.get("WaitTime") or 0) * 60
    except ValueError:
        return failed(f"WaitTime {configuration.get('WaitTime')!r} is not a number of minutes", "ConfigurationError")
    deadline = started_at + wait  # the engine's time: a restarted rule waits only what is left
    while True:
        state = alarms.state(name) if alarms is not None else None
        if state is None:
            return failed(f"Alarm {name} does not exist: declare its stand-in under alarms: in a file of the "
                          "pipelines folder", "ConfigurationError")
        if state.value in states:
            return failed(f"Alarm {name} is {state.value}" + (f": {state.reason}" if state.reason else ""))
        remaining = deadline - clock()
        if remaining <= 0:
            waited = f" for {wait / 60:g} minute(s)" if wait else ""
            return passed(f"Alarm {name} stayed {state.value}{waited}")
        if cancel.is_set():
            return failed("Cancelled", "Cancelled")
        alarms.wait_for_change(min(remaining, 1.0))
