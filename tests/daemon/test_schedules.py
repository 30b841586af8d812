"""AWS cron and rate expressions, and the Scheduler with a fake clock and in real time."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from emulator.cron import ScheduleError, every, parse
from emulator.daemon.schedules import Scheduler

UTC = timezone.utc


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("expression, moment, expected", [
    # the article's release schedule: Friday 01:00 -> Monday 01:00
    ("cron(0 1 ? * MON-FRI *)", at(2024, 5, 3, 1, 0), at(2024, 5, 6, 1, 0)),
    ("cron(0 1 ? * MON-FRI *)", at(2024, 5, 6, 0, 59, 59), at(2024, 5, 6, 1, 0)),
    ("cron(0 1 ? * 2-6 *)", at(2024, 5, 3, 1, 0), at(2024, 5, 6, 1, 0)),  # AWS numbering: 2=MON..6=FRI
    ("cron(0/15 * * * ? *)", at(2024, 5, 3, 1, 7), at(2024, 5, 3, 1, 15)),
    ("cron(0/15 * * * ? *)", at(2024, 5, 3, 1, 45), at(2024, 5, 3, 2, 0)),
    ("cron(5/20 * * * ? *)", at(2024, 5, 3, 1, 46), at(2024, 5, 3, 2, 5)),
    ("cron(0 12 L * ? *)", at(2024, 2, 3), at(2024, 2, 29, 12)),
    ("cron(0 12 L * ? *)", at(2024, 2, 29, 12), at(2024, 3, 31, 12)),
    ("cron(0 9 ? * 2#1 *)", at(2024, 5, 7), at(2024, 6, 3, 9)),  # first Monday
    ("cron(0 10 ? * 6L *)", at(2024, 5, 1), at(2024, 5, 31, 10)),  # last Friday
    ("cron(0 10 ? * 1 *)", at(2024, 5, 1), at(2024, 5, 5, 10)),  # 1 = Sunday
    ("cron(0 10 ? * 7 *)", at(2024, 5, 1), at(2024, 5, 4, 10)),  # 7 = Saturday
    ("cron(0 0 15W * ? *)", at(2024, 6, 1), at(2024, 6, 14)),  # the 15th is a Saturday
    ("cron(0 0 15W * ? *)", at(2024, 9, 1), at(2024, 9, 16)),  # the 15th is a Sunday
    ("cron(0 0 1W * ? *)", at(2024, 5, 20), at(2024, 6, 3)),  # never into the previous month
    ("cron(30 2 ? JAN,JUL SUN *)", at(2024, 2, 1), at(2024, 7, 7, 2, 30)),
    ("cron(30 2 ? jan,jul sun *)", at(2024, 7, 7, 2, 30), at(2024, 7, 14, 2, 30)),
    ("cron(0 0 1 1 ? 2030-2032)", at(2024, 2, 1), at(2030, 1, 1)),
    ("cron(0 0 1 1 ? 2030-2032)", at(2031, 1, 1), at(2032, 1, 1)),
    ("cron(0 0 1 1 ? 2030-2032)", at(2032, 1, 1), None),  # never again
    ("rate(5 minutes)", at(2024, 5, 3, 1, 7, 30), at(2024, 5, 3, 1, 12, 30)),
    ("rate(1 day)", at(2024, 5, 3, 1, 7), at(2024, 5, 4, 1, 7)),
    ("rate(2 hours)", at(2024, 5, 3, 1, 7), at(2024, 5, 3, 3, 7)),
])
def test_next_after(expression, moment, expected):
    assert parse(expression).next_after(moment) == expected


def test_odd_years_never_have_a_29th_of_february():
    assert parse("cron(0 0 29 2 ? 2025/2)").next_after(at(2024, 1, 1)) is None
    assert parse("cron(0 0 29 2 ? 2025-2199/3)").next_after(at(2024, 1, 1)) == at(2028, 2, 29)


@pytest.mark.parametrize("moment, expected", [
    (at(2024, 3, 29, 12), at(2024, 3, 30, 1, 30)),  # CET: 02:30 is 01:30 UTC
    (at(2024, 3, 30, 12), at(2024, 4, 1, 0, 30)),  # 31 March 02:30 does not exist: skipped
    (at(2024, 10, 26, 12), at(2024, 10, 27, 0, 30)),  # 27 October 02:30 happens twice: the first
    (at(2024, 10, 27, 0, 30), at(2024, 10, 28, 1, 30)),  # ... and only once
])
def test_time_zone_across_daylight_saving(moment, expected):
    assert parse("cron(30 2 * * ? *)", "Europe/Berlin").next_after(moment) == expected


def test_time_zone_keeps_the_wall_clock():
    release = parse("cron(0 1 ? * MON-FRI *)", "Europe/Berlin")
    assert release.next_after(at(2024, 3, 29, 0, 0)) == at(2024, 3, 31, 23, 0)  # Monday 01:00 CEST
    assert release.next_after(at(2024, 3, 28, 0, 0)) == at(2024, 3, 29, 0, 0)  # Friday 01:00 CET


def test_results_are_utc_and_need_aware_input():
    assert parse("rate(1 minute)").next_after(datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=2)))).tzinfo == UTC
    with pytest.raises(ValueError):
        parse("rate(1 minute)").next_after(datetime(2024, 1, 1))


@pytest.mark.parametrize("expression, message", [
    ("cron(0 1 * * * *)", "one of day-of-month and day-of-week must be '?'"),
    ("cron(0 1 ? * ? *)", "one of day-of-month and day-of-week must be '?'"),
    ("cron(0 1 * * ?)", "six fields"),
    ("cron(0 1 * * ? * *)", "six fields"),
    ("cron(60 1 * * ? *)", "minutes: '60' is not in 0-59"),
    ("cron(0 24 * * ? *)", "hours"),
    ("cron(0 1 32 * ? *)", "day-of-month"),
    ("cron(0 1 * 13 * ?)", "month"),
    ("cron(0 1 ? * 0 *)", "day-of-week: '0' is not in 1-7 or SUN-SAT"),
    ("cron(0 1 ? * FUN *)", "day-of-week"),
    ("cron(0 1 ? * 2#6 *)", "week of the month"),
    ("cron(0 1 ? * 2#1,6#3 *)", "stand alone"),
    ("cron(0 1 * * ? 1969)", "year"),
    ("cron(0 1 5-2 * ? *)", "backwards"),
    ("cron(0 0 30 2 ? *)", "never matches"),
    ("cron(a 1 * * ? *)", "minutes"),
    ("rate(0 minutes)", "positive"),
    ("rate(-1 minutes)", "positive"),
    ("rate(1 minutes)", "rate(1 minute)"),
    ("rate(1 hours)", "rate(1 hour)"),
    ("rate(5 minute)", "rate(5 minutes)"),
    ("rate(2 day)", "rate(2 days)"),
    ("rate(5 weeks)", "minute(s), hour(s) or day(s)"),
    ("rate(5)", "rate(value unit)"),
    ("every 5 minutes", "must be cron"),
])
def test_errors(expression, message):
    with pytest.raises(ScheduleError, match=None) as error:
        parse(expression)
    assert message in str(error.value)


def test_unknown_time_zone():
    with pytest.raises(ScheduleError, match="time zone"):
        parse("rate(1 day)", "Mars/Olympus")


class FakeClock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def recorder():
    fired: list[tuple[str, str]] = []
    return fired, lambda key, pipeline: fired.append((key, pipeline))


def test_advance_fires_each_due_schedule_once_in_order():
    clock = FakeClock(at(2024, 5, 3, 0, 0))
    fired, fire = recorder()
    scheduler = Scheduler(fire, clock)
    scheduler.set_schedules({
        "nightly": (parse("cron(0 1 ? * MON-FRI *)"), "my-release-pipeline"),
        "quarter": (parse("cron(0/15 * * * ? *)"), "svc-a"),
        "rate": (parse("rate(1 hour)"), "svc-b"),
    })
    scheduler.advance(at(2024, 5, 3, 0, 14))
    assert fired == []
    scheduler.advance(at(2024, 5, 3, 0, 15))
    assert fired == [("quarter", "svc-a")]
    # two hours pass at once: every due schedule fires once (missed fires are not replayed), by due time
    fired.clear()
    scheduler.advance(at(2024, 5, 3, 2, 0))
    # quarter was due at 00:30; nightly and the rate (set at 00:00) both at 01:00
    assert fired == [("quarter", "svc-a"), ("nightly", "my-release-pipeline"), ("rate", "svc-b")]
    fired.clear()
    scheduler.advance(at(2024, 5, 3, 2, 0))
    assert fired == []  # nothing fires twice
    scheduler.advance(at(2024, 5, 3, 2, 15))
    assert fired == [("quarter", "svc-a")]


def test_a_rate_counts_from_when_it_was_set():
    clock = FakeClock(at(2024, 5, 3, 0, 7))
    fired, fire = recorder()
    scheduler = Scheduler(fire, clock)
    scheduler.set_schedules({"r": (parse("rate(5 minutes)"), "p")})
    assert scheduler.next_fire() == at(2024, 5, 3, 0, 12)
    scheduler.advance(at(2024, 5, 3, 0, 13))
    assert fired == [("r", "p")]
    assert scheduler.next_fire() == at(2024, 5, 3, 0, 17)  # still on the 5-minute grid from 00:07


def test_set_schedules_replaces_and_keeps_unchanged_ones():
    clock = FakeClock(at(2024, 5, 3, 0, 0))
    fired, fire = recorder()
    scheduler = Scheduler(fire, clock)
    scheduler.set_schedules({"a": (parse("rate(10 minutes)"), "p"), "b": (parse("rate(1 minute)"), "q")})
    clock.now = at(2024, 5, 3, 0, 6)
    # a reload: "a" unchanged keeps its count (due at 00:10), "b" removed, "c" new (due 00:08)
    scheduler.set_schedules({"a": (parse("rate(10 minutes)"), "p"), "c": (parse("rate(2 minutes)"), "r")})
    scheduler.advance(at(2024, 5, 3, 0, 10))
    assert fired == [("c", "r"), ("a", "p")]
    fired.clear()
    scheduler.set_schedules({})
    scheduler.advance(at(2024, 5, 4))
    assert fired == []


def test_a_failing_target_does_not_stop_the_others():
    fired = []

    def fire(key, pipeline):
        fired.append(key)
        if key == "a":
            raise RuntimeError("no such pipeline")

    scheduler = Scheduler(fire, FakeClock(at(2024, 5, 3)))
    scheduler.set_schedules({"a": (parse("rate(1 minute)"), "p"), "b": (parse("rate(2 minutes)"), "q")})
    scheduler.advance(at(2024, 5, 3, 0, 2))
    assert fired == ["a", "b"]


def test_missed_fires_are_not_replayed_on_start():
    clock = FakeClock(at(2024, 5, 3, 0, 0))
    fired, fire = recorder()
    scheduler = Scheduler(fire, clock)
    scheduler.set_schedules({"q": (parse("cron(0/15 * * * ? *)"), "p")})
    clock.now = at(2024, 5, 3, 3, 1)  # the daemon was slow to start
    scheduler.start()
    try:
        assert scheduler.next_fire() == at(2024, 5, 3, 3, 15)
    finally:
        scheduler.stop()
    assert fired == []


def test_the_thread_fires_in_real_time():
    fired = threading.Event()
    times = []

    def fire(key, pipeline):
        times.append((key, pipeline))
        if len(times) >= 2:
            fired.set()

    scheduler = Scheduler(fire)
    scheduler.start()
    try:
        scheduler.set_schedules({"fast": (every(timedelta(seconds=0.2)), "p")})  # wakes the sleeping thread
        assert fired.wait(2.0), times
    finally:
        scheduler.stop()
    assert times[:2] == [("fast", "p"), ("fast", "p")]


def test_stop_wakes_an_idle_thread_at_once():
    scheduler = Scheduler(lambda key, pipeline: None)
    scheduler.set_schedules({"yearly": (parse("cron(0 0 1 1 ? *)"), "p")})
    scheduler.start()
    started = datetime.now()
    scheduler.stop()
    # At once rather than at the next new year; 5 s (was 1) leaves room for a machine loaded by
    # parallel test workers.
    assert datetime.now() - started < timedelta(seconds=5)
