"""What starts pipelines by itself: commits on watched branches and schedules.

Joins the git watcher and the scheduler to the service. Recomputed from the current
definitions on every (re)load: which repository branches start which pipelines (source actions
with change detection on, or V2 `triggers` with push filters), and which schedules fire.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Callable

from emulator.definitions.action_types import git_source

from .git_watch import GitWatcher, changed_files, push_matches
from emulator.cron import ScheduleError, parse

from .schedules import Scheduler

log = logging.getLogger(__name__)



class Triggers:
    def __init__(self, service, clock: Callable[[], datetime] | None = None):
        self.service = service
        self.git = GitWatcher(self._on_commit)
        self.scheduler = Scheduler(self._on_schedule, clock) if clock else Scheduler(self._on_schedule)
        # (repository path, branch pattern or None for tags) -> [(pipeline, source action, push filters)]
        self._watches: dict[Path, list[tuple[str, str, str, list | None]]] = {}

    def start(self) -> None:
        self.git.start()
        self.scheduler.start()

    def stop(self) -> None:
        self.git.stop()
        self.scheduler.stop()

    def refresh(self, folder) -> list[str]:
        """Watch what the current definitions ask for; returns problems (schedules that do not parse)."""
        problems = []
        watches: dict[Path, list] = {}
        with self.service.lock:
            pipelines = {name: p.plan for name, p in self.service.engine.pipelines.items() if p.origin == "file"}
        for name, plan in pipelines.items():
            v2 = {t.get("gitConfiguration", {}).get("sourceActionName"): t["gitConfiguration"].get("push") or []
                  for t in plan.declaration.get("triggers") or () if t.get("gitConfiguration")}
            # A trigger with pullRequest filters and no push filters: pushes do not start it, as
            # on AWS (pull requests do: `pipemu pr`, emulator/daemon/pull_requests.py).
            pull_only = {t["gitConfiguration"].get("sourceActionName") for t in plan.declaration.get("triggers") or ()
                         if (t.get("gitConfiguration") or {}).get("pullRequest") and not t["gitConfiguration"].get("push")}
            for action in plan.stages[0].actions:
                if action.name in pull_only:
                    continue
                source = git_source(action.provider, action.config)
                if source is None:
                    continue
                repository_name, branch, detect = source
                repository = folder.repositories.get(repository_name)
                if repository is None:
                    continue
                filters = v2.get(action.name)
                if filters is None and action.config.get(detect, "true").lower() == "false":
                    continue  # change detection off, as AWS: nothing starts it but a call
                watches.setdefault(Path(repository.path), []).append((name, action.name, branch, filters))
        self.git.unwatch_all()
        for path, entries in watches.items():
            branches = set()
            tags = False
            for _, _, branch, filters in entries:
                if not filters:
                    branches.add(branch)
                for f in filters or ():
                    branches.update((f.get("branches") or {}).get("includes") or ([] if f.get("tags") else ["*"]))
                    tags = tags or bool(f.get("tags"))
            try:
                self.git.watch(path, sorted(branches), tags=tags)
            except Exception as exc:  # a repository that is missing now: its source action will say so
                problems.append(f"{path}: cannot watch for commits: {exc}")
        self._watches = watches
        schedules = {}
        for path, schedule, pipeline in folder.schedules:
            if not schedule.enabled:
                continue
            key = f"{path.name}:{schedule.name or schedule.expression}"
            if pipeline is None:
                problems.append(f"{path}: schedules: {schedule.expression} names no pipeline (add pipeline:)")
                continue
            try:
                schedules[key] = (parse(schedule.expression, schedule.timezone), pipeline)
            except ScheduleError as error:
                problems.append(f"{path}: schedules: {schedule.expression}: {error}")
        self.scheduler.set_schedules(schedules)
        return problems

    def _on_commit(self, repository: str, ref: str, old: str, new: str) -> None:
        for pipeline, action, branch, filters in self._watches.get(Path(repository), ()):
            if filters:
                files = changed_files(repository, old, new)
                if not any(push_matches(f, ref, files) for f in filters):
                    continue
                trigger = "WebhookV2"
            elif ref != f"refs/heads/{branch}":
                continue
            else:
                trigger = "CloudWatchEvent"
            log.info("%s: %s moved to %s: starting %s", repository, ref, new[:12], pipeline)
            # A filtered push runs on the branch pushed to, as AWS (its BranchName variable is that branch).
            branches = {action: ref[len("refs/heads/"):]} if filters and ref.startswith("refs/heads/") else None
            self.service.start_by_trigger(pipeline, trigger, f"{ref} {new}", {action: new}, branches)

    def _on_schedule(self, key: str, pipeline: str) -> None:
        log.info("schedule %s: starting %s", key, pipeline)
        self.service.start_by_trigger(pipeline, "CloudWatchEvent", f"schedule {key}", {})
