"""What the CLI prints: the article's table (`status`), the execution history, and JSON. Pure
functions from the API's answers to text; colour only when asked for (a terminal, no NO_COLOR)."""

from __future__ import annotations

import datetime as dt
import json
import re

import click

from emulator.demo.scenario import SYMBOLS

STATUS_COLOURS = {"Succeeded": "green", "Failed": "red", "InProgress": "yellow", "Stopping": "magenta",
                  "Stopped": "magenta", "Superseded": "bright_black", "Cancelled": "bright_black",
                 "Waiting": "cyan"}
CLOSED = "⊘"  # a disabled inbound transition
COMMIT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def to_json(value) -> str:
    """JSON with timestamps as ISO 8601 (botocore answers datetimes)."""
    def default(obj):
        if isinstance(obj, (dt.datetime, dt.date)):
            return obj.isoformat()
        raise TypeError(f"{type(obj).__name__} is not JSON serializable")

    return json.dumps(value, indent=2, default=default, ensure_ascii=False)


class Paint:
    """click.style when colour is on, plain text otherwise."""

    def __init__(self, colour: bool):
        self.colour = colour

    def __call__(self, text: str, **style) -> str:
        style = {key: value for key, value in style.items() if value}
        return click.style(text, **style) if self.colour and style else text

    def status(self, text: str, status: str | None) -> str:
        return self(text, fg=STATUS_COLOURS.get(status or "", None), bold=status == "Failed")


# -- revisions -----------------------------------------------------------------------------------


def revision_label(source_revisions: list[dict] | None, by: str = "commit") -> str | None:
    """The short form of an execution's first source revision: 7 characters of a commit id, or
    (by="message") the first words of its commit message."""
    for revision in source_revisions or ():
        revision_id, summary = revision.get("revisionId") or "", revision.get("revisionSummary") or ""
        if by == "message" and summary.strip():
            words = summary.strip().splitlines()[0].split()
            text = " ".join(words[:3])
            return text if len(text) <= 24 else text[:23] + "…"
        if revision_id:
            return revision_id[:7] if COMMIT_ID.fullmatch(revision_id) else revision_id[:24]
    return None


def revision_labels(summaries: list[dict], by: str = "commit") -> dict[str, str]:
    """Execution id -> its revision label, from ListPipelineExecutions' summaries."""
    labels = {}
    for summary in summaries:
        label = revision_label(summary.get("sourceRevisions"), by)
        labels[summary["pipelineExecutionId"]] = label or summary["pipelineExecutionId"][:8]
    return labels


# -- status --------------------------------------------------------------------------------------


def status_model(state: dict, labels: dict[str, str]) -> dict:
    """One pipeline's row of the table, in the shape `status --json` prints."""
    stages = []
    for stage in state["stageStates"]:
        latest = stage.get("latestExecution")
        entry: dict = {"stageName": stage["stageName"], "latestExecution": None}
        if latest:
            execution_id = latest["pipelineExecutionId"]
            entry["latestExecution"] = {"pipelineExecutionId": execution_id, "status": latest["status"],
                                        "revision": labels.get(execution_id, execution_id[:8])}
        waiting = stage.get("inboundExecutions") or ([stage["inboundExecution"]] if stage.get("inboundExecution") else [])
        entry["waiting"] = [{"pipelineExecutionId": w["pipelineExecutionId"],
                             "revision": labels.get(w["pipelineExecutionId"], w["pipelineExecutionId"][:8])}
                            for w in waiting]
        transition = stage.get("inboundTransitionState") or {}
        entry["transitionEnabled"] = transition.get("enabled", True)
        if not entry["transitionEnabled"]:
            entry["disabledReason"] = transition.get("disabledReason", "")
        entry["pendingApprovals"] = [
            {"actionName": action["actionName"], "summary": action["latestExecution"].get("summary")}
            for action in stage.get("actionStates", [])
            if action.get("latestExecution", {}).get("status") == "InProgress" and "token" in action["latestExecution"]
        ]
        entry["cell"] = cell(entry["latestExecution"])
        stages.append(entry)
    return {"pipelineName": state["pipelineName"], "pipelineVersion": state.get("pipelineVersion"), "stages": stages}


def cell(latest: dict | None) -> str:
    """The article's cell: `c1 ◯`, `c2 ✓`, `c3 superseded`; `-` for a stage nothing entered."""
    if not latest:
        return "-"
    return f"{latest['revision']} {SYMBOLS.get(latest['status'], latest['status'])}"


