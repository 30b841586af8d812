"""Artifact retention keeps what a rollback needs: beyond the newest N ended executions, each
stage's newest execution that succeeded in it keeps its artifacts (a ROLLBACK runs them again)."""

from __future__ import annotations

from emulator.engine import ActionFailed, ActionSucceeded, PipelineDeclared, plan_from_declaration
from emulator.engine.events import ActionOutput, ArtifactOutput
from emulator.service import CodePipeline
from emulator.store import Store
from tests.engine.harness import action


class FinishingRunner:
    """Runs every action at once: it succeeds, unless it is in Prod and `fail_prod` is set."""

    def __init__(self, state_dir=None):
        self.fail_prod = False
        self.removed: list[str] = []
        self.state_dir = state_dir  # artifacts are folders here, as the real runner's

    def submit(self, command, report):
        if self.fail_prod and command.stage == "Prod":
            report(ActionFailed(command.pipeline, command.execution_id, command.stage, command.action.name,
                                command.action_execution_id, "it failed"))
            return
        artifacts = tuple(ArtifactOutput(n, f"artifacts/{command.execution_id}/{n}")
                          for n in command.action.output_artifacts)
        for artifact in artifacts if self.state_dir else ():
            (self.state_dir / artifact.location).mkdir(parents=True)
        report(ActionSucceeded(command.pipeline, command.execution_id, command.stage, command.action.name,
                               command.action_execution_id, ActionOutput(artifacts=artifacts)))

    def submit_rule(self, command, report):
        raise AssertionError("no rules here")

    def cancel(self, action_execution_id):
        pass

    def reap(self, keep):
        return []

    def remove_artifacts(self, execution_id):
        self.removed.append(execution_id)
        if self.state_dir:
            import shutil

            shutil.rmtree(self.state_dir / "artifacts" / execution_id, ignore_errors=True)


def test_the_last_execution_that_succeeded_in_a_stage_keeps_its_artifacts_past_the_retention(tmp_path):
    runner = FinishingRunner()
    service = CodePipeline(Store(tmp_path / "state"), runner, artifact_retention=2)
    declaration = {"name": "p", "stages": [
        {"name": "Source", "actions": [action("source", "Source", "CodeCommit", outputs=["src"])]},
        {"name": "Prod", "actions": [action("deploy", "Deploy", inputs=["src"])]}]}
    service.apply(PipelineDeclared("p", 1, plan_from_declaration(declaration)))
    started = [service.start_pipeline_execution({"name": "p"})["pipelineExecutionId"]]
    runner.fail_prod = True
    for _ in range(4):  # four that fail in Prod after the one that succeeded there
        started.append(service.start_pipeline_execution({"name": "p"})["pipelineExecutionId"])
    statuses = [service.engine.pipelines["p"].executions[e].status for e in started]
    assert statuses == ["Succeeded", "Failed", "Failed", "Failed", "Failed"]
    # The newest two are kept, and the first: the last that succeeded in Prod (and in Source
    # the newest of the failed ones succeeded, kept anyway).
    assert runner.removed == started[1:3]
    service.store.close()


def test_a_rollback_to_an_execution_whose_artifacts_went_is_refused_and_a_running_one_keeps_its_target(tmp_path):
    import pytest

    from emulator.service import ServiceError

    runner = FinishingRunner(tmp_path / "state")
    service = CodePipeline(Store(tmp_path / "state"), runner, artifact_retention=1)
    declaration = {"name": "p", "stages": [
        {"name": "Source", "actions": [action("source", "Source", "CodeCommit", outputs=["src"])]},
        {"name": "Prod", "actions": [action("deploy", "Deploy", inputs=["src"])]}]}
    service.apply(PipelineDeclared("p", 1, plan_from_declaration(declaration)))
    started = [service.start_pipeline_execution({"name": "p"})["pipelineExecutionId"] for _ in range(3)]
    assert runner.removed == started[:2]  # the newest, which is also Prod's last good one, is kept
    with pytest.raises(ServiceError) as raised:
        service.rollback_stage({"pipelineName": "p", "stageName": "Prod", "targetPipelineExecutionId": started[0]})
    assert raised.value.code == "UnableToRollbackStageException" and "no longer kept" in raised.value.message
    rollback = service.rollback_stage({"pipelineName": "p", "stageName": "Prod",
                                       "targetPipelineExecutionId": started[2]})["pipelineExecutionId"]
    assert service.engine.pipelines["p"].executions[rollback].status == "Succeeded"
    assert started[2] not in runner.removed
    service.store.close()
