"""AWS's schedule expressions (`cron(...)`, `rate(...)`): EventBridge's schedules (daemon/schedules.py
fires them) and the DeploymentWindow rule of stage conditions (rules/deployment_window.py) read them.

croniter computes the five classic cron fields, including `L`, `W` and `#`. What it does not
know is AWS's dialect, so this module adds: the sixth (year) field, `?` with the rule that one
of the day fields must be `?`, AWS's day-of-week numbering (1=SUN..7=SAT, croniter's is
0=SUN..6=SAT), `nL` (last weekday n of the month), time zones with EventBridge Scheduler's
daylight-saving rules, and `rate(...)`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from croniter import croniter
from croniter.croniter import CroniterBadDateError, CroniterError


UTC = timezone.utc
MONTHS = {name: number for number, name in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}
WEEKDAYS = {name: number for number, name in enumerate("SUN MON TUE WED THU FRI SAT".split(), 1)}  # AWS: 1=SUN
# name, lowest, highest, names (EventBridge's table)
_FIELDS = {
    "minutes": (0, 59, {}),
    "hours": (0, 23, {}),
    "day-of-month": (1, 31, {}),
    "month": (1, 12, MONTHS),
    "day-of-week": (1, 7, WEEKDAYS),
    "year": (1970, 2199, {}),
}
_ITEM = re.compile(r"(?P<start>\*|\w+)(?:-(?P<end>\w+))?(?:/(?P<step>\d+))?")
_RATE = re.compile(r"rate\(\s*(?P<value>\S+)\s+(?P<unit>\S+)\s*\)")
_RATE_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


def utcnow() -> datetime:
    return datetime.now(UTC)


class ScheduleError(ValueError):
    """An expression EventBridge would reject; the message says what is wrong."""


@dataclass(frozen=True)
class ScheduleExpression:
    text: str
    timezone: str = "UTC"

    def next_after(self, moment: datetime) -> datetime | None:
        """The next fire time strictly after `moment` (aware), in UTC; None if it never fires again."""
        raise NotImplementedError

    def anchored(self, at: datetime) -> "ScheduleExpression":
        """This expression as set at `at`: only a rate depends on when it was set."""
        return self


@dataclass(frozen=True)
class CronExpression(ScheduleExpression):
    classic: str = field(default="", repr=False)  # the five fields as croniter reads them
    years: tuple[int, ...] = field(default=(), repr=False)

    def next_after(self, moment: datetime) -> datetime | None:
        _require_aware(moment)
        zone = ZoneInfo(self.timezone)
        # croniter walks naive wall-clock times; mapping them to instants here is what makes the
        # daylight-saving rules explicit: a wall time that does not exist (spring forward) is
        # skipped, and one that happens twice (fall back) fires once, at its first occurrence.
        base = moment.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
        for _ in range(100_000):
            try:
                candidate = croniter(self.classic, base).get_next(datetime)
            except CroniterBadDateError:
                return None
            if candidate.year not in self.years:
                later = [year for year in self.years if year > candidate.year]
                if not later:
                    return None
                base = datetime(later[0], 1, 1) - timedelta(minutes=1)
                continue
            base = candidate
            local = candidate.replace(tzinfo=zone)
            if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != candidate:
                continue  # inside a spring-forward gap
            instant = local.astimezone(UTC)
            if instant > moment:
                return instant
        return None


@dataclass(frozen=True)
class RateExpression(ScheduleExpression):
    period: timedelta = timedelta(minutes=1)
    anchor: datetime | None = field(default=None, compare=False)

    def next_after(self, moment: datetime) -> datetime | None:
        _require_aware(moment)
        if self.anchor is None:
            return (moment + self.period).astimezone(UTC)
        # A rate counts from when it was set (as EventBridge): anchor + k * period, k >= 1.
        k = max(1, (moment - self.anchor) // self.period + 1)
        return (self.anchor + k * self.period).astimezone(UTC)

    def anchored(self, at: datetime) -> "RateExpression":
        return replace(self, anchor=at)


def every(period: timedelta) -> RateExpression:
    """For tests only: a rate below AWS's one-minute minimum (seconds), which parse() rejects."""
    return RateExpression(f"every({period.total_seconds()}s)", "UTC", period)