def waiting_cell(stage: dict) -> str:
    text = ", ".join(w["revision"] for w in stage["waiting"])
    if not stage["transitionEnabled"]:
        text = f"{CLOSED} {text}".strip()
    return text


def _table(rows: list[tuple[list[str], list[str | None]]], paint: Paint) -> list[str]:
    """Rows of (texts, statuses) in aligned columns; statuses colour their cells."""
    widths = [max(len(texts[i]) for texts, _ in rows) for i in range(len(rows[0][0]))]
    lines = []
    for texts, statuses in rows:
        parts = [paint.status(text.ljust(width), status) if status != "header" else paint(text.ljust(width), bold=True)
                 for text, width, status in zip(texts, widths, statuses)]
        lines.append("  ".join(parts).rstrip())
    return lines


def render_status(models: list[dict], definition_errors: list[str], paint: Paint) -> str:
    """The table, one block per distinct list of stages (a product's services share theirs),
    then the closed entrances, the approvals that wait, and the daemon's definition errors."""
    blocks: list[tuple[tuple[str, ...], list[dict]]] = []
    for model in models:
        stages = tuple(s["stageName"] for s in model["stages"])
        for known, members in blocks:
            if known == stages:
                members.append(model)
                break
        else:
            blocks.append((stages, [model]))
    out: list[str] = []
    for stages, members in blocks:
        rows: list[tuple[list[str], list[str | None]]] = [(["PIPELINE", *stages], ["header"] * (len(stages) + 1))]
        for model in members:
            rows.append(([model["pipelineName"], *(s["cell"] for s in model["stages"])],
                         [None, *((s["latestExecution"] or {}).get("status") for s in model["stages"])]))
            if any(s["waiting"] or not s["transitionEnabled"] for s in model["stages"]):
                rows.append((["  waiting", *(waiting_cell(s) for s in model["stages"])],
                             [None, *("Waiting" for _ in model["stages"])]))
        if out:
            out.append("")
        out.extend(_table(rows, paint))
    notes = []
    for model in models:
        name = model["pipelineName"]
        for stage in model["stages"]:
            if not stage["transitionEnabled"]:
                reason = stage.get("disabledReason") or "no reason given"
                notes.append(paint(f"{CLOSED} {name}: entrance of {stage['stageName']} disabled: {reason}", fg="magenta"))
            for approval in stage["pendingApprovals"]:
                revision = (stage["latestExecution"] or {}).get("revision", "?")
                summary = f" ({approval['summary']})" if approval.get("summary") else ""
                notes.append(paint(f"? {name}: {stage['stageName']}.{approval['actionName']} awaits approval of "
                                   f"{revision}{summary}: pipemu approve|reject {name} {stage['stageName']}", fg="cyan"))
    if not models:
        out.append("no pipelines")
    if notes:
        out.append("")
        out.extend(notes)
    if definition_errors:
        out.append("")
        out.extend(paint(f"! {error}", fg="red") for error in definition_errors)
    return "\n".join(out)


# -- history -------------------------------------------------------------------------------------


def when(moment) -> str:
    if not isinstance(moment, dt.datetime):
        return "-"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def duration(start, end) -> str:
    if not isinstance(start, dt.datetime) or not isinstance(end, dt.datetime):
        return "-"
    seconds = max(0, int((end - start).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def render_history(summaries: list[dict], paint: Paint, by: str = "commit") -> str:
    rows: list[tuple[list[str], list[str | None]]] = [
        (["EXECUTION", "STATUS", "TRIGGER", "REVISION", "STARTED", "DURATION"], ["header"] * 6)]
    for summary in summaries:
        running = summary["status"] in ("InProgress", "Stopping")
        end = dt.datetime.now(dt.timezone.utc) if running else summary.get("lastUpdateTime")
        took = duration(summary.get("startTime"), end) + ("…" if running else "")
        rows.append(([summary["pipelineExecutionId"], summary["status"],
                      (summary.get("trigger") or {}).get("triggerType", "-"),
                      revision_label(summary.get("sourceRevisions"), by) or "-",
                      when(summary.get("startTime")), took],
                     [None, summary["status"], None, None, None, None]))
    if len(rows) == 1:
        return "no executions"
    return "\n".join(_table(rows, paint))


def log_header(about: dict) -> str:
    return (f"# {about.get('pipelineName')} {about.get('stageName')}.{about.get('actionName')} "
            f"execution {about.get('pipelineExecutionId')} action {about.get('actionExecutionId')}: {about.get('status')}")
