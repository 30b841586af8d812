"""The service's core: the one place that joins store, engine and runner.

Every change goes through `apply(event)`: the engine handles it (or refuses it, state
unchanged), the event is committed to the store with the ids the engine drew, and only then are
its commands carried out: actions to the runner, approval deadlines to the timers. One lock
serialises events and reads, so API threads, runner threads and timers see one consistent state.

Commit before apply: if the store cannot commit (disk full, read-only, I/O error), the engine is
put back to the committed log before the lock is let go (a replay of the log), no command is
carried out, and `StateNotWritable` reaches the caller: nobody ever sees a change that was not
saved. Results reported in the background wait in `unsaved` until they can be stored.
"""

from __future__ import annotations

import errno
import json
import logging
from collections import deque
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Protocol

from emulator.engine import (
    ActionTimedOut,
    AwaitApproval,
    CancelAction,
    Command,
    Engine,
    EngineError,
    Event,
    ExecutionEnded,
    ExecutionStarted,
    PipelineDeclared,
    PipelineDeleted,
    RuleFailed,
    RunAction,
    RunRule,
    plan_from_declaration,
)
from emulator.engine.conditions import rollback_target
from emulator.engine.plan import DEFAULT_JOB_TIMEOUT_MINUTES
from emulator.definitions.action_types import git_source, masked
from emulator.events import emit, rules_from_folder
from emulator.runner.source import SourceError, resolve_commit
from emulator.store import StateNotWritable, Store

from .approval_notices import publish_approval
from .errors import ServiceError
from .timers import Timers
from .unsaved import Unsaved

log = logging.getLogger(__name__)


class Runner(Protocol):
    def submit(self, command: RunAction, report: Callable[[Event], bool | None]) -> None: ...

    def submit_rule(self, command: RunRule, report: Callable[[Event], bool | None]) -> None: ...

    def cancel(self, action_execution_id: str) -> None: ...

    def reap(self, keep: set[str]) -> list[str]: ...

    def remove_artifacts(self, execution_id: str) -> None: ...


def _new_uuid() -> str:
    return str(uuid.uuid4())


def change_detection_on(declaration: dict) -> bool:
    """AWS detects source changes unless every source says PollForSourceChanges "false"."""
    sources = declaration["stages"][0]["actions"]
    return any((a.get("configuration") or {}).get("PollForSourceChanges", "true") != "false" for a in sources)


