"""The Commands action's build, as commands_action.py makes it from the declaration (no Docker):
its buildspec, and the compute AWS's EnvironmentType and ComputeType ask for."""

from __future__ import annotations

import pytest

from emulator.engine import RunAction
from emulator.engine.plan import ActionPlan
from emulator.runner.commands_action import _buildspec, _compute
from emulator.runner.failures import ActionFailure


def command(commands=("ls",), outputs=(), files=(), variables=()) -> RunAction:
    plan = ActionPlan("run", "Compute", "AWS", "Commands", "1", input_artifacts=("src",), output_artifacts=outputs,
                      output_files=files, output_variables=variables, commands=commands)
    return RunAction("p", "e1", "Build", plan, "a1", (), (), commands=commands)


def test_the_buildspec_runs_the_commands_exports_the_variables_and_selects_the_files():
    spec = _buildspec(command(("ls", "export V=1"), ("out",), (("out", ("dist/**/*",)),), ("V",)), "bash")
    assert spec == {"version": 0.2, "env": {"shell": "bash", "exported-variables": ["V"]},
                    "phases": {"build": {"commands": ["ls", "export V=1"]}}, "artifacts": {"files": ["dist/**/*"]}}
    assert "artifacts" not in _buildspec(command(), "sh") and "exported-variables" not in _buildspec(command(), "sh")["env"]


def test_an_output_artifact_without_files_fails():
    with pytest.raises(ActionFailure, match=r"output artifact out names no files"):
        _buildspec(command(outputs=("out",)), "bash")


@pytest.mark.parametrize("configuration, compute", [
    ({}, (3072, 2)),  # AWS's defaults: LINUX_CONTAINER, BUILD_GENERAL1_SMALL
    ({"EnvironmentType": "LINUX_CONTAINER", "ComputeType": "BUILD_GENERAL1_MEDIUM"}, (7168, 4)),
    ({"ComputeType": "BUILD_GENERAL1_LARGE"}, (15360, 8)),
])
def test_compute_types_are_codebuilds(configuration, compute):
    assert _compute(configuration) == compute


@pytest.mark.parametrize("configuration, message", [
    ({"EnvironmentType": "WINDOWS_SERVER_2022_CONTAINER"}, "pipemu runs Linux containers only"),
    ({"EnvironmentType": "ARM_CONTAINER"}, "EnvironmentType ARM_CONTAINER is not one of"),
    ({"ComputeType": "BUILD_GENERAL1_2XLARGE"}, "ComputeType BUILD_GENERAL1_2XLARGE is not one of"),
])
def test_what_cannot_run_here_fails_the_action(configuration, message):
    with pytest.raises(ActionFailure, match=message):
        _compute(configuration)
