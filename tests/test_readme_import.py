"""The README's import example works as written, and an import whose generated names clash with
another file is refused with the `--stack-name` hint."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _shim(folder: Path) -> dict:
    """An environment where `pipemu` is this checkout's CLI, as the README's commands call it."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "pipemu"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m emulator.cli "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}


def readme_block(after: str) -> str:
    text = (ROOT / "README.md").read_text()
    return re.search(r"```sh\n(.*?)```", text[text.index(after):], re.S).group(1)


def test_the_readme_import_example_runs_as_written(tmp_path):
    shutil.copytree(ROOT / "sample_services" / "cloudformation", tmp_path / "sample_services" / "cloudformation")
    for name in ("service-a", "service-b", "e2e-tests"):
        (tmp_path / ".pipemu" / "repos" / name).mkdir(parents=True)
    block = readme_block("On AWS it is deployed once per service")
    assert "--stack-name" in block and "--parameter" in block and "--map" in block
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, env=_shim(tmp_path),
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ok" in run.stdout
    imported = tmp_path / "imported"
    service_a = yaml.safe_load((imported / "my-service-a-pipeline.yml").read_text())
    assert service_a["repositories"] == {"service-a": {"path": "../.pipemu/repos/service-a"}}
    assert service_a["pipeline"]["stages"][0]["actions"][0]["actionTypeId"]["version"] == "1"  # Version: 1, converted
    assert "AWS::CodePipeline::Pipeline" in (tmp_path / "my-service-a.yml").read_text()


CLASHING = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Service: {Type: String}
Resources:
  Build:                      # no Name: CloudFormation names it STACK-Build
    Type: AWS::CodeBuild::Project
    Properties:
      ServiceRole: arn:aws:iam::123456789012:role/build
      Source: {Type: CODEPIPELINE}
      Artifacts: {Type: CODEPIPELINE}
      Environment: {Type: LINUX_CONTAINER, ComputeType: BUILD_GENERAL1_SMALL, Image: aws/codebuild/standard:7.0}
  Pipeline:
    Type: AWS::CodePipeline::Pipeline
    Properties:
      Name: !Sub ${Service}-pipeline
      RoleArn: arn:aws:iam::123456789012:role/pipeline
      ArtifactStore: {Type: S3, Location: artifacts}
      Stages:
        - Name: Source
          Actions:
            - Name: source
              ActionTypeId: {Category: Source, Owner: AWS, Provider: CodeCommit, Version: 1}
              Configuration: {RepositoryName: !Ref Service, BranchName: main, PollForSourceChanges: false}
              OutputArtifacts: [{Name: Src}]
        - Name: Build
          Actions:
            - Name: build
              ActionTypeId: {Category: Build, Owner: AWS, Provider: CodeBuild, Version: 1}
              Configuration: {ProjectName: !Ref Build}
              InputArtifacts: [{Name: Src}]
"""


def test_two_imports_with_clashing_generated_names_need_two_stack_names(tmp_path):
    (tmp_path / "service.yml").write_text(CLASHING)
    env = _shim(tmp_path)

    def pipemu(*args):
        return subprocess.run(["pipemu", "import", "service.yml", *args], cwd=tmp_path, env=env, capture_output=True, text=True)

    first = pipemu("--parameter", "Service=a")
    assert first.returncode == 0, first.stderr
    assert pipemu("--parameter", "Service=a").returncode == 0  # the same stack again: rewritten
    second = pipemu("--parameter", "Service=b")
    assert second.returncode == 1
    assert "project service-Build is already declared in pipelines/a-pipeline.yml" in second.stderr
    assert "--stack-name" in second.stderr
    assert not (tmp_path / "pipelines" / "b-pipeline.yml").exists()  # nothing written
    third = pipemu("--parameter", "Service=b", "--stack-name", "service-b")
    assert third.returncode == 0, third.stderr
    assert yaml.safe_load((tmp_path / "pipelines" / "b-pipeline.yml").read_text())["projects"].keys() == {"service-b-Build"}
