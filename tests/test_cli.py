"""`pipemu validate` and `pipemu serve` as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.daemon import ROOT, Daemon

BROKEN = """\
pipeline:
  name: broken
  stages:
    - name: Source
      actions:
        - name: source
          actionTypeId: {category: Source, owner: AWS, provider: CodeCommit, version: "1"}
          configuration: {RepositoryName: repo, BranchName: main}
          outputArtifacts: [{name: src}]
    - name: Build
      actions:
        - name: build
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          configuration: {ProjectName: proj}
          inputArtifacts: [{name: src}]
          runOrder: 1000
repositories:
  repo: {path: .}
projects:
  proj: {image: busybox}
"""


def pipemu(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emulator.cli", *args], cwd=cwd, capture_output=True, text=True)


def test_validate_prints_file_line_column_field_and_message(tmp_path):
    path = tmp_path / "broken.yml"
    path.write_text(BROKEN)
    result = pipemu("validate", str(path))
    assert result.returncode == 1
    assert f"{path}:16:11: pipeline.stages[1].actions[0].runOrder: " in result.stdout
    assert "999" in result.stdout


def test_validate_reports_yaml_syntax_errors_with_position(tmp_path):
    path = tmp_path / "syntax.yml"
    path.write_text("pipeline:\n  name: [unclosed\n")
    result = pipemu("validate", str(path))
    assert result.returncode == 1
    assert result.stdout.startswith(f"{path}:")
    line, column = result.stdout.split(":")[1:3]
    assert line.isdigit() and column.isdigit()


V2_CONDITIONS = BROKEN.replace("          runOrder: 1000\n", """\
      beforeEntry:
        conditions:
          - result: FAIL
            rules:
              - name: window
                ruleTypeId: {category: Rule, owner: AWS, provider: DeploymentWindow, version: "1"}
                configuration: {Cron: "* * 9-17 ? * MON-FRI *", TimeZone: UTC}
      onFailure:
        result: RETRY
        retryConfiguration: {retryMode: FAILED_ACTIONS}
""").replace("name: broken", "name: guarded")


def test_validate_takes_the_v2_conditions_it_carries_out_and_names_a_bad_window(tmp_path):
    path = tmp_path / "guarded.yml"
    path.write_text(V2_CONDITIONS)
    result = pipemu("validate", str(path))
    assert (result.returncode, result.stdout.strip()) == (0, "ok"), result.stdout + result.stderr
    path.write_text(V2_CONDITIONS.replace('"* * 9-17 ? * MON-FRI *"', '"0 9-17 ? * MON-FRI *"'))  # six fields, no seconds
    result = pipemu("validate", str(path))
    assert result.returncode == 1 and "beforeEntry.conditions[0].rules[0].configuration.Cron: Cron '0 9-17 ? * " \
        "MON-FRI *': exactly one of day-of-month and day-of-week must be '?'" in result.stdout
    bad = V2_CONDITIONS.replace("result: RETRY", "result: RETRYING")
    path.write_text(bad)  # a value AWS's model refuses stays an error
    result = pipemu("validate", str(path))
    assert result.returncode == 1 and "pipeline.stages[1].onFailure.result: must be one of" in result.stdout


def test_validate_accepts_the_sample_product():
    result = pipemu("validate", "pipelines")
    assert (result.returncode, result.stdout.strip()) == (0, "ok")


def test_second_daemon_on_one_state_folder_is_refused(tmp_path):
    (tmp_path / "pipelines").mkdir()
    first = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    try:
        result = pipemu("serve", "--pipelines", str(tmp_path / "pipelines"), "--state-dir",
                        str(tmp_path / "state"), "--port", "1")
        assert result.returncode == 2
        assert "in use by a running daemon" in result.stderr
    finally:
        first.stop()


def test_a_broken_file_is_reported_and_the_daemon_still_serves(tmp_path):
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "broken.yml").write_text(BROKEN)
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    try:
        health = daemon.health()
        assert health["pipelines"] == 0
        assert any("broken.yml:16:11: pipeline.stages[1].actions[0].runOrder" in e for e in health["definitionErrors"])
        assert daemon.client().list_pipelines()["pipelines"] == []
    finally:
        daemon.stop()
