"""SQLite persistence: the engine's event log (replayed on start) and per-action logs."""

from .errors import StateFolderUnusable, StateNotWritable
from .sqlite import Store

__all__ = ["StateFolderUnusable", "StateNotWritable", "Store"]
