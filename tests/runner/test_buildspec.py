"""Buildspec parsing, and the rendered script's phase semantics (host sh, and busybox sh in Docker)."""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

import pytest

from emulator.runner.buildspec import BuildspecError, parse_buildspec, render_script


def run_script(spec, tmp_path: Path, env: dict | None = None) -> tuple[int, str, Path]:
    state = tmp_path / "state"
    script = render_script(spec, state_dir=str(state))
    proc = subprocess.run(["sh", "-c", script], capture_output=True, text=True, cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin", **(env or {})}, timeout=30)
    return proc.returncode, proc.stdout + proc.stderr, state


def phases_of(output: str) -> dict[str, str]:
    return dict(re.findall(r"\[Container\] Phase complete: (\w+) State: (\w+)", output))


def spec_with(**phases) -> dict:
    return {"version": 0.2, "phases": {name: body for name, body in phases.items()}}


OK = {"commands": ["echo ok"]}
FAIL = {"commands": ["echo before", "exit_code() { return 3; }; exit_code", "echo never"]}

# (phases, expected phase states, exit status)
CASES = [
    ("all succeed", dict(install=OK, pre_build=OK, build=OK, post_build=OK),
     {"INSTALL": "SUCCEEDED", "PRE_BUILD": "SUCCEEDED", "BUILD": "SUCCEEDED",
      "POST_BUILD": "SUCCEEDED"}, 0),
    ("install fails skips the rest", dict(install=FAIL, pre_build=OK, build=OK, post_build=OK),
     {"INSTALL": "FAILED"}, 1),
    ("pre_build fails skips build and post_build",
     dict(install=OK, pre_build=FAIL, build=OK, post_build=OK),
     {"INSTALL": "SUCCEEDED", "PRE_BUILD": "FAILED"}, 1),
    ("build fails still runs post_build", dict(build=FAIL, post_build=OK),
     {"BUILD": "FAILED", "POST_BUILD": "SUCCEEDED"}, 1),
    ("post_build fails", dict(build=OK, post_build=FAIL),
     {"BUILD": "SUCCEEDED", "POST_BUILD": "FAILED"}, 1),
    ("install CONTINUE goes on", dict(install={**FAIL, "on-failure": "CONTINUE"}, build=OK),
     {"INSTALL": "FAILED", "BUILD": "SUCCEEDED"}, 1),
    ("failing finally fails the phase", dict(build={"commands": ["true"], "finally": ["false"]}),
     {"BUILD": "FAILED"}, 1),
]


@pytest.mark.parametrize("phases,expected,status", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_phase_semantics(tmp_path, phases, expected, status):
    rc, out, _ = run_script(spec_with(**phases), tmp_path)
    assert rc == status, out
    assert phases_of(out) == expected
    assert "echo never" not in out.replace("Running command echo never", "")
    assert "Running command echo never" not in out


def test_failing_command_is_reported_and_finally_runs(tmp_path):
    spec = spec_with(build={"commands": ["echo x; exit_code() { return 2; }; exit_code"],
                            "finally": ["echo cleanup"]})
    rc, out, state = run_script(spec, tmp_path)
    assert rc == 1
    assert "[Container] Entering phase BUILD" in out
    assert "[Container] Command did not exit successfully echo x; exit_code() { return 2; }; " \
           "exit_code exit status 2" in out
    assert "cleanup" in out
    phase, status, command = (state / "failure").read_text().split("\n", 2)
    assert (phase, status) == ("BUILD", "2")


def test_one_shell_session_variables_cd_and_quoting(tmp_path):
    (tmp_path / "sub").mkdir()
    spec = spec_with(
        install={"commands": ["GREETING='it'\"'\"'s $HOME'", "cd sub"]},
        build={"commands": ['echo "[$GREETING]" > out.txt', "echo $1 positional-empty"]},
    )
    rc, out, _ = run_script(spec, tmp_path)
    assert rc == 0, out
    assert (tmp_path / "sub" / "out.txt").read_text() == "[it's $HOME]\n"


def test_syntax_error_fails_the_command_not_the_shell(tmp_path):
    rc, out, _ = run_script(spec_with(build={"commands": ["if then"]}, post_build=OK), tmp_path)
    assert rc == 1
    assert phases_of(out) == {"BUILD": "FAILED", "POST_BUILD": "SUCCEEDED"}


def test_exit_in_a_command_still_reports(tmp_path):
    spec = {"version": 0.2, "env": {"exported-variables": ["V"]},
            "phases": {"build": {"commands": ["V=set", "exit 4"]}}}
    rc, out, state = run_script(spec, tmp_path)
    assert rc == 1
    assert "Phase complete: BUILD State: FAILED" in out
    assert (state / "exported.env").read_text() == "V=" + base64.b64encode(b"set").decode() + "\n"


def test_env_variables_are_defaults_and_exported_variables_are_written(tmp_path):
    spec = """
version: 0.2
env:
  variables:
    FROM_SPEC: spec
    OVERRIDDEN: spec
    NUMBER: 5
  exported-variables:
    - FROM_SPEC
    - OVERRIDDEN
    - MADE
    - NEVER_SET
phases:
  build:
    commands:
      - MADE="line one
        two"
      - echo "$NUMBER"
"""
    rc, out, state = run_script(spec, tmp_path, env={"OVERRIDDEN": "env"})
    assert rc == 0, out
    lines = dict(l.split("=", 1) for l in (state / "exported.env").read_text().splitlines())
    decoded = {k: base64.b64decode(v).decode() for k, v in lines.items()}
    assert decoded == {"FROM_SPEC": "spec", "OVERRIDDEN": "env", "MADE": "line one two"}
    assert "\n5\n" in out


def test_container_run_with_busybox_sh(docker_client, busybox_image):
    spec = spec_with(install=OK, build=FAIL, post_build={"commands": ["echo post $CODEBUILD_BUILD_SUCCEEDING"]})
    script = render_script(spec, state_dir="/tmp/pipemu")
    container = docker_client.containers.run(busybox_image, ["/bin/sh", "-c", script], detach=True)
    try:
        status = container.wait(timeout=60)["StatusCode"]
        out = container.logs().decode()
    finally:
        container.remove(force=True)
    assert status == 1, out
    assert phases_of(out) == {"INSTALL": "SUCCEEDED", "BUILD": "FAILED", "POST_BUILD": "SUCCEEDED"}
    assert "post 0" in out


@pytest.mark.parametrize("spec,key", [
    ("version: 0.1\nphases: {build: {commands: [x]}}", "version"),
    ("phases: {build: {commands: [x]}}", "version"),
    ("version: 0.2", "phases"),
    ("version: 0.2\nphases: {compile: {commands: [x]}}", "phases.compile"),
    ("version: 0.2\nphases: {build: {commands: echo}}", "phases.build.commands"),
    ("version: 0.2\nphases: {build: {commands: [echo a: b]}}", "phases.build.commands[0]"),
    ("version: 0.2\nphases: {build: {on-failure: RETRY}}", "phases.build.on-failure"),
    ("version: 0.2\nenv: {variables: [A]}\nphases: {}", "env.variables"),
    ("version: 0.2\nenv: {exported-variables: [1A]}\nphases: {}", "env.exported-variables"),
    ("version: 0.2\nphases: {}\nartifacts: {base-directory: x}", "artifacts.files"),
    ("version: 0.2\nphases: {}\nartifacts: {files: [a], discard-paths: maybe}",
     "artifacts.discard-paths"),
    ("version: 0.2\nphases: [", "YAML"),
    ("- a list", "mapping"),
])
def test_invalid_buildspecs_name_the_key(spec, key):
    with pytest.raises(BuildspecError) as info:
        parse_buildspec(spec)
    assert key in str(info.value)


def test_artifacts_parsing():
    spec = parse_buildspec({
        "version": "0.2", "phases": {"build": {"commands": ["true"]}},
        "artifacts": {"files": "**/*", "base-directory": "dist/", "discard-paths": "yes",
                      "secondary-artifacts": {"Docs": {"files": ["docs/**/*"]}}},
    })
    assert spec.artifacts.files == ("**/*",)
    assert spec.artifacts.base_directory == "dist"
    assert spec.artifacts.discard_paths is True
    assert spec.secondary_artifacts["Docs"].files == ("docs/**/*",)


@pytest.mark.parametrize("files,base,discard,path,expected", [
    (["**/*"], "", False, "a/b/c.txt", "a/b/c.txt"),
    (["*.txt"], "", False, "a/c.txt", None),
    (["*.txt"], "", False, "c.txt", "c.txt"),
    (["a/**/*.txt"], "", False, "a/c.txt", "a/c.txt"),
    (["a/**/*.txt"], "", False, "a/b/c/d.txt", "a/b/c/d.txt"),
    (["**/*.txt"], "dist", False, "dist/x/y.txt", "x/y.txt"),
    (["**/*.txt"], "dist", False, "other/y.txt", None),
    (["**/*"], "dist", True, "dist/x/y.txt", "y.txt"),
    (["dist"], "", False, "dist/x/y.txt", "dist/x/y.txt"),
    (["./app.jar"], "", False, "app.jar", "app.jar"),
])
def test_artifact_path(files, base, discard, path, expected):
    from emulator.runner.buildspec import ArtifactSpec, artifact_path

    assert artifact_path(ArtifactSpec(tuple(files), base, discard), path) == expected


def test_artifact_exclude_paths():
    from emulator.runner.buildspec import artifact_path

    spec = parse_buildspec({"version": 0.2, "phases": {},
                            "artifacts": {"files": ["**/*"], "exclude-paths": ["**/*.log"]}})
    assert artifact_path(spec.artifacts, "x/a.log") is None
    assert artifact_path(spec.artifacts, "x/a.txt") == "x/a.txt"


def test_env_shell_picks_the_interpreter():
    from emulator.runner.buildspec import BuildspecError, parse_buildspec

    assert parse_buildspec({"version": 0.2, "phases": {"build": {"commands": ["true"]}}}).shell == "/bin/sh"
    spec = parse_buildspec({"version": 0.2, "env": {"shell": "bash"}, "phases": {"build": {"commands": ["true"]}}})
    assert spec.shell == "/bin/bash"
    import pytest

    with pytest.raises(BuildspecError, match="env.shell"):
        parse_buildspec({"version": 0.2, "env": {"shell": "zsh"}, "phases": {"build": {"commands": ["true"]}}})
