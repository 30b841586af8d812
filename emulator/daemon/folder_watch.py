"""Hot reload: call back once, shortly after a burst of changes to the pipelines folder ends.

Uses watchdog's native observer (inotify on Linux), so an idle folder costs no CPU. Editors and
tools save by writing a temporary file and renaming it over the original, and one save can be
several events; a debounce timer, reset on every event, turns each burst into one call.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler, FileSystemMovedEvent
from watchdog.observers import Observer

log = logging.getLogger("pipemu.folder_watch")

DEFINITION_SUFFIXES = (".yml", ".yaml", ".json")


def is_definition_file(name: str) -> bool:
    """Whether a file name is one load_folder reads; hidden, backup and temp files are not."""
    if name.startswith((".", "#", "~")) or name.endswith(("~", ".tmp", ".swp", ".swx")):
        return False
    return name.lower().endswith(DEFINITION_SUFFIXES)


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: "FolderWatcher"):
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type not in ("created", "modified", "moved", "deleted", "closed"):
            return  # "opened" and "closed_no_write" are reads, e.g. our own load_folder
        paths = [event.src_path]
        if isinstance(event, FileSystemMovedEvent):
            paths.append(event.dest_path)  # temp file renamed over a definition: the destination counts
        if any(is_definition_file(Path(str(path)).name) for path in paths):
            self.watcher._touched()


class FolderWatcher:
    """Watches `folder` (not recursive, as load_folder reads it) and calls `on_change()` from
    its own thread `debounce` seconds after the last relevant event. Calls never overlap."""

    def __init__(self, folder: Path, on_change: Callable[[], None], debounce: float = 0.3):
        self.folder = Path(folder)
        self.on_change = on_change
        self.debounce = debounce
        self._lock = threading.Lock()
        self._running = threading.Lock()  # one on_change at a time, even if a burst ends during a call
        self._timer: threading.Timer | None = None
        self._observer: Observer | None = None
        self._stopped = False

    def start(self) -> None:
        self._stopped = False
        self._observer = Observer()
        self._observer.schedule(_Handler(self), str(self.folder), recursive=False)
        self._observer.daemon = True
        self._observer.start()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None

    def _touched(self) -> None:
        with self._lock:
            if self._stopped:
                return
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.debounce, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._stopped or self._timer is not threading.current_thread():
                return  # superseded by a later event, or stopping
            self._timer = None
        with self._running:
            try:
                self.on_change()
            except Exception:  # a failed reload must not end hot reloading
                log.exception("reloading %s failed", self.folder)
