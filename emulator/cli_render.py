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
HELD = "⏸"  # an entrance (or a stage's end) held by a condition's rules
ROLLED_BACK = "↶"
# GetPipelineState's member for each condition, its type (OverrideStageCondition's) and short name.
CONDITIONS = (("beforeEntryConditionState", "BEFORE_ENTRY", "entry"),
              ("onSuccessConditionState", "ON_SUCCESS", "success"),
              ("onFailureConditionState", "ON_FAILURE", "failure"))
CONDITION_NAMES = {kind: name for _, kind, name in CONDITIONS}
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


def rollback_targets(summaries: list[dict]) -> dict[str, str]:
    """Execution id of a ROLLBACK -> the execution it went back to, from ListPipelineExecutions."""
    return {s["pipelineExecutionId"]: (s.get("rollbackMetadata") or {}).get("rollbackTargetPipelineExecutionId", "")
            for s in summaries if s.get("executionType") == "ROLLBACK"}


def conditions_model(stage: dict) -> list[dict]:
    """The conditions the stage's latest execution judged: [{"conditionType", "status", "rules":
    [{"ruleName", "status", "message"?}]}], in AWS's order (entry, success, failure)."""
    found = []
    for member, kind, _ in CONDITIONS:
        state = stage.get(member)
        if not state:
            continue
        rules = []
        for rule in ((state.get("conditionStates") or [{}])[0]).get("ruleStates", []):
            run = rule.get("latestExecution") or {}
            entry = {"ruleName": rule["ruleName"], "status": run.get("status")}
            message = (run.get("errorDetails") or {}).get("message") or run.get("summary")
            if message:
                entry["message"] = message
            rules.append(entry)
        found.append({"conditionType": kind, "status": (state.get("latestExecution") or {}).get("status"),
                      "rules": rules})
    return found


def deciding_rule(condition: dict) -> dict | None:
    """The rule a held condition waits for, or the one a failed condition failed on."""
    wanted = {"InProgress": "InProgress", "Failed": "Failed"}.get(condition["status"])
    return next((r for r in condition["rules"] if wanted and r["status"] == wanted), None)


def status_model(state: dict, labels: dict[str, str], rollbacks: dict[str, str] | None = None) -> dict:
    """One pipeline's row of the table, in the shape `status --json` prints (`rollbacks`: from
    rollback_targets)."""
    stages = []
    for stage in state["stageStates"]:
        latest = stage.get("latestExecution")
        entry: dict = {"stageName": stage["stageName"], "latestExecution": None}
        if latest:
            execution_id = latest["pipelineExecutionId"]
            entry["latestExecution"] = {"pipelineExecutionId": execution_id, "status": latest["status"],
                                        "revision": labels.get(execution_id, execution_id[:8])}
            if latest.get("type") == "ROLLBACK":
                entry["latestExecution"]["executionType"] = "ROLLBACK"
                target = (rollbacks or {}).get(execution_id)
                if target:
                    entry["latestExecution"]["rollbackTargetPipelineExecutionId"] = target
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
        entry["conditions"] = conditions_model(stage)
        entry["cell"] = cell(entry["latestExecution"], entry["conditions"])
        stages.append(entry)
    return {"pipelineName": state["pipelineName"], "pipelineVersion": state.get("pipelineVersion"), "stages": stages}


def cell(latest: dict | None, conditions: list[dict] = ()) -> str:
    """The article's cell: `c1 ◯`, `c2 ✓`, `c3 superseded`; `-` for a stage nothing entered. A
    rollback says so (`c1 ✓ rollback`); a condition holding the stage or failing it names its rule
    (`c4 ◯ held at entry: ReleaseWindow ◯`, `c5 ✗ entry: ReleaseCommit ✗`)."""
    if not latest:
        return "-"
    text = f"{latest['revision']} {SYMBOLS.get(latest['status'], latest['status'])}"
    if latest.get("executionType") == "ROLLBACK":
        text += " rollback"
    for condition in conditions:
        if condition["status"] not in ("InProgress", "Failed"):
            continue
        name = CONDITION_NAMES[condition["conditionType"]]
        where = f"held at {name}" if condition["status"] == "InProgress" else name
        rule = deciding_rule(condition)
        text += f" {where}: " + (f"{rule['ruleName']} {SYMBOLS.get(rule['status'], rule['status'])}" if rule
                                 else SYMBOLS.get(condition["status"], condition["status"]))
    return text


def condition_notes(name: str, stage: dict, paint: Paint) -> list[str]:
    """The lines under the table for a stage held or failed by a condition, and for a rollback."""
    notes = []
    latest = stage["latestExecution"] or {}
    if latest.get("executionType") == "ROLLBACK":
        target = latest.get("rollbackTargetPipelineExecutionId")
        doing = "rolling" if latest["status"] == "InProgress" else "rolled"
        notes.append(paint(f"{ROLLED_BACK} {name}: {stage['stageName']} {doing} back"
                           + (f" to execution {target}" if target else "") + f" ({latest['status']})", fg="magenta"))
    for condition in stage["conditions"]:
        kind, status = condition["conditionType"], condition["status"]
        rule = deciding_rule(condition)
        said = ""
        if rule:
            said = f"rule {rule['ruleName']}" + (f": {rule['message']}" if rule.get("message") else "")
        if status == "InProgress":
            hint = {"BEFORE_ENTRY": f": pipemu override {name} {stage['stageName']}",
                    "ON_SUCCESS": f": pipemu override {name} {stage['stageName']} --on-success"}.get(kind, "")
            notes.append(paint(f"{HELD} {name}: {stage['stageName']} held at {CONDITION_NAMES[kind]}"
                               + (f" by {said}" if said else "") + hint, fg="yellow"))
        elif status == "Failed":
            notes.append(paint(f"✗ {name}: {stage['stageName']} {CONDITION_NAMES[kind]} condition Failed"
                               + (f": {said}" if said else ""), fg="red"))
    return notes


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
    then the closed entrances, the approvals that wait, the stages held or failed by a condition,
    the rollbacks, and the daemon's definition errors."""
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
            notes.extend(condition_notes(name, stage, paint))
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
