"""A commit the state folder refuses changes nothing: not the log, not the engine's memory, not
the runner (no command carried out); the caller gets StateNotWritable saying why, a retried
clientRequestToken gets no id that was never saved, and a result reported in the background is
stored (as the action's failure) once the folder takes writes again.

SQLite really refuses the writes: `PRAGMA query_only` (any user), a full tmpfs (root).
"""

from __future__ import annotations

import copy
import errno

import pytest

from emulator.engine import ActionSucceeded, Engine, ExecutionStarted, PipelineDeclared, RunAction, plan_from_declaration
from emulator.service import CodePipeline, StateNotWritable
from emulator.store import Store
from tests.engine.harness import article_declaration
from tests.support.tmpfs import fill, small_tmpfs

PIPELINE = "svc-pipeline"


class RecordingRunner:
    def __init__(self):
        self.submitted: list[RunAction] = []

    def submit(self, command, report):
        self.submitted.append(command)

    def cancel(self, action_execution_id):
        pass

    def reap(self, keep):
        return []

    def remove_artifacts(self, execution_id):
        pass


def refuse_writes(store: Store, refuse: bool) -> None:
    store._db.execute(f"PRAGMA query_only={int(refuse)}")


@pytest.fixture
def service(tmp_path):
    store = Store(tmp_path / "state")
    service = CodePipeline(store, RecordingRunner())
    service.apply(PipelineDeclared(PIPELINE, 1, plan_from_declaration(article_declaration())))
    yield service
    store.close()


def logged(store: Store) -> list:
    return [event for event, _, _ in store.events()]


def test_a_refused_commit_leaves_log_memory_and_runner_as_they_were(service):
    service.start_pipeline_execution({"name": PIPELINE})
    memory, log, runs, changes = (copy.deepcopy(service.engine.pipelines), logged(service.store),
                                  list(service.runner.submitted), service.changes)
    refuse_writes(service.store, True)
    with pytest.raises(StateNotWritable) as refused:
        service.apply(ExecutionStarted(PIPELINE, "never-saved", "StartPipelineExecution"))
    assert refused.value.errno == errno.EROFS
    assert "could not write its state folder" in str(refused.value) and str(service.store.path) in str(refused.value)
    assert service.engine.pipelines == memory
    assert "never-saved" not in service.engine.pipelines[PIPELINE].executions
    assert logged(service.store) == log
    assert service.runner.submitted == runs and service.changes == changes
    refuse_writes(service.store, False)
    service.apply(ExecutionStarted(PIPELINE, "saved", "StartPipelineExecution"))
    assert "saved" in service.engine.pipelines[PIPELINE].executions
    assert len(logged(service.store)) == len(log) + 1


def test_a_retried_client_token_gets_no_id_that_was_never_saved(service):
    refuse_writes(service.store, True)
    for _ in range(3):  # boto3 retries with the same token
        with pytest.raises(StateNotWritable):
            service.start_pipeline_execution({"name": PIPELINE, "clientRequestToken": "once"})
    assert service.engine.pipelines[PIPELINE].executions == {}
    refuse_writes(service.store, False)
    first = service.start_pipeline_execution({"name": PIPELINE, "clientRequestToken": "once"})
    again = service.start_pipeline_execution({"name": PIPELINE, "clientRequestToken": "once"})
    assert first == again
    assert list(service.engine.pipelines[PIPELINE].executions) == [first["pipelineExecutionId"]]


def test_a_result_reported_while_refused_is_stored_as_a_failure_once_it_can_be(service):
    execution_id = service.start_pipeline_execution({"name": PIPELINE})["pipelineExecutionId"]
    source = service.runner.submitted[-1]
    refuse_writes(service.store, True)
    result = ActionSucceeded(PIPELINE, execution_id, source.stage, source.action.name, source.action_execution_id)
    assert service.report(result) is False
    assert len(service.unsaved) == 1
    run = service.engine.pipelines[PIPELINE].executions[execution_id].stage_runs["Source"].actions["source"]
    assert run.status == "InProgress"
    assert service.unsaved.flush() == 1  # still refused: it waits
    refuse_writes(service.store, False)
    assert service.unsaved.flush() == 0
    execution = service.engine.pipelines[PIPELINE].executions[execution_id]
    run = execution.stage_runs["Source"].actions["source"]
    assert (run.status, execution.status) == ("Failed", "Failed")
    assert "could not write its state folder" in run.error_message and "the action's result was not saved" in run.error_message
    # What memory says is what the log says.
    replayed = CodePipeline(service.store)
    replayed.restore()
    assert replayed.engine.pipelines == service.engine.pipelines


