"""Exporting pipelines as CloudFormation (checked by cfn-lint) and as get-pipeline JSON; importing
an export gives back the same pipeline, projects, functions and schedules."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from emulator.definitions import load_folder, load_text
from emulator.definitions.cfn_export import export_cloudformation, export_json
from emulator.definitions.cfn_import import import_template
from emulator.cfn.template import load
from emulator.definitions.models import DefinitionFile, Function, PipelineDeclaration, Project, Repository, Schedule

ROOT = Path(__file__).resolve().parents[2]
FOLDER = load_folder(ROOT / "pipelines")
CFN = Path(__file__).parent / "cfn"


def cfn_lint(path: Path) -> None:
    """cfn-lint's errors and warnings both fail (informational messages are not shown by default)."""
    command = [shutil.which("cfn-lint")] if shutil.which("cfn-lint") else [sys.executable, "-m", "cfnlint"]
    run = subprocess.run([*command, str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def round_trip(tmp_path: Path, pipeline: PipelineDeclaration, projects: dict, functions: dict, schedules: list,
               repositories: dict, name: str = "template.yml") -> tuple[DefinitionFile, str]:
    """Export, lint, import again with the local folders as maps, and load the import."""
    text = export_cloudformation(pipeline, projects, functions, schedules, repositories)
    template = tmp_path / name
    template.write_text(text)
    cfn_lint(template)
    maps = {f"repo:{k}": str(v.path) for k, v in repositories.items()}
    for resource in load(text)["Resources"].values():  # code not inline: give its folder, as a user would
        if resource["Type"] == "AWS::Lambda::Function" and "S3Bucket" in resource["Properties"]["Code"]:
            name = resource["Properties"]["FunctionName"]
            maps[f"code:{name}"] = str(functions[name].code)
    result = import_template(template, maps=maps, code_dir=tmp_path / "code")
    for path, code in result.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
    (definition,) = result.definitions
    loaded = load_text(yaml.safe_dump(definition), tmp_path / "imported.yml")
    assert loaded.errors == [], [str(e) for e in loaded.errors]
    return loaded.definition, text


def used(pipeline: PipelineDeclaration, section: dict, key: str) -> dict:
    names = {(a.configuration or {}).get(key) for s in pipeline.stages for a in s.actions}
    return {name: item for name, item in section.items() if name in names}


@pytest.mark.parametrize("name", sorted(FOLDER.pipelines))
def test_every_sample_pipeline_exports_lints_and_imports_back(name, tmp_path):
    assert FOLDER.errors == []
    path, pipeline = FOLDER.pipelines[name]
    schedules = [s for (_, s, target) in FOLDER.schedules if target == name]
    projects, functions = used(pipeline, FOLDER.projects, "ProjectName"), used(pipeline, FOLDER.functions, "FunctionName")
    repositories = used(pipeline, FOLDER.repositories, "RepositoryName")
    imported, text = round_trip(tmp_path, pipeline, projects, functions, schedules, repositories)
    assert imported.pipeline == pipeline
    assert imported.projects == projects and imported.functions == functions and imported.repositories == repositories
    assert imported.schedules == [s.model_copy(update={"pipeline": name}) for s in schedules]
    template = load(text)
    assert template["Resources"]["Pipeline"]["Properties"]["RoleArn"] == {"Ref": "PipelineRoleArn"}
    assert all(p.get("Default") for p in template["Parameters"].values())


def test_get_pipeline_json(tmp_path):
    for name, (_, pipeline) in FOLDER.pipelines.items():
        text = export_json(pipeline)
        data = json.loads(text)
        assert data["metadata"] == {"pipelineArn": f"arn:aws:codepipeline:us-east-1:123456789012:{name}"}
        assert data["pipeline"]["version"] == 1 and data["pipeline"]["name"] == name
        loaded = load_text(text, tmp_path / f"{name}.json")
        assert loaded.errors == [] and loaded.definition.pipeline == pipeline
    assert json.loads(export_json(FOLDER.pipelines["my-release-pipeline"][1].model_dump(mode="json")))["pipeline"]["pipelineType"] == "V2"


def test_local_settings_inline_code_and_time_zones_survive(tmp_path):
    code = tmp_path / "notify"
    code.mkdir()
    (code / "index.py").write_text("def handler(event, context):\n    return 'ok'\n")
    big = tmp_path / "big"
    big.mkdir()
    (big / "index.py").write_text("#" * 5000 + "\n")
    pipeline = PipelineDeclaration.model_validate({
        "name": "p", "pipelineType": "V2", "executionMode": "QUEUED",
        "variables": [{"name": "Env", "defaultValue": "dev", "description": "where"}],
        "triggers": [{"providerType": "CodeStarSourceConnection", "gitConfiguration": {
            "sourceActionName": "src", "push": [{"branches": {"includes": ["main"]}, "filePaths": {"excludes": ["docs/**"]}}]}}],
        "stages": [
            {"name": "Source", "actions": [{"name": "src", "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeStarSourceConnection", "version": "1"},
                                            "configuration": {"ConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/x",
                                                              "FullRepositoryId": "me/app", "BranchName": "main", "DetectChanges": False},
                                            "outputArtifacts": [{"name": "Src"}]}]},
            {"name": "Build", "actions": [
                {"name": "build", "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
                 "configuration": {"ProjectName": "b"}, "inputArtifacts": [{"name": "Src"}], "namespace": "B", "timeoutInMinutes": 30},
                {"name": "notify", "actionTypeId": {"category": "Invoke", "owner": "AWS", "provider": "Lambda", "version": "1"},
                 "configuration": {"FunctionName": "notify", "UserParameters": "#{B.x}"}, "runOrder": 2},
                {"name": "big", "actionTypeId": {"category": "Invoke", "owner": "AWS", "provider": "Lambda", "version": "1"},
                 "configuration": {"FunctionName": "big"}, "runOrder": 2}]}]})
    projects = {"b": Project(image="my/builder:1", buildspec="ci/buildspec.yml", privilegedMode=True, network="Shared",
                             environmentVariables=[{"name": "A", "value": "1"}, {"name": "S", "value": "s/x", "type": "SECRETS_MANAGER"}])}
    functions = {"notify": Function(runtime="python3.12", handler="index.handler", code=code, environment={"KEY": "v"}, image="my/py:1"),
                 "big": Function(runtime="python3.12", handler="index.handler", code=big, timeout=30, memorySize=1024)}
    schedules = [Schedule(expression="cron(0 8 ? * MON *)", timezone="Europe/Paris", name="weekly"),
                 Schedule(expression="rate(1 hour)", enabled=False), Schedule(expression="rate(2 hours)", pipeline="other")]
    repositories = {"me/app": Repository(path=tmp_path / "app")}
    imported, text = round_trip(tmp_path, pipeline, projects, functions, schedules, repositories)
    template = load(text)
    resources = template["Resources"]
    assert resources["NotifyFunction"]["Properties"]["Code"] == {"ZipFile": "def handler(event, context):\n    return 'ok'\n"}
    assert set(resources["BigFunction"]["Properties"]["Code"]) == {"S3Bucket", "S3Key"}
    assert resources["Schedule"]["Type"] == "AWS::Scheduler::Schedule" and resources["Schedule2"]["Type"] == "AWS::Events::Rule"
    assert resources["BProject"]["Metadata"] == {"pipemu": {"image": "my/builder:1", "network": "Shared"}}
    assert imported.pipeline == pipeline and imported.projects == projects
    assert imported.functions["notify"].model_copy(update={"code": code}) == functions["notify"]
    assert (imported.functions["notify"].code / "index.py").read_text() == (code / "index.py").read_text()
    assert imported.functions["big"] == functions["big"]
    assert imported.schedules == [schedules[0].model_copy(update={"pipeline": "p"}), schedules[1].model_copy(update={"pipeline": "p"})]


@pytest.mark.parametrize("template, parameters", [
    ("service-pipeline.yml", {"ServiceName": "service-a", "Tier": "large"}),
    ("release-pipeline.yml", {}),
])
def test_imported_fixtures_export_and_import_back(template, parameters, tmp_path):
    first = import_template(CFN / template, parameters, {"import:shared-deploy-role-arn": "arn:aws:iam::123456789012:role/d"},
                            code_dir=tmp_path / "code")
    for path, code in first.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
    loaded = load_text(yaml.safe_dump(first.definition), tmp_path / "first.yml").definition
    (tmp_path / "again").mkdir()
    imported, text = round_trip(tmp_path / "again", loaded.pipeline, loaded.projects, loaded.functions, loaded.schedules,
                                loaded.repositories)
    assert imported.pipeline == loaded.pipeline and imported.projects == loaded.projects
    assert imported.schedules == loaded.schedules and imported.repositories == loaded.repositories
    for name, function in loaded.functions.items():
        assert imported.functions[name].model_copy(update={"code": function.code}) == function
    if loaded.functions:  # nodejs18.x runs here; AWS creates nodejs22.x functions at the oldest
        (function,) = [r for r in load(text)["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
        assert function["Properties"]["Runtime"] == "nodejs22.x" and function["Metadata"] == {"pipemu": {"runtime": "nodejs18.x"}}
        assert "require('aws-sdk')" in function["Properties"]["Code"]["ZipFile"]


def test_webhooks_export_lint_and_import_back(tmp_path):
    from tests.api.test_webhooks import TEMPLATE

    imported = import_template(TEMPLATE, stack_name="web-release").definition
    pipeline = PipelineDeclaration.model_validate(imported["pipeline"])
    plain = {**imported["webhooks"]["web-release-AppPipelineWebhook"], "authenticationConfiguration": {"SecretToken": "s3cr3t-token"}}
    webhooks = {**imported["webhooks"], "plain-hook": plain, "other-hook": {**plain, "targetPipeline": "elsewhere"}}
    text = export_cloudformation(pipeline, webhooks=webhooks)
    (tmp_path / "t.yml").write_text(text)
    cfn_lint(tmp_path / "t.yml")
    assert "s3cr3t-token" not in text and "elsewhere" not in text  # a plain secret becomes a NoEcho parameter
    template = load(text)
    assert template["Parameters"]["PlainHookSecretToken"]["NoEcho"] is True
    back = import_template(text, stack_name="again", parameters={"PlainHookSecretToken": "s3cr3t-token"},
                           maps={"repo:octo-org/web-app": "repo"}).definition
    assert back["webhooks"] == {"web-release-AppPipelineWebhook": imported["webhooks"]["web-release-AppPipelineWebhook"],
                                "plain-hook": plain}
