"""The pytest plugin of pipemu.testing: the `pipemu_daemon` fixture.

    def test_release(pipemu_daemon):
        kit = pipemu_daemon({"service.yml": {...}})        # or a folder of definitions
        kit.commit("service-a", "c1")
        kit.assert_table("my-service-a-pipeline", ["c1 ✓", "c1 ✓", "c1 ◯"])

Every daemon the test started is stopped after it, its containers (if any ran) removed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .kit import Pipemu, start_daemon


@pytest.fixture
def pipemu_daemon(tmp_path):
    """A factory: `pipemu_daemon(definitions, simulate=True, env=None)` -> a started `Pipemu`."""
    started: list[Pipemu] = []

    def start(definitions: Path | dict[str, dict | str], *, simulate: bool = True,
              env: dict[str, str] | None = None) -> Pipemu:
        kit = start_daemon(tmp_path / f"pipemu-{len(started)}", definitions, simulate=simulate, env=env)
        started.append(kit)
        return kit

    yield start
    for kit in started:
        kit.stop()
