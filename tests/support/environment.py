"""What a test needs from the machine: without it, skip on a developer's machine, fail in CI."""

from __future__ import annotations

import os

import pytest


def unavailable(reason: str):
    """CI (CI=true) must run everything: a missing engine, browser or tool there is a failure."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"cannot run in CI: {reason}")
    pytest.skip(reason)


def engine_tests_allowed() -> None:
    """Tests that stop, restart or start a Docker engine touch the whole machine: they run in CI
    (CI=true) or when asked for (PIPEMU_TEST_ENGINES=1), and skip elsewhere, saying how to ask."""
    if os.environ.get("CI", "").lower() == "true" or os.environ.get("PIPEMU_TEST_ENGINES") == "1":
        return
    pytest.skip("stops or starts a Docker engine: runs in CI, or with PIPEMU_TEST_ENGINES=1")