def parse(expression: str, timezone: str = "UTC") -> ScheduleExpression:
    """Parse an EventBridge `cron(...)` or `rate(...)` expression; raises ScheduleError."""
    text = expression.strip()
    try:
        ZoneInfo(timezone)
    except Exception:
        raise ScheduleError(f"unknown time zone {timezone!r}") from None
    if text.startswith("rate(") and text.endswith(")"):
        return _parse_rate(text, timezone)
    if text.startswith("cron(") and text.endswith(")"):
        return _parse_cron(text, timezone)
    raise ScheduleError(f"{expression!r}: must be cron(minutes hours day-of-month month day-of-week year) or rate(value unit)")


def _parse_rate(text: str, zone: str) -> RateExpression:
    match = _RATE.fullmatch(text)
    if not match:
        raise ScheduleError(f"{text}: must be rate(value unit), e.g. rate(5 minutes)")
    value, unit = match["value"], match["unit"]
    if not value.isdigit() or int(value) < 1:
        raise ScheduleError(f"{text}: the value must be a positive whole number")
    number = int(value)
    singular = unit.rstrip("s") if unit.endswith("s") else unit
    if singular not in _RATE_UNITS:
        raise ScheduleError(f"{text}: the unit must be minute(s), hour(s) or day(s)")
    # AWS rejects "rate(1 minutes)" and "rate(5 minute)": the unit agrees with the value.
    if number == 1 and unit != singular:
        raise ScheduleError(f"{text}: use the singular unit for a value of 1: rate(1 {singular})")
    if number > 1 and unit == singular:
        raise ScheduleError(f"{text}: use the plural unit for a value above 1: rate({number} {singular}s)")
    return RateExpression(text, zone, number * _RATE_UNITS[singular])


