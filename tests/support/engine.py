"""Stopping and starting the machine's Docker engine (dockerd) for the engine-restart test.

Only a dockerd this machine runs as a plain process (as .ci/run starts it) can be restarted
here: it is started again with the very command line and environment it had, so docker0 keeps
its subnet and every later test finds the engine as it was. A stop waits for the old process to
be gone: dockerd takes seconds to stop its containers, and a second dockerd started meanwhile
fails on the pid file and leaves no engine at all.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import docker

LOG = Path("/tmp/pipemu-test-dockerd.log")


class Engine:
    def __init__(self, pid: int):
        self.pid = pid
        self.argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        raw = Path(f"/proc/{pid}/environ").read_bytes().rstrip(b"\0").split(b"\0")
        self.env = dict(item.decode().split("=", 1) for item in raw if b"=" in item)

    @classmethod
    def find(cls) -> "Engine | str":
        """The running dockerd, or why this machine's engine cannot be restarted by a test."""
        if os.environ.get("DOCKER_HOST"):
            return "DOCKER_HOST points at another engine"
        if os.geteuid() != 0:
            return "restarting dockerd needs root"
        pids = _pids()
        if len(pids) != 1:
            return f"expected one dockerd process, found {len(pids)}"
        if Path("/run/systemd/system").exists():
            return "dockerd is managed by systemd here"
        return cls(pids[0])

    def stop(self, timeout: float = 90) -> None:
        os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.pid in _pids():
            if time.monotonic() > deadline:
                raise AssertionError(f"dockerd {self.pid} did not exit in {timeout}s")
            time.sleep(0.2)

    def start(self, timeout: float = 90) -> None:
        """Start dockerd as it was (its own session: it outlives the test run) and wait for it."""
        with open(LOG, "ab") as log:
            # From /, not its old working folder: that may be gone (a CI clone removed since).
            process = subprocess.Popen([a.decode() for a in self.argv], env=self.env, cwd="/",
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.pid = process.pid
        deadline = time.monotonic() + timeout
        while not answers():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"dockerd did not come back:\n{LOG.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)

    def ensure_running(self) -> None:
        """Whatever happened in the test: leave an engine behind for the tests after it (as it
        was; failing that, a plain `dockerd`, as .ci/run starts it)."""
        if answers():
            return
        if self.pid in _pids():
            self.stop()
        try:
            self.start()
        except (OSError, AssertionError):
            self.argv, self.env = [b"dockerd"], dict(os.environ)
            self.start()


def answers() -> bool:
    try:
        client = docker.from_env(timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def _pids() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # A zombie dockerd (exited, not yet reaped by its parent) is no engine.
        if comm == "dockerd" and stat.rsplit(")", 1)[1].split()[0] != "Z":
            found.append(int(entry.name))
    return found
