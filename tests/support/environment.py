"""What a test needs from the machine: without it, skip on a developer's machine, fail in CI."""

from __future__ import annotations

import os

import pytest


def unavailable(reason: str):
    """CI (CI=true) must run everything: a missing engine, browser or tool there is a failure."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"cannot run in CI: {reason}")
    pytest.skip(reason)
