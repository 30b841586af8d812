"""The alarm states: declared alarms start where their declaration says, a set state is kept in
the state folder (0600, across a restart), waiters wake on a set, and threads do not lose sets."""

from __future__ import annotations

import json
import stat
import threading
import time

import pytest

from emulator.alarms import INITIAL_REASON, AlarmNotFound, Alarms
from emulator.definitions.models import Alarm


def alarms_of(tmp_path, declared):
    return Alarms(tmp_path / "alarms.json", lambda: declared)


def test_a_declared_alarm_starts_in_its_initial_state(tmp_path):
    alarms = alarms_of(tmp_path, {"b-errors": Alarm(), "a-latency": Alarm(state="ALARM")})
    assert alarms.names() == ["a-latency", "b-errors"]
    fresh = alarms.state("b-errors")
    assert (fresh.value, fresh.reason) == ("INSUFFICIENT_DATA", INITIAL_REASON)
    assert alarms.state("b-errors").updated == fresh.updated  # stable while nobody sets it
    assert alarms.state("a-latency").value == "ALARM"
    assert alarms.state("missing") is None
    assert not (tmp_path / "alarms.json").exists()  # nothing set, nothing written


def test_a_set_state_is_kept_across_a_restart(tmp_path):
    declared = {"errors": Alarm()}
    set_at = alarms_of(tmp_path, declared).set("errors", "ALARM", "flipped by a test", '{"k": 1}')
    path = tmp_path / "alarms.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["alarms"]["errors"]["StateValue"] == "ALARM"
    again = alarms_of(tmp_path, declared).state("errors")
    assert again == set_at
    assert (again.value, again.reason, again.reason_data) == ("ALARM", "flipped by a test", '{"k": 1}')


def test_set_refuses_what_cloudwatch_refuses(tmp_path):
    alarms = alarms_of(tmp_path, {"errors": Alarm()})
    with pytest.raises(AlarmNotFound):
        alarms.set("missing", "OK", "why")
    with pytest.raises(ValueError):
        alarms.set("errors", "RED", "why")
    assert alarms.state("errors").value == "INSUFFICIENT_DATA"


def test_an_edited_initial_state_overrides_what_was_set_before(tmp_path):
    declared = {"errors": Alarm()}
    alarms = alarms_of(tmp_path, declared)
    alarms.set("errors", "ALARM", "by hand")
    declared["errors"] = Alarm(state="OK")  # the user edits the definition file
    assert alarms.state("errors").value == "OK"
    alarms.set("errors", "ALARM", "by hand again")
    assert alarms.state("errors").value == "ALARM"


def test_an_undeclared_alarm_keeps_its_state_for_when_it_comes_back(tmp_path):
    declared = {"errors": Alarm()}
    alarms = alarms_of(tmp_path, declared)
    alarms.set("errors", "ALARM", "by hand")
    gone = declared.pop("errors")
    assert alarms.state("errors") is None and alarms.names() == []
    declared["errors"] = gone  # a broken edit fixed
    assert alarms.state("errors").value == "ALARM"


def test_a_damaged_file_starts_from_the_declarations(tmp_path):
    (tmp_path / "alarms.json").write_text("{not json")
    assert alarms_of(tmp_path, {"errors": Alarm()}).state("errors").value == "INSUFFICIENT_DATA"


def test_a_disk_that_refuses_the_write_changes_nothing(tmp_path, monkeypatch):
    alarms = alarms_of(tmp_path, {"errors": Alarm()})
    import emulator.alarms as module

    def full(path, record):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(module, "write_whole", full)
    with pytest.raises(OSError):
        alarms.set("errors", "ALARM", "why")
    assert alarms.state("errors").value == "INSUFFICIENT_DATA" and alarms.version == 0


def test_a_waiter_wakes_on_a_set_and_times_out_without_one(tmp_path):
    alarms = alarms_of(tmp_path, {"errors": Alarm()})
    began = time.monotonic()
    assert alarms.wait_for_change(0.2) == 0
    assert time.monotonic() - began >= 0.19
    woke: list[float] = []

    def wait() -> None:
        version = alarms.wait_for_change(10)
        woke.append((version, time.monotonic()))

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.1)
    flipped = time.monotonic()
    alarms.set("errors", "ALARM", "flip")
    waiter.join(5)
    assert woke and woke[0][0] == 1 and woke[0][1] - flipped < 1
    # A set between reading the version and waiting is not missed.
    assert alarms.wait_for_change(10, since=0) == 1


def test_sets_from_many_threads_are_all_kept(tmp_path):
    declared = {f"alarm-{i}": Alarm() for i in range(8)}
    alarms = alarms_of(tmp_path, declared)

    def flip(i: int) -> None:
        for n in range(10):
            alarms.set(f"alarm-{i}", "ALARM" if n % 2 == 0 else "OK", f"round {n}")

    threads = [threading.Thread(target=flip, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert alarms.version == 80
    restarted = alarms_of(tmp_path, declared)
    assert {restarted.state(n).reason for n in declared} == {"round 9"}
    assert {restarted.state(n).value for n in declared} == {"OK"}


def test_listeners_hear_each_set(tmp_path):
    alarms = alarms_of(tmp_path, {"errors": Alarm()})
    heard: list[int] = []
    alarms.listeners.append(lambda: heard.append(alarms.version))
    alarms.set("errors", "ALARM", "one")
    alarms.set("errors", "OK", "two")
    assert heard == [1, 2]