def _parse_cron(text: str, zone: str) -> CronExpression:
    fields = text[len("cron("):-1].split()
    if len(fields) != 6:
        raise ScheduleError(f"{text}: needs six fields (minutes hours day-of-month month day-of-week year), got {len(fields)}")
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ScheduleError(f"{text}: exactly one of day-of-month and day-of-week must be '?'")
    try:
        classic = " ".join([
            _numbers(minutes, "minutes"),
            _numbers(hours, "hours"),
            _day_of_month(dom),
            _numbers(month, "month"),
            _day_of_week(dow),
        ])
        years = tuple(sorted(_expand(year, "year")))
    except ScheduleError as exc:
        raise ScheduleError(f"{text}: {exc}") from None
    try:  # croniter's own checks, and one date to prove it ever fires (e.g. not 30 FEB)
        croniter(classic, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError:
        raise ScheduleError(f"{text}: never matches a date") from None
    except CroniterError as exc:
        raise ScheduleError(f"{text}: {exc}") from None
    return CronExpression(text, zone, classic, years)


def _numbers(text: str, name: str) -> str:
    return ",".join(str(value) for value in sorted(_expand(text, name)))


def _expand(text: str, name: str) -> set[int]:
    """A field of `,`, `-`, `*` and `/` as an explicit set (Quartz's `a/n`: a, a+n, ... to the top)."""
    low, high, names = _FIELDS[name]
    values: set[int] = set()
    for item in text.split(","):
        match = _ITEM.fullmatch(item)
        if not match:
            raise ScheduleError(f"{name}: {item!r} is not a value, range, list or increment")
        if match["start"] == "*":
            if match["end"]:
                raise ScheduleError(f"{name}: {item!r} is not a value, range, list or increment")
            start, end = low, high
        else:
            start = _value(match["start"], name)
            end = _value(match["end"], name) if match["end"] else (high if match["step"] else start)
        if start > end:
            raise ScheduleError(f"{name}: range {item!r} runs backwards")
        step = int(match["step"]) if match["step"] else 1
        if step < 1:
            raise ScheduleError(f"{name}: increment in {item!r} must be positive")
        values.update(range(start, end + 1, step))
    return values


def _value(token: str, name: str) -> int:
    low, high, names = _FIELDS[name]
    number = names.get(token.upper()) if not token.isdigit() else int(token)
    if number is None or not low <= number <= high:
        spelled = f" or {min(names, key=names.get)}-{max(names, key=names.get)}" if names else ""
        raise ScheduleError(f"{name}: {token!r} is not in {low}-{high}{spelled}")
    return number


def _day_of_month(text: str) -> str:
    if text == "?":
        return "*"
    if text == "L":
        return "L"
    match = re.fullmatch(r"(\d+)W", text)
    if match:
        return f"{_value(match[1], 'day-of-month')}W"
    if "L" in text or "W" in text:
        raise ScheduleError(f"day-of-month: {text!r}: L and nW stand alone in the field")
    return _numbers(text, "day-of-month")


def _day_of_week(text: str) -> str:
    """AWS's day-of-week (1=SUN..7=SAT) in croniter's numbering (0=SUN..6=SAT)."""
    if text == "?":
        return "*"
    if text == "L":
        return "6"  # Quartz: L alone in day-of-week is the last day of the week, Saturday
    match = re.fullmatch(r"(\w+)L", text)
    if match:
        return f"L{_value(match[1], 'day-of-week') - 1}"  # croniter spells "last Friday" L5
    match = re.fullmatch(r"(\w+)#(\d+)", text)
    if match:
        nth = int(match[2])
        if not 1 <= nth <= 5:
            raise ScheduleError(f"day-of-week: {text!r}: the week of the month must be 1-5")
        return f"{_value(match[1], 'day-of-week') - 1}#{nth}"
    if "#" in text or "L" in text.upper():  # no day name contains an L
        raise ScheduleError(f"day-of-week: {text!r}: nL and n#k stand alone in the field")
    if "/" in text:
        raise ScheduleError(f"day-of-week: {text!r}: increments are not allowed in day-of-week")
    return ",".join(str(value - 1) for value in sorted(_expand(text, "day-of-week")))


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("next_after needs an aware datetime")


# Time zones AWS's examples name by abbreviation (the DeploymentWindow rule's user guide example
# says `TimeZone: PST`), which the IANA database does not know as such: the zone they stand for.
ABBREVIATIONS = {"PST": "America/Los_Angeles", "PDT": "America/Los_Angeles", "MST": "America/Denver",
                 "MDT": "America/Denver", "CST": "America/Chicago", "CDT": "America/Chicago",
                 "EST": "America/New_York", "EDT": "America/New_York", "AKST": "America/Anchorage",
                 "HST": "Pacific/Honolulu", "BST": "Europe/London", "IST": "Asia/Kolkata",
                 "JST": "Asia/Tokyo", "AEST": "Australia/Sydney"}


def deployment_window(expression: str, zone: str = "UTC"):
    """The schedule expression of a DeploymentWindow rule's Cron (seconds first, the year optional;
    ScheduleError if AWS would refuse it)."""
    fields = expression.split()
    if len(fields) not in (6, 7):
        raise ScheduleError(f"Cron {expression!r}: needs six or seven fields (seconds minutes hours "
                            f"day-of-month month day-of-week [year]), got {len(fields)}")
    if fields[0] not in ("*", "0"):
        raise ScheduleError(f"Cron {expression!r}: the seconds field takes only '*'")
    year = fields[6] if len(fields) == 7 else "*"
    try:
        return parse(f"cron({' '.join([*fields[1:6], year])})", ABBREVIATIONS.get(zone.upper(), zone))
    except ScheduleError as exc:  # said of the expression as written, not of the cron() it became
        raise ScheduleError(f"Cron {expression!r}: {str(exc).split('): ', 1)[-1]}") from None