class ServiceCore:
    def __init__(
        self,
        store: Store,
        runner: Runner | None = None,
        *,
        region: str = "us-east-1",
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = _new_uuid,
        timers: Timers | None = None,
        artifact_retention: int = 20,
    ):
        self.store = store
        self.runner = runner
        self.region = region
        self.engine = Engine()
        self.lock = threading.RLock()
        self._clock = clock
        self._new_id = new_id
        self._timers = timers
        self.resources = None  # the last good definitions folder (repositories, projects)
        self.definition_errors: list = []
        # Fields accepted but not carried out, and stand-ins missing (coverage.py): the folder's,
        # then those of pipelines created through the API (name -> warnings).
        self.definition_warnings: list = []
        self.api_warnings: dict[str, list[str]] = {}
        self._pending_removal: set[str] = set()
        self.changes = 0  # counts applied events: clients that watch refetch when it moves
        self.listeners: list[Callable[[int], None]] = []
        self.artifact_retention = artifact_retention
        self._ended: dict[str, deque[str]] = {}
        self.unsaved = Unsaved(self.apply, timers.at if timers is not None else None, clock)
        self._diverged: StateNotWritable | None = None  # memory ahead of the log: refuse changes
        # Where CodePipeline's state-change events go (events.EventBus, or anything with
        # `publish(list[dict])`); None: none are derived.
        self.events = None
        self._tracker = emit.Tracker()  # the executions an event may change

    # -- events -----------------------------------------------------------------------------

    def apply(self, event: Event) -> list[Command]:
        """Handle, commit, then carry out. Raises ServiceError for an event the engine refuses."""
        with self.lock:
            drawn: list[str] = []

            def new_id() -> str:
                drawn.append(self._new_id())
                return drawn[-1]

            if self._diverged is not None:
                raise self._diverged
            # While the store refuses writes, a change is refused before it is handled: undoing
            # it (a replay of the whole log) costs far more than asking.
            self.store.check_writable()
            if len(self.unsaved):  # results that could not be saved before go first
                self.unsaved.flush()
            now = self._clock()
            bus = self.events
            before = self._tracker.snapshot(self.engine, _named(event)) if bus is not None else None
            try:
                commands = self.engine.handle(event, now, new_id)
            except EngineError as error:
                raise ServiceError(error.code, error.message) from None
            try:
                self.store.append(event, now, drawn)
            except StateNotWritable:
                self._back_to_log()
                raise
            if before is not None:  # before carrying out: a runner may report at once (nested)
                self._publish(bus, before, now)
            self._carry_out(commands)
            self.changes += 1
        self._notify()
        return commands

    def _publish(self, bus, before, now: float) -> None:
        """The AWS events of what the event changed, to the bus (which only queues them): under
        the lock, so that they leave in the order of the changes."""
        try:
            bus.publish(self._tracker.derive(self.engine, before, now, self.region))
        except Exception:  # events out never fail the change that was committed
            log.exception("deriving the state-change events failed")

    def _notify(self) -> None:
        for listener in list(self.listeners):  # listeners only take note (no work, no locks)
            listener(self.changes)

    def find_action_run(self, action_execution_id: str):
        """(pipeline, execution, ActionRun or RuleRun) of an action execution or a rule
        execution (a rule's log is kept under its id, as an action's), or None."""
        with self.lock:
            for pipeline in self.engine.pipelines.values():
                for execution in reversed(pipeline.executions.values()):
                    for stage_run in execution.stage_runs.values():
                        for run in (*stage_run.actions.values(), *stage_run.earlier):
                            if run.action_execution_id == action_execution_id:
                                return pipeline.name, execution, run
                        for condition in (*stage_run.conditions.values(), *stage_run.earlier_conditions):
                            for rule in condition.rules.values():
                                if rule.rule_execution_id == action_execution_id:
                                    return pipeline.name, execution, rule
        return None

    def report(self, event: Event) -> bool:
        """For results that arrive in the background (runner, timers): refusals are logged; a
        result the store would not take waits in `unsaved` (False: not saved yet)."""
        try:
            self.apply(event)
        except ServiceError as error:
            log.warning("ignored %s: %s", type(event).__name__, error.message)
        except StateNotWritable as error:
            self.unsaved.keep(event, error)
            return False
        return True

    def _replay(self, engine: Engine) -> int:
        count = 0
        for event, at, ids in self.store.events():
            recorded = iter(ids)
            engine.handle(event, at, lambda: next(recorded))
            count += 1
        return count

    def _back_to_log(self) -> None:
        """After a failed commit: the engine's state as the log has it (the event undone)."""
        try:
            committed = Engine()
            self._replay(committed)
        except Exception as error:  # memory is ahead of the log now: no change may follow it
            log.critical("could not read the state back after a failed write: %s; restart the daemon", error)
            self._diverged = StateNotWritable(
                getattr(error, "errno", None) or errno.EIO,
                f"its state could not be read back after a failed write ({error}): restart the daemon",
                self.store.path)
            return
        self.engine = committed  # nothing keeps the old one: every reader goes through self.engine

    def restore(self) -> int:
        """Replay the store's event log, then carry out again what was in progress."""
        with self.lock:
            count = self._replay(self.engine)
            pending = self.engine.pending_commands()
            running = {c.action_execution_id for c in pending if isinstance(c, RunAction)}
            running |= {c.rule_execution_id for c in pending if isinstance(c, RunRule)}
            waiting = {c.action_execution_id for c in pending if isinstance(c, RunAction) and c.action.is_worker_job}
            for action_execution_id in running - waiting:  # a worker's job keeps its log: nothing replays it
                # The runner re-attaches to the action's container and replays its whole
                # output, or runs the action afresh: either way the old lines go.
                self.store.clear_logs(action_execution_id)
            if self.runner is not None:
                for name in self.runner.reap(running):
                    log.info("removed container %s: its action is no longer running", name)
            self._carry_out(pending, opened=False)
        return count

    def _carry_out(self, commands: list[Command], opened: bool = True) -> None:
        """Carry out the commands of an event just applied (`opened`), or those still in progress
        after a restart: then an approval only gets its timer back, not a second notification."""
        for command in commands:
            if isinstance(command, RunAction):
                if command.action.is_worker_job:  # no container: its job waits for a worker's poll
                    self.queue_worker_job(command)
                elif self.runner is not None:
                    self.runner.submit(command, self.report)
                if command.expires_at is not None and self._timers is not None:
                    self._schedule_timeout(command, command.expires_at)
            elif isinstance(command, RunRule):
                if self.runner is not None:
                    self.runner.submit_rule(command, self.report)
                if command.rule.provider == "LambdaInvoke" and self._timers is not None:
                    self._schedule_rule_timeout(command)
            elif isinstance(command, AwaitApproval):
                if self._timers is not None:
                    self._schedule_timeout(command, command.expires_at)
                if opened and self.runner is not None:
                    publish_approval(getattr(self.runner, "topics", None), self.region, command, self._action_log)
            elif isinstance(command, CancelAction):
                self.cancel_worker_job(command.action_execution_id)
                if self.runner is not None:
                    self.runner.cancel(command.action_execution_id)
            elif isinstance(command, ExecutionEnded):
                log.info("%s execution %s ended %s", command.pipeline, command.execution_id, command.status)
                self._retain_artifacts(command.pipeline, command.execution_id)
                if command.pipeline in self._pending_removal and self._timers is not None:
                    # After the event that ended it is fully answered, not in the middle of it.
                    self._timers.at(0, self._remove_idle_locked)

    def _action_log(self, action_execution_id: str, line: str) -> None:
        try:
            self.store.append_log(action_execution_id, line, self.now())
        except Exception as error:  # a closed or full store: the daemon's log has the line already
            log.warning("could not keep a line in %s's log: %s", action_execution_id, error)

    def _retain_artifacts(self, pipeline: str, ended: str) -> None:
        """Keep the artifacts of the newest `artifact_retention` ended executions of a pipeline
        (for the history and retries), and of each stage's newest execution that succeeded in
        it (what a rollback runs again); older ones are removed from the state folder."""
        if self.runner is None or not self.artifact_retention:
            return
        queue = self._ended.get(pipeline)
        found = self.engine.pipelines[pipeline]
        if queue is None:  # first time: everything that ended before (a restart) counts
            queue = self._ended[pipeline] = deque(
                e.execution_id for e in found.executions.values() if e.status not in ("InProgress", "Stopping"))
        elif ended not in queue:
            queue.append(ended)
        targets = {t.execution_id for stage in found.plan.stages
                   if (t := rollback_target(found.executions.values(), stage.name, found.version)) is not None}
        targets |= {e.rollback_target for e in found.executions.values()  # what a rollback runs now
                    if e.rollback_target and e.status in ("InProgress", "Stopping")}
        newest = set(list(queue)[-self.artifact_retention:])
        for execution_id in [e for e in queue if e not in newest and e not in targets]:
            queue.remove(execution_id)
            self.runner.remove_artifacts(execution_id)

    def artifacts_kept(self, pipeline: str, execution_id: str) -> bool:
        """Whether an execution's artifacts are still in the state folder (retention removes the
        oldest ended executions' ones)."""
        root = getattr(self.runner, "state_dir", None)
        if root is None:  # a runner that keeps nothing on disk
            return True
        execution = self.engine.pipelines[pipeline].executions[execution_id]
        return all((Path(root) / a.location).exists() for a in execution.artifacts.values())

    def _schedule_rule_timeout(self, command: RunRule) -> None:
        """A LambdaInvoke rule whose function never reports fails at its timeout (60 minutes
        unless the rule says, as a Lambda action's job)."""
        minutes = command.rule.timeout_in_minutes or DEFAULT_JOB_TIMEOUT_MINUTES
        timed_out = RuleFailed(command.pipeline, command.execution_id, command.stage, command.kind, command.rule.name,
                               command.rule_execution_id, "TimedOut",
                               "Rule timed out: the function reported no result in time")
        self._timers.at(command.started_at + minutes * 60, lambda: self.report(timed_out))

    def _schedule_timeout(self, command, expires_at: float) -> None:
        action = command.action if isinstance(command.action, str) else command.action.name
        timed_out = ActionTimedOut(command.pipeline, command.execution_id, command.stage, action,
                                   command.action_execution_id)
        self._timers.at(expires_at, lambda: self.report(timed_out))

    # -- definitions ------------------------------------------------------------------------

    def load_definitions(self, folder) -> list[str]:
        """Declare every pipeline of a loaded folder that is new or changed; keep the rest.

        A file with errors is not in `folder.pipelines`, so its pipeline keeps its last good
        version. Returns the names of the pipelines declared anew.
        """
        declared = []
        with self.lock:
            self.resources = folder
            self.definition_errors = list(folder.errors)
            self.definition_warnings = list(getattr(folder, "warnings", []))
            if hasattr(self.events, "set_rules"):  # the folder's event rules, in force from now on
                self.events.set_rules(rules_from_folder(folder))
            # A pipeline whose file is gone goes too, once none of its executions runs; a file
            # with errors keeps its pipeline's last good version.
            kept = set(folder.pipelines) | set(folder.names_in_broken_files)
            for name, pipeline in list(self.engine.pipelines.items()):
                if pipeline.origin == "file" and name not in kept:
                    self._pending_removal.add(name)
            self._remove_idle()
            for name, (path, model) in sorted(folder.pipelines.items()):
                declaration = masked(model.model_dump(mode="json", exclude_none=True))
                existing = self.engine.pipelines.get(name)
                if existing is not None and existing.origin == "api":
                    self.definition_errors.append(
                        f"{path}: pipeline.name: pipeline {name} was created through the API "
                        "(DeletePipeline it first, or rename this one)"
                    )
                    continue
                custom = self.custom_action_problems(declaration) if hasattr(self, "custom_action_problems") else []
                if custom:  # a Custom action names a type neither the folder nor the API declares
                    self.definition_errors.extend(f"{path}: {where}: {message}" for where, message in custom)
                    continue
                if existing is not None and _same(existing.plan.declaration, declaration):
                    continue
                version = existing.version + 1 if existing else 1
                declaration["version"] = version
                self.apply(PipelineDeclared(name, version, plan_from_declaration(declaration)))
                declared.append(name)
                if existing is None and change_detection_on(declaration):
                    # As AWS: creating a pipeline starts it, when its source watches for changes.
                    self.apply(ExecutionStarted(name, self._new_id(), "CreatePipeline",
                                                source_revisions=self.pinned_sources(name)))
            self.changes += 1  # the definition errors may have changed too
        self._notify()
        return declared

    def warnings(self) -> list[str]:
        """Every definition warning now in force, the folder's and the API pipelines'."""
        with self.lock:
            api = [w for name in sorted(self.api_warnings) if name in self.engine.pipelines for w in self.api_warnings[name]]
            # UpdateActionType's (emulator/service/action_types.py), by the type they are about.
            types = self.action_type_warnings() if hasattr(self, "action_type_warnings") else []
            return [str(w) for w in self.definition_warnings] + api + types

    def pinned_sources(self, pipeline: str, overrides: tuple[tuple[str, str], ...] = ()) -> tuple[tuple[str, str], ...]:
        """The commit of every source action, fixed when the execution starts (as AWS does), so
        that an execution waiting at the Source entrance still builds the change that started it.
        A source that cannot be read now stays open: its action fails with the reason."""
        revisions = dict(overrides)
        repositories = getattr(self.resources, "repositories", {}) or {}
        for action in self.engine.pipeline(pipeline).plan.stages[0].actions:
            source = git_source(action.provider, action.config)
            if action.name in revisions or source is None:
                continue
            repository = repositories.get(source[0])
            if repository is None:
                continue
            try:
                revisions[action.name] = resolve_commit(repository.path, source[1]).commit_id
            except SourceError:
                continue
        return tuple(revisions.items())

    def start_by_trigger(self, pipeline: str, trigger_type: str, detail: str, revisions: dict[str, str],
                         branches: dict[str, str] | None = None) -> str | None:
        """A commit, a schedule, a pull request or a webhook starts `pipeline` (None if it is gone
        by now). `branches`: source action -> the branch to read instead of the configured one."""
        with self.lock:
            if pipeline not in self.engine.pipelines:
                return None
            execution_id = self._new_id()
            self.apply(ExecutionStarted(pipeline, execution_id, trigger_type, detail[:1024],
                                        source_revisions=self.pinned_sources(pipeline, tuple(revisions.items())),
                                        source_branches=tuple((branches or {}).items())))
            return execution_id

    def _remove_idle_locked(self) -> None:
        with self.lock:
            self._remove_idle()

    def _remove_idle(self) -> None:
        for name in sorted(self._pending_removal):
            pipeline = self.engine.pipelines.get(name)
            if pipeline is None:
                self._pending_removal.discard(name)
            elif not any(e.status in ("InProgress", "Stopping") for e in pipeline.executions.values()):
                self._pending_removal.discard(name)
                log.info("pipeline %s removed: its file is gone", name)
                self.apply(PipelineDeleted(name))

    def now(self) -> float:
        return self._clock()


def _named(event: Event) -> tuple[str, str] | None:
    """The execution an event names (a retry may resume it from Failed or Stopped)."""
    execution_id = getattr(event, "execution_id", None)
    return (event.pipeline, execution_id) if execution_id else None


def _same(old: dict, new: dict) -> bool:
    def canonical(declaration: dict) -> str:
        return json.dumps({k: v for k, v in declaration.items() if k != "version"}, sort_keys=True)

    return canonical(old) == canonical(new)
