"""Waiting for the daemon to settle: now part of the product's testing kit (emulator/testing/waiting.py)."""

from emulator.testing.waiting import action_of, running_actions, settle, stage_of, wait_for  # noqa: F401
