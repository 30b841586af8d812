"""`pipemu alarm set` and `pipemu alarm list` as a user runs them, against the real daemon:
output, --json, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.daemon import ROOT, Daemon, free_port


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    root = tmp_path_factory.mktemp("alarm-cli")
    (root / "pipelines").mkdir()
    (root / "pipelines" / "alarms.yml").write_text("alarms:\n  api-errors: {description: 5xx}\n  api-latency: {state: OK}\n")
    started = Daemon(root / "pipelines", root / "state").start()
    yield started
    started.stop()


def pipemu(endpoint: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emulator.cli", "alarm", *args, "--endpoint", endpoint], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env=os.environ.copy())


def test_set_then_list(daemon):
    done = pipemu(daemon.endpoint, "set", "api-errors", "alarm", "--reason", "flipped by a test")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "api-errors: ALARM\n"
    listed = pipemu(daemon.endpoint, "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].startswith("api-errors   ALARM ") and lines[0].endswith("flipped by a test")
    assert lines[1].startswith("api-latency  OK ")
    only = json.loads(pipemu(daemon.endpoint, "list", "--state", "ALARM", "--json").stdout)
    assert [(a["AlarmName"], a["StateValue"], a["AlarmDescription"]) for a in only] == [("api-errors", "ALARM", "5xx")]
    assert only[0]["StateUpdatedTimestamp"].startswith("20")
    back = json.loads(pipemu(daemon.endpoint, "set", "api-errors", "OK", "--json").stdout)
    assert back == {"AlarmName": "api-errors", "StateValue": "OK", "StateReason": "Set with pipemu alarm set"}


def test_errors_are_one_line_with_their_exit_code(daemon):
    missing = pipemu(daemon.endpoint, "set", "nope", "ALARM")
    assert missing.returncode == 4
    assert missing.stderr == "pipemu: ResourceNotFound: Alarm nope not found\n"
    wrong = pipemu(daemon.endpoint, "set", "api-errors", "RED")
    assert wrong.returncode == 2
    down = pipemu(f"http://127.0.0.1:{free_port()}", "list")
    assert down.returncode == 3 and down.stderr.startswith("pipemu: cannot reach the daemon") and \
        len(down.stderr.splitlines()) == 1
