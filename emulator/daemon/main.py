"""`pipemu serve`: wire the store, service, runner and API together and serve until stopped.

Start-up order matters: replay the state folder first (executions, approvals, tokens), then
load the pipelines folder (a changed definition becomes a new pipelineVersion), then carry out
what was in progress, then answer requests.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import uuid
from pathlib import Path

import uvicorn

from emulator.api.app import create_app
from emulator.definitions import load_folder
from emulator.runner.actions import ActionRunner
from emulator.service import CodePipeline
from emulator.service.timers import Timers
from emulator.store import Store

from .lock import lock_state_folder

log = logging.getLogger("pipemu")


def daemon_id(state_dir: Path) -> str:
    """This state folder's id, kept in the folder: labels its containers, so that a restarted
    daemon finds its own (and never touches another daemon's)."""
    path = state_dir / "daemon-id"
    if not path.exists():
        path.write_text(f"pipemu-{uuid.uuid4().hex[:12]}\n")
    return path.read_text().strip()


def build_service(pipelines_dir: Path, state_dir: Path) -> tuple[CodePipeline, Timers]:
    store = Store(state_dir)
    timers = Timers()
    service_box: list[CodePipeline] = []
    def write_log(action_execution_id: str, line: str) -> None:
        try:
            store.append_log(action_execution_id, line, service_box[0].now())
        except sqlite3.ProgrammingError:
            pass  # the store closed while the daemon stops; the container's output stays in Docker

    runner = ActionRunner(
        state_dir,
        resources=lambda: service_box[0].resources,
        write_log=write_log,
        daemon_id=daemon_id(state_dir),
    )
    service = CodePipeline(store, runner, region=os.environ.get("AWS_REGION", "us-east-1"), timers=timers)
    service_box.append(service)
    folder = load_folder(pipelines_dir)
    for error in folder.errors:
        log.error("%s", error)
    # Resources first, so that actions resumed by restore() find their projects and repositories.
    service.resources = folder
    replayed = service.restore()
    declared = service.load_definitions(folder)
    log.info("restored %d events; declared %s", replayed, ", ".join(declared) or "nothing new")
    return service, timers


def serve(pipelines_dir: Path, state_dir: Path, host: str, port: int,
          credentials: tuple[str, str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    state_dir.mkdir(parents=True, exist_ok=True)
    lock = lock_state_folder(state_dir)
    service, timers = build_service(pipelines_dir, state_dir)
    try:
        secrets = dict([credentials]) if credentials else None
        uvicorn.run(create_app(service, secrets), host=host, port=port, log_level="warning")
    finally:
        timers.stop()
        service.store.close()
        lock.close()
