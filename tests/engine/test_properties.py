"""Property tests of the engine's invariants under random streams of starts, results and answers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.engine import EngineError
from emulator.engine.statuses import EXECUTION_TERMINAL, IN_PROGRESS
from tests.engine.harness import Harness, article_declaration

MODES = ["SUPERSEDED", "QUEUED", "PARALLEL"]

moves = st.lists(
    st.one_of(
        st.tuples(st.just("start")),
        st.tuples(st.just("run"), st.integers(0, 20), st.booleans()),
        st.tuples(st.just("answer"), st.integers(0, 20), st.sampled_from(["Approved", "Rejected"])),
        st.tuples(st.just("bad-token"), st.integers(0, 20)),
    ),
    max_size=60,
)


def check_invariants(harness: Harness, mode: str, started: list[str]) -> None:
    pipeline = harness.pipeline
    # Nothing is lost: every execution that was started is known, exactly once.
    assert list(pipeline.executions) == started
    placed: dict[str, int] = {}
    for stage, slot in pipeline.slots.items():
        if mode != "PARALLEL":
            assert len(slot.inside) <= 1, f"two executions inside {stage}"
        if mode == "SUPERSEDED":
            assert len(slot.waiting) <= 1, f"two executions waiting at {stage}"
        for execution_id in slot.inside + slot.waiting:
            placed[execution_id] = placed.get(execution_id, 0) + 1
    for execution_id, execution in pipeline.executions.items():
        if execution.status in EXECUTION_TERMINAL:
            # A finished execution holds no stage and waits nowhere.
            assert execution_id not in placed
            assert execution.current_stage is None and execution.waiting_at is None
        else:
            # A live one is in exactly one place: inside a stage or at one entrance.
            assert execution.status == IN_PROGRESS
            assert placed.get(execution_id) == 1, f"{execution_id} placed {placed.get(execution_id)} times"


@settings(max_examples=150, deadline=None)
@given(mode=st.sampled_from(MODES), script=moves)
def test_invariants_hold_for_any_stream(mode, script):
    harness = Harness(article_declaration(mode=mode), auto_run=False)
    started: list[str] = []
    for move in script:
        if move[0] == "start":
            started.append(f"c{len(started) + 1}")
            harness.start(started[-1])
        elif move[0] == "run" and harness.pending:
            harness.finish(harness.pending[move[1] % len(harness.pending)], succeed=move[2])
        elif move[0] in ("answer", "bad-token"):
            open_approvals = [
                (run.execution_id, run.stage)
                for execution in harness.pipeline.executions.values()
                for run in (r for s in execution.stage_runs.values() for r in s.actions.values())
                if run.token and run.status == IN_PROGRESS
            ]
            if not open_approvals:
                continue
            execution_id, stage = open_approvals[move[1] % len(open_approvals)]
            if move[0] == "answer":
                harness.answer(execution_id, stage, move[2])
            else:
                before = repr(harness.pipeline)
                try:
                    from emulator.engine import ApprovalResultSubmitted

                    harness.send(ApprovalResultSubmitted(harness.name, stage, "approve", "nope", "Approved"))
                    raise AssertionError("a wrong token was accepted")
                except EngineError as error:
                    assert error.code == "InvalidApprovalTokenException"
                # A refused event leaves the state unchanged.
                assert repr(harness.pipeline) == before
        check_invariants(harness, mode, started)
