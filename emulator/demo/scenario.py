"""Scenario files: a story told in the article's table format (article.yaml beside this file is
the article's own), and how to read one.

A scenario names its stages, the columns of its table (a column may cover several stages joined
by `+`, as the article's first column covers Source and Building), optional `aliases` for stage
names in steps (`DEV: StagingDEV`), and `rows`: a step (`commit LABEL`, `approve LABEL in STAGE`,
`reject LABEL in STAGE`) and the expected table after it. Cells: "LABEL ◯" in progress, "LABEL ✓"
succeeded, "LABEL ✗" failed, "-" nothing of the story ran there yet."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

SCENARIO = Path(__file__).resolve().parent / "article.yaml"
SYMBOLS = {"InProgress": "◯", "Succeeded": "✓", "Failed": "✗", "Superseded": "superseded",
           "Stopped": "stopped", "Stopping": "stopping", "Cancelled": "cancelled"}
STAGE_OF = {"DEV": "StagingDEV", "QA": "StagingQA", "PROD": "StagingPROD"}  # the article's aliases
_STEP = re.compile(r"(commit) (\S+)|(approve|reject) (\S+) in (\S+)")


class ScenarioError(ValueError):
    """A scenario file that cannot be played; the message says where and what."""


@dataclass(frozen=True)
class Step:
    verb: str  # commit | approve | reject
    commit: str
    stage: str | None = None


def load(path: str | Path | None = None) -> dict:
    """The scenario at `path` (the article's by default), checked: ScenarioError says what is wrong."""
    path = Path(path) if path is not None else SCENARIO
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"{path}: cannot read it: {error}") from None
    except yaml.YAMLError as error:
        raise ScenarioError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("stages"), list) or not isinstance(data.get("rows"), list):
        raise ScenarioError(f"{path}: a scenario is a mapping with stages: [...] and rows: [...]")
    data.setdefault("columns", list(data["stages"]))
    covered = [stage for column in data["columns"] for stage in str(column).split("+")]
    if sorted(covered) != sorted(map(str, data["stages"])):
        raise ScenarioError(f"{path}: columns {data['columns']} must cover each of the stages {data['stages']} once")
    for number, row in enumerate(data["rows"], 1):
        if not isinstance(row, dict) or "step" not in row or not isinstance(row.get("expect"), list):
            raise ScenarioError(f"{path}: rows[{number}]: needs step: and expect: [one cell per column]")
        if len(row["expect"]) != len(data["columns"]):
            raise ScenarioError(f"{path}: rows[{number}] ({row['step']}): expect has {len(row['expect'])} cells, "
                                f"the table has {len(data['columns'])} columns")
        try:
            parse_step(row["step"], data)
        except ValueError as error:
            raise ScenarioError(f"{path}: rows[{number}]: {error}") from None
    return data


def parse_step(text: str, scenario: dict | None = None) -> Step:
    """A row's step; its stage by the scenario's `aliases` or its own name (the article's by default)."""
    match = _STEP.fullmatch(str(text).strip())
    if not match:
        raise ValueError(f"unreadable step {text!r} (commit LABEL, approve LABEL in STAGE, reject LABEL in STAGE)")
    if match.group(1):
        return Step("commit", match.group(2))
    aliases = (scenario or {}).get("aliases", STAGE_OF if scenario is None else {})
    stages = (scenario or {}).get("stages", list(STAGE_OF.values()))
    stage = aliases.get(match.group(5), match.group(5))
    if stage not in stages:
        raise ValueError(f"step {text!r}: {match.group(5)} is not one of the stages {stages}")
    return Step(match.group(3), match.group(4), stage)


def cell(label: str | None, status: str | None) -> str:
    if label is None:
        return "-"
    return f"{label} {SYMBOLS.get(status, status)}"


def expected_stage_cells(row: dict, stages: list[str], columns: list[str] | None = None) -> dict[str, str]:
    """Each stage's expected cell: a column's cell holds for every stage it covers (the article's
    first column covers Source and Building)."""
    columns = columns or ["Source+Building", *stages[2:]]
    cells = {}
    for column, expected in zip(columns, row["expect"]):
        for stage in str(column).split("+"):
            cells[stage] = expected
    return {stage: cells[stage] for stage in stages}


def shown_columns(cells: dict[str, str], columns: list[str]) -> list[str]:
    """The table's cells from each stage's: a column covering stages that differ shows them all."""
    shown = []
    for column in columns:
        values = list(dict.fromkeys(cells[stage] for stage in str(column).split("+")))
        shown.append(" / ".join(values))
    return shown
