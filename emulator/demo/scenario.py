"""The article's scenario table as data (article.yaml beside this file) and how to read it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

SCENARIO = Path(__file__).resolve().parent / "article.yaml"
SYMBOLS = {"InProgress": "◯", "Succeeded": "✓", "Failed": "✗", "Superseded": "superseded",
           "Stopped": "stopped", "Stopping": "stopping", "Cancelled": "cancelled"}
STAGE_OF = {"DEV": "StagingDEV", "QA": "StagingQA", "PROD": "StagingPROD"}


@dataclass(frozen=True)
class Step:
    verb: str  # commit | approve | reject
    commit: str
    stage: str | None = None


def load() -> dict:
    return yaml.safe_load(SCENARIO.read_text(encoding="utf-8"))


def parse_step(text: str) -> Step:
    match = re.fullmatch(r"(commit) (c\d+)|(approve|reject) (c\d+) in (DEV|QA|PROD)", text)
    if not match:
        raise ValueError(f"unreadable step {text!r}")
    if match.group(1):
        return Step("commit", match.group(2))
    return Step(match.group(3), match.group(4), STAGE_OF[match.group(5)])


def cell(label: str | None, status: str | None) -> str:
    if label is None:
        return "-"
    return f"{label} {SYMBOLS.get(status, status)}"


def expected_stage_cells(row: dict, stages: list[str]) -> dict[str, str]:
    """The article's first column covers Source and Building; the rest map one to one."""
    first, *rest = row["expect"]
    return dict(zip(stages, [first, first, *rest]))
