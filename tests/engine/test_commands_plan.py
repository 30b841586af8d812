"""A Commands action in the engine: its commands, environment variables and output files are in
its plan, and its commands and variable values are resolved when it starts, as its configuration
is (no I/O)."""

from __future__ import annotations

from emulator.engine import plan_from_declaration
from tests.engine.harness import Harness, action
from tests.engine.test_machine import two_stage


def commands(name="run", **extra):
    return action(name, "Compute", "Commands", inputs=["src"], **extra)


def test_the_plan_carries_commands_environment_variables_and_files():
    declared = two_stage(commands(
        commands=["ls", "echo #{SourceVariables.CommitId}"], outputArtifacts=[{"name": "out", "files": ["dist/**/*"]}],
        environmentVariables=[{"name": "A", "value": "1"}, {"name": "T", "value": "ci/token", "type": "SECRETS_MANAGER"}],
        outputVariables=["VERSION"]))
    planned = plan_from_declaration(declared).stage("Work").action("run")
    assert planned.commands == ("ls", "echo #{SourceVariables.CommitId}")
    assert planned.environment_variables == (("A", "1", "PLAINTEXT"), ("T", "ci/token", "SECRETS_MANAGER"))
    assert planned.output_files == (("out", ("dist/**/*",)),)
    assert planned.output_variables == ("VERSION",)


def test_commands_and_variable_values_resolve_when_the_action_starts():
    harness = Harness(two_stage(commands(
        commands=["echo #{codepipeline.PipelineExecutionId}", "test #{SourceVariables.CommitId} = #{variables.env}"],
        environmentVariables=[{"name": "ENV", "value": "#{variables.env}"}]),
        variables=[{"name": "env", "defaultValue": "dev"}]), auto_run=False)
    harness.start("c1", variables=(("env", "qa"),), source_revisions=(("source", "abc123"),))
    harness.finish(harness.pending[0])
    run = harness.pending[0]
    assert run.commands == ("echo c1", "test abc123 = qa")
    assert run.environment_variables == (("ENV", "qa", "PLAINTEXT"),)


def test_an_unresolvable_variable_in_a_command_fails_the_action():
    harness = Harness(two_stage(commands(commands=["echo #{Nope.Key}"])))
    harness.start("c1")
    run = harness.execution("c1").stage_runs["Work"].actions["run"]
    assert (run.status, run.error_message) == ("Failed", "unable to resolve variable #{Nope.Key}")