def test_a_full_disk_refuses_the_commit_and_the_log_takes_writes_once_space_is_freed(tmp_path):
    with small_tmpfs(tmp_path / "disk", "2m") as disk:
        store = Store(disk / "state")
        service = CodePipeline(store, RecordingRunner())
        service.apply(PipelineDeclared(PIPELINE, 1, plan_from_declaration(article_declaration())))
        filler = fill(disk)
        memory, log = copy.deepcopy(service.engine.pipelines), logged(store)
        with pytest.raises(StateNotWritable) as refused:
            for _ in range(50):  # the last page of the WAL may still take a small event or two
                service.start_pipeline_execution({"name": PIPELINE})
                memory, log = copy.deepcopy(service.engine.pipelines), logged(store)
        assert refused.value.errno == errno.ENOSPC
        assert "No space left on device" in str(refused.value)
        assert service.engine.pipelines == memory and logged(store) == log
        filler.unlink()
        started = service.start_pipeline_execution({"name": PIPELINE})["pipelineExecutionId"]
        assert logged(store)[-1].execution_id == started
        store.close()


def test_while_the_store_refuses_a_change_is_refused_before_it_is_handled(service, monkeypatch):
    """The first refusal undoes the change (a replay of the log); later ones ask the store first."""
    refuse_writes(service.store, True)
    handled = []
    handle = Engine.handle
    monkeypatch.setattr(Engine, "handle", lambda engine, event, *args: handled.append(event) or handle(engine, event, *args))
    for number in range(3):
        with pytest.raises(StateNotWritable):
            service.apply(ExecutionStarted(PIPELINE, f"e{number}", "StartPipelineExecution"))
    # e0 was handled, then undone by replaying the log (the declaration); e1 and e2 never were.
    assert [getattr(e, "execution_id", None) for e in handled] == ["e0", None]
    refuse_writes(service.store, False)
    service.apply(ExecutionStarted(PIPELINE, "e3", "StartPipelineExecution"))
    assert list(service.engine.pipelines[PIPELINE].executions) == ["e3"]


def test_memory_that_cannot_be_read_back_refuses_every_later_change(service, monkeypatch):
    refuse_writes(service.store, True)

    def unreadable():
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(service.store, "events", unreadable)
    with pytest.raises(StateNotWritable):
        service.apply(ExecutionStarted(PIPELINE, "lost", "StartPipelineExecution"))
    refuse_writes(service.store, False)
    with pytest.raises(StateNotWritable) as refused:
        service.apply(ExecutionStarted(PIPELINE, "later", "StartPipelineExecution"))
    assert "restart the daemon" in str(refused.value)
    assert "later" not in service.engine.pipelines[PIPELINE].executions


def test_the_next_change_that_can_be_saved_stores_the_waiting_results_first(service):
    execution_id = service.start_pipeline_execution({"name": PIPELINE})["pipelineExecutionId"]
    source = service.runner.submitted[-1]
    refuse_writes(service.store, True)
    service.report(ActionSucceeded(PIPELINE, execution_id, source.stage, source.action.name, source.action_execution_id))
    refuse_writes(service.store, False)
    later = service.start_pipeline_execution({"name": PIPELINE})["pipelineExecutionId"]
    assert len(service.unsaved) == 0
    kinds = [(type(e).__name__, getattr(e, "execution_id", None)) for e in logged(service.store)[-2:]]
    assert kinds == [("ActionFailed", execution_id), ("ExecutionStarted", later)]
