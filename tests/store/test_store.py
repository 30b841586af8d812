"""The store: events round-trip exactly, replay rebuilds the engine, logs are kept per action."""

from __future__ import annotations

from emulator.engine import Engine, PipelineDeclared, plan_from_declaration
from emulator.store import Store
from emulator.store import codec
from tests.engine.harness import Harness, article_declaration


def test_codec_round_trips_every_event_of_a_scenario():
    harness = Harness(article_declaration())
    sent = []
    original_send = harness.engine.handle

    def recording(event, now, new_id):
        sent.append(event)
        return original_send(event, now, new_id)

    harness.engine.handle = recording
    harness.start("c1")
    harness.answer("c1", "StagingDEV", "Approved")
    harness.start("c2")
    assert len(sent) > 10
    for event in sent:
        assert codec.loads(codec.dumps(event)) == event


def test_replaying_the_log_rebuilds_the_same_state(tmp_path):
    store = Store(tmp_path)
    harness = Harness(article_declaration())
    # The harness declared its pipeline before we could listen: log that event as it happened.
    store.append(PipelineDeclared("svc-pipeline", 1, plan_from_declaration(article_declaration())), 1_000_001.0, [])
    original = harness.engine.handle

    def persisted(event, now, new_id):
        drawn = []

        def draw():
            drawn.append(new_id())
            return drawn[-1]

        commands = original(event, now, draw)
        store.append(event, now, drawn)
        return commands

    harness.engine.handle = persisted
    for n in range(1, 4):
        harness.start(f"c{n}")
    harness.answer("c1", "StagingDEV", "Approved")
    harness.answer("c1", "StagingQA", "Rejected", summary="bug")
    store.close()

    reopened = Store(tmp_path)
    engine = Engine()
    for event, at, ids in reopened.events():
        recorded = iter(ids)
        engine.handle(event, at, lambda: next(recorded))
    assert repr(engine.pipelines) == repr(harness.engine.pipelines)


def test_logs_are_kept_in_order_per_action_execution(tmp_path):
    store = Store(tmp_path)
    for n in range(3):
        store.append_log("a1", f"line {n}", 1.0 + n)
    store.append_log("a2", "other", 5.0)
    assert [text for _, _, text in store.logs("a1")] == ["line 0", "line 1", "line 2"]
    assert [text for _, _, text in store.logs("a1", after=2)] == ["line 2"]
    store.close()
    reopened = Store(tmp_path)
    reopened.append_log("a1", "line 3", 9.0)  # numbering goes on after a restart
    assert [seq for seq, _, _ in reopened.logs("a1")] == [1, 2, 3, 4]
    reopened.clear_logs("a1")
    assert reopened.logs("a1") == []


def test_the_state_is_readable_by_its_owner_only(tmp_path):
    import stat

    store = Store(tmp_path / "state")
    store.close()
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    for path in (tmp_path / "state").glob("state.sqlite3*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
