"""The article's scenario table on the pure engine (fake runner): the engine's first acceptance test."""

from __future__ import annotations

import pytest

from tests.engine.harness import Harness, article_declaration
from tests.support import article

SCENARIO = article.load()


def play(harness: Harness, step: article.Step) -> None:
    if step.verb == "commit":
        harness.start(step.commit)
    else:
        harness.answer(step.commit, step.stage, "Approved" if step.verb == "approve" else "Rejected")


def test_article_table_row_by_row():
    harness = Harness(article_declaration())
    for number, row in enumerate(SCENARIO["rows"], 1):
        play(harness, article.parse_step(row["step"]))
        seen = {stage: article.cell(*harness.latest(stage)) for stage in SCENARIO["stages"]}
        assert seen == article.expected_stage_cells(row, SCENARIO["stages"]), f"row {number}: {row['step']}"
        waiting = {s: slot.waiting[0] for s, slot in harness.pipeline.slots.items() if slot.waiting}
        assert waiting == row.get("waiting", {}), f"row {number}: {row['step']}"
        for label in row.get("superseded", []):
            assert harness.execution(label).status == "Superseded"
    assert {e: x.status for e, x in harness.pipeline.executions.items()} == SCENARIO["final"]


@pytest.mark.parametrize("mode", ["SUPERSEDED", "QUEUED", "PARALLEL"])
def test_never_two_executions_inside_a_locked_stage(mode):
    harness = Harness(article_declaration(mode=mode))
    for n in range(1, 5):
        harness.start(f"c{n}")
    inside = {s: list(slot.inside) for s, slot in harness.pipeline.slots.items()}
    if mode == "PARALLEL":
        assert inside["StagingDEV"] == ["c1", "c2", "c3", "c4"]
    else:
        assert all(len(ids) <= 1 for ids in inside.values())
        assert inside["StagingDEV"] == ["c1"]
    waiting = harness.pipeline.slots["StagingDEV"].waiting
    expected = {"SUPERSEDED": ["c4"], "QUEUED": ["c2", "c3", "c4"], "PARALLEL": []}[mode]
    assert waiting == expected
    superseded = sorted(e for e, x in harness.pipeline.executions.items() if x.status == "Superseded")
    assert superseded == (["c2", "c3"] if mode == "SUPERSEDED" else [])
