"""`pipemu alarm`: the local CloudWatch alarm stand-ins (`alarms:` in the pipelines folder), set
and listed through the daemon's CloudWatch API (SetAlarmState, DescribeAlarms), as any client
would: a user flips an alarm that a pipeline's CloudWatchAlarm rule watches."""

from __future__ import annotations

import click

STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")


def register(main: click.Group, client_command) -> None:
    @main.group()
    def alarm() -> None:
        """The local CloudWatch alarms (declared under alarms: in the pipelines folder)."""

    @alarm.command("set")
    @click.argument("name")
    @click.argument("state", type=click.Choice(STATES, case_sensitive=False))
    @click.option("--reason", default=None, help="The StateReason (default: who set it, and how).")
    @client_command
    def set_command(out, name: str, state: str, reason: str | None) -> None:
        """Set alarm NAME to STATE (OK, ALARM or INSUFFICIENT_DATA) until it is set again.

        --json prints {"AlarmName", "StateValue", "StateReason"} as DescribeAlarms then answers.

        Exit codes: 0 set, 2 usage error, 3 daemon not reachable, 4 AWS error from the daemon
        (ResourceNotFound: no alarm of this name is declared)."""
        state = state.upper()
        out.daemon.call_service("cloudwatch", "set_alarm_state", AlarmName=name, StateValue=state,
                                StateReason=reason if reason is not None else "Set with pipemu alarm set")
        found = out.daemon.call_service("cloudwatch", "describe_alarms", AlarmNames=[name])["MetricAlarms"]
        now = found[0] if found else {"AlarmName": name, "StateValue": state}
        out.emit({k: now.get(k) for k in ("AlarmName", "StateValue", "StateReason")},
                 f"{name}: {now['StateValue']}")

    @alarm.command("list")
    @click.option("--state", type=click.Choice(STATES, case_sensitive=False), default=None,
                  help="Only the alarms in this state.")
    @client_command
    def list_command(out, state: str | None) -> None:
        """Every declared alarm: its state, since when, and why.

        --json prints DescribeAlarms' MetricAlarms (AWS's shape, timestamps as ISO 8601).

        Exit codes: 0 listed, 2 usage error, 3 daemon not reachable, 4 AWS error from the daemon."""
        params = {"StateValue": state.upper()} if state else {}
        alarms, token = [], None
        while True:
            page = out.daemon.call_service("cloudwatch", "describe_alarms", **params,
                                           **({"NextToken": token} if token else {}))
            alarms.extend(page.get("MetricAlarms", []))
            token = page.get("NextToken")
            if not token:
                break
        if out.json:
            out.emit([{**a, **{k: a[k].isoformat() for k in ("StateUpdatedTimestamp", "StateTransitionedTimestamp")
                               if k in a}} for a in alarms])
            return
        if not alarms:
            click.echo("no alarms" + (f" in {state.upper()}" if state else "") + " (declare them under alarms:)")
            return
        width = max(len(a["AlarmName"]) for a in alarms)
        for a in alarms:
            since = a["StateUpdatedTimestamp"].strftime("%Y-%m-%d %H:%M:%S")
            click.echo(f"{a['AlarmName']:<{width}}  {a['StateValue']:<17}  {since}  {a.get('StateReason', '')}")
