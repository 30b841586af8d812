"""SQLite persistence: the engine's event log (replayed on start) and per-action logs."""

from .sqlite import Store

__all__ = ["Store"]
