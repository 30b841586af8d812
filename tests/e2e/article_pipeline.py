"""The article's service pipeline as a definition file, for the end-to-end tests."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

BUILD = {
    "version": 0.2,
    "phases": {"build": {"commands": ["mkdir -p dist", "cat *.txt > dist/app.txt", "echo built $(cat dist/app.txt)"]}},
    "artifacts": {"files": ["**/*"], "base-directory": "dist"},
}
DEPLOY = {"version": 0.2, "phases": {"build": {"commands": ["echo deploying $(cat app.txt) to $STAGE"]}}}
TEST = {"version": 0.2, "phases": {"build": {"commands": ["test -s app.txt", "echo tests passed"]}}}


def codebuild(name: str, project: str, inputs: list[str], outputs=(), run_order=1, category="Build", **config):
    return {
        "name": name,
        "actionTypeId": {"category": category, "owner": "AWS", "provider": "CodeBuild", "version": "1"},
        "runOrder": run_order,
        "configuration": {"ProjectName": project, **config},
        "inputArtifacts": [{"name": n} for n in inputs],
        "outputArtifacts": [{"name": n} for n in outputs],
    }


def codecommit_source(repository: str, poll: bool = False) -> dict:
    """The `source` action: the main branch of `repository`, output as SourceOutput."""
    configuration = {"RepositoryName": repository, "BranchName": "main"}
    if not poll:
        configuration["PollForSourceChanges"] = "false"
    return {
        "name": "source",
        "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
        "configuration": configuration,
        "outputArtifacts": [{"name": "SourceOutput"}],
    }


def approve(run_order: int):
    return {
        "name": "approve",
        "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"},
        "runOrder": run_order,
        "configuration": {
            "CustomData": "Review #{SourceVariables.CommitId}",
            "ExternalEntityLink": "http://review.example.com/#{codepipeline.PipelineExecutionId}",
        },
    }


def service_pipeline(name: str, repo: Path, image: str, poll: bool = False, mode: str = "SUPERSEDED") -> dict:
    env = lambda stage: '[{"name": "STAGE", "value": "%s", "type": "PLAINTEXT"}]' % stage  # noqa: E731
    source = {**codecommit_source(f"{name}-repo", poll), "namespace": "SourceVariables"}
    return {
        "pipeline": {
            "name": name,
            "roleArn": "arn:aws:iam::123456789012:role/pipeline",
            "executionMode": mode,
            "stages": [
                {"name": "Source", "actions": [source]},
                {"name": "Building", "actions": [codebuild("build", f"{name}-build", ["SourceOutput"], ["BuildOutput"])]},
                {"name": "StagingDEV", "actions": [
                    codebuild("stage", f"{name}-deploy", ["BuildOutput"], EnvironmentVariables=env("DEV")),
                    codebuild("test", f"{name}-test", ["BuildOutput"], run_order=2, category="Test"),
                    approve(3),
                ]},
                {"name": "StagingQA", "actions": [
                    codebuild("stage", f"{name}-deploy", ["BuildOutput"], EnvironmentVariables=env("QA")),
                    approve(2),
                ]},
                {"name": "StagingPROD", "actions": [
                    codebuild("stage", f"{name}-deploy", ["BuildOutput"], EnvironmentVariables=env("PROD")),
                ]},
            ],
        },
        "repositories": {f"{name}-repo": {"path": str(repo)}},
        # Copies: tests change a definition's buildspec (a slow build) for themselves only.
        "projects": {
            f"{name}-build": {"image": image, "buildspec": copy.deepcopy(BUILD)},
            f"{name}-deploy": {"image": image, "buildspec": copy.deepcopy(DEPLOY)},
            f"{name}-test": {"image": image, "buildspec": copy.deepcopy(TEST)},
        },
    }


def write(folder: Path, definition: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{definition['pipeline']['name']}.yml"
    path.write_text(yaml.safe_dump(definition, sort_keys=False))
    return path
