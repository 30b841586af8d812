"""The rules that judge without a container, table-driven: VariableCheck's operators,
DeploymentWindow's cron (the rule reference's field rules, time zones), CloudWatchAlarm's states
and WaitTime against an alarm stand-in that a test flips."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from emulator.rules import cloudwatch_alarm, deployment_window, variable_check


@pytest.mark.parametrize("variable, operator, value, passes", [
    ("main", "EQ", "main", True),
    ("main", "EQ", "Main", False),
    ("feature/x", "NE", "main", True),
    ("release: v2", "CONTAINS", "release", True),
    ("chore", "CONTAINS", "release", False),
    ("v1.2.3", "MATCHES", r"v\d+\.\d+\.\d+", True),
    ("v1.2.3-rc1", "MATCHES", r"v\d+\.\d+\.\d+", False),  # the whole value, as Java's matches()
])
def test_variable_check(variable, operator, value, passes):
    verdict = variable_check.judge({"Variable": variable, "Operator": operator, "Value": value})
    assert verdict.passed is passes
    assert repr(variable) in (verdict.summary or verdict.message)


@pytest.mark.parametrize("configuration, code", [
    ({"Variable": "a", "Operator": "GT", "Value": "b"}, "ConfigurationError"),
    ({"Variable": "a", "Operator": "MATCHES", "Value": "("}, "ConfigurationError"),
])
def test_variable_check_refuses_what_it_cannot_judge(configuration, code):
    verdict = variable_check.judge(configuration)
    assert not verdict.passed and verdict.error_code == code


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize("cron, zone, moment, passes", [
    ("* * 9-16 ? * MON-FRI *", "UTC", "2026-12-01T09:00:00", True),    # a Tuesday, at the opening
    ("* * 9-16 ? * MON-FRI *", "UTC", "2026-12-01T16:59:59", True),
    ("* * 9-16 ? * MON-FRI *", "UTC", "2026-12-01T17:00:00", False),
    ("* * 9-16 ? * MON-FRI *", "UTC", "2026-12-05T10:00:00", False),   # a Saturday
    ("* * 9-16 ? * MON-FRI", "Europe/Berlin", "2026-12-01T08:30:00", True),  # 09:30 in Berlin (no year field)
    ("* * 9-16 ? * 2-6 *", "UTC", "2026-12-01T10:00:00", True),        # AWS's numbers: 2=MON .. 6=FRI
    ("* 0-29 * * * ? *", "UTC", "2026-12-01T10:31:00", False),
    ("* * * L * ? *", "UTC", "2026-12-31T23:00:00", True),             # the last day of the month
    ("* * * ? * * 2030", "UTC", "2026-12-01T10:00:00", False),
])
def test_deployment_window(cron, zone, moment, passes):
    verdict = deployment_window.judge({"Cron": cron, "TimeZone": zone}, at(moment))
    assert verdict.passed is passes, verdict


@pytest.mark.parametrize("cron", ["* * *", "30 * * ? * * *", "* * 25 ? * * *", "* * * 5 * 2 *"])
def test_a_cron_aws_would_refuse_is_a_configuration_error(cron):
    verdict = deployment_window.judge({"Cron": cron}, at("2026-12-01T10:00:00"))
    assert not verdict.passed and verdict.error_code == "ConfigurationError"


@dataclass
class State:
    value: str
    reason: str = ""


class Alarms:
    """An alarm stand-in a test flips (the daemon's is emulator's alarm store, same interface)."""

    def __init__(self, **states: str):
        self.states = {name: State(value) for name, value in states.items()}
        self.changed = threading.Condition()

    def state(self, name: str):
        return self.states.get(name)

    def set(self, name: str, value: str) -> None:
        with self.changed:
            self.states[name] = State(value, "set by the test")
            self.changed.notify_all()

    def wait_for_change(self, timeout: float) -> None:
        with self.changed:
            self.changed.wait(timeout)


def test_an_alarm_in_alarm_fails_the_rule_at_once_and_ok_passes_once_the_wait_is_over():
    alarms = Alarms(Errors="ALARM", Latency="OK")
    now = time.time()
    failed = cloudwatch_alarm.judge(alarms, {"AlarmName": "Errors"}, now, threading.Event())
    assert not failed.passed and "Errors is ALARM" in failed.message
    assert cloudwatch_alarm.judge(alarms, {"AlarmName": "Latency"}, now, threading.Event()).passed
    missing = cloudwatch_alarm.judge(alarms, {"AlarmName": "Nope"}, now, threading.Event())
    assert not missing.passed and "alarms:" in missing.message


def test_an_alarm_that_fires_during_the_wait_fails_the_rule():
    alarms = Alarms(Errors="OK")
    started = time.time()
    threading.Timer(0.3, alarms.set, ("Errors", "ALARM")).start()
    verdict = cloudwatch_alarm.judge(alarms, {"AlarmName": "Errors", "WaitTime": "1"}, started, threading.Event())
    assert not verdict.passed and time.time() - started < 5  # woken by the change, not after the minute
    calm = Alarms(Errors="OK")
    watched = cloudwatch_alarm.judge(calm, {"AlarmName": "Errors", "WaitTime": "0.01"}, time.time(), threading.Event())
    assert watched.passed and "stayed OK" in watched.summary


def test_the_monitored_states_can_be_named():
    alarms = Alarms(Errors="INSUFFICIENT_DATA")
    names = {"AlarmName": "Errors", "AlarmStates": "ALARM,INSUFFICIENT_DATA"}
    assert not cloudwatch_alarm.judge(alarms, names, time.time(), threading.Event()).passed
    assert cloudwatch_alarm.judge(alarms, {"AlarmName": "Errors"}, time.time(), threading.Event()).passed


def test_the_user_guides_abbreviated_time_zone_is_read():
    """The user guide's DeploymentWindow example says TimeZone: PST."""
    verdict = deployment_window.judge({"Cron": "* * 9-16 ? * MON-FRI *", "TimeZone": "PST"}, at("2026-12-01T17:30:00"))
    assert verdict.passed  # 09:30 in Los Angeles
