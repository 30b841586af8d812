"""`pipemu events`: CodePipeline's recent EventBridge events and what the folder's event rules
did with them (GET /pipemu/deliveries), or, with --follow, both as they happen (the
`?aws=true` stream of /pipemu/events)."""

from __future__ import annotations

import json
import time
import urllib.request

import click

from emulator.cli_client import CliError, UNREACHABLE, unreachable


def _when(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))


def event_line(event: dict) -> str:
    detail = event.get("detail") or {}
    kind = (event.get("detail-type") or "").replace("CodePipeline ", "").replace(" Execution State Change", "")
    where = "/".join(x for x in (detail.get("pipeline"), detail.get("stage"), detail.get("action")) if x)
    return f"{event.get('time', '')}  {kind.lower():<8}  {detail.get('state', ''):<10}  {where}  " \
           f"{(detail.get('execution-id') or '')[:8]}"


def delivery_line(record: dict) -> str:
    mark = "ok    " if record.get("status") == "ok" else "FAILED"
    return f"{_when(record.get('time', 0))}  {mark}  rule {record.get('rule')} -> {record.get('target')}  " \
           f"({record.get('state')} {record.get('pipeline') or ''}): {record.get('reason')}"


def register(main: click.Group, client_command) -> None:
    @main.command()
    @click.option("--limit", default=20, show_default=True, help="How many of the latest events and deliveries.")
    @click.option("--failed", is_flag=True, help="Only the deliveries that failed.")
    @click.option("--follow", is_flag=True, help="Print events and deliveries as they happen, until Ctrl-C.")
    @client_command
    def events(out, limit: int, failed: bool, follow: bool) -> None:
        """CodePipeline's state-change events (as EventBridge shapes them) and their deliveries
        to the targets of the folder's event rules (eventRules:, AWS::Events::Rule).

        --json prints {"events": [...], "deliveries": [...]} as GET /pipemu/deliveries answers.

        Exit codes: 0 shown, 2 usage error, 3 daemon not reachable."""
        if follow:
            _follow(out, failed)
            return
        found = out.daemon.get("/pipemu/deliveries")
        deliveries = [d for d in found.get("deliveries", []) if not failed or d.get("status") != "ok"][-limit:]
        recent = found.get("events", [])[-limit:]
        if out.json:
            out.emit({"events": recent, "deliveries": deliveries})
            return
        click.echo("events:" if recent else "no events yet")
        for event in recent:
            click.echo("  " + event_line(event))
        click.echo("deliveries:" if deliveries else "no deliveries" + (" failed" if failed else " yet"))
        for record in deliveries:
            click.echo("  " + delivery_line(record))


def _follow(out, failed: bool) -> None:
    daemon = out.daemon
    try:
        stream = urllib.request.urlopen(daemon._signed_get("/pipemu/events?aws=true", {}), timeout=60)
    except OSError as error:
        raise unreachable(daemon.endpoint, getattr(error, "reason", error)) from None
    name = "message"
    with stream:
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:") and name in ("aws", "delivery"):
                body = json.loads(line[5:])
                if out.json:
                    click.echo(json.dumps({"kind": name, name: body}))
                elif name == "aws" and not failed:
                    click.echo(event_line(body))
                elif name == "delivery" and (not failed or body.get("status") != "ok"):
                    click.echo(delivery_line(body))
            elif not line:
                name = "message"
    raise CliError(f"the daemon at {daemon.endpoint} closed the event stream", UNREACHABLE)
