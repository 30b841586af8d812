"""DeploymentWindow: the rule passes when the moment it runs falls in the window its cron
expression names (AWS's rule reference: seconds, minutes, hours, day-of-month, month,
day-of-week and an optional year, in the rule's TimeZone, UTC by default). Judged against the
engine's clock at the rule's start, so a test or a trainer who sets the daemon's clock moves it.

A moment is in the window when the expression matches its minute. Outside the window the rule
fails and the condition's result engages (FAIL holds the change back): AWS's documentation
does not say the rule waits for the window to open, so it does not wait here either.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from emulator.cron import ScheduleError, deployment_window as window

from . import Verdict, failed, passed


def judge(configuration: dict[str, str], at: float) -> Verdict:
    zone = configuration.get("TimeZone") or "UTC"
    try:
        expression = window(configuration.get("Cron", ""), zone)
    except ScheduleError as exc:
        return failed(str(exc), "ConfigurationError")
    moment = datetime.fromtimestamp(at, timezone.utc).replace(second=0, microsecond=0)
    following = expression.next_after(moment - timedelta(seconds=1))
    shown = f"{moment:%Y-%m-%d %H:%M} UTC"
    if following == moment:
        return passed(f"{shown} is inside the deployment window {configuration.get('Cron')} ({zone})")
    opens = f"; it opens next at {following:%Y-%m-%d %H:%M} UTC" if following else ""
    return failed(f"{shown} is outside the deployment window {configuration.get('Cron')} ({zone}){opens}")
