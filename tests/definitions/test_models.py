"""The models: AWS's names and defaults, coercions, dumps, and the cross-field rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from emulator.definitions import (
    DEFAULT_ROLE_ARN,
    SUPPORTED_ACTION_TYPES,
    ActionDeclaration,
    DefinitionFile,
    PipelineDeclaration,
    Project,
    Repository,
    check_pipeline,
    referenced_resources,
)

DATA = Path(__file__).parent / "data"


def _action(name, category, provider, **extra):
    return {"name": name, "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"}, **extra}


def _pipeline(*stages, **extra):
    return {"name": "p", "stages": [{"name": n, "actions": list(a)} for n, a in stages], **extra}


SOURCE = _action("src", "Source", "CodeCommit", configuration={"RepositoryName": "r", "BranchName": "main"}, outputArtifacts=[{"name": "Src"}])
BUILD = _action("build", "Build", "CodeBuild", configuration={"ProjectName": "b"}, inputArtifacts=[{"name": "Src"}])


def test_defaults_are_filled_in_and_dump_in_get_pipeline_form():
    pipeline = PipelineDeclaration.model_validate(_pipeline(("Source", [SOURCE]), ("Build", [BUILD])))
    dumped = pipeline.model_dump(mode="json", exclude_none=True)
    assert dumped == {
        "name": "p",
        "roleArn": DEFAULT_ROLE_ARN,
        "artifactStore": {"type": "S3", "location": "pipemu-local-artifacts"},
        "stages": [
            {
                "name": "Source",
                "actions": [
                    {
                        "name": "src",
                        "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
                        "runOrder": 1,
                        "configuration": {"RepositoryName": "r", "BranchName": "main"},
                        "outputArtifacts": [{"name": "Src"}],
                        "inputArtifacts": [],
                    }
                ],
            },
            {
                "name": "Build",
                "actions": [
                    {
                        "name": "build",
                        "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
                        "runOrder": 1,
                        "configuration": {"ProjectName": "b"},
                        "outputArtifacts": [],
                        "inputArtifacts": [{"name": "Src"}],
                    }
                ],
            },
        ],
        "version": 1,
        "executionMode": "SUPERSEDED",
        "pipelineType": "V1",
    }
    # The dump is itself a valid declaration that loads back to the same model.
    assert PipelineDeclaration.model_validate(dumped) == pipeline
    assert check_pipeline(pipeline) == []


def test_get_pipeline_json_round_trips():
    raw = json.loads((DATA / "getpipeline" / "my-service-b.json").read_text())
    definition = DefinitionFile.model_validate(raw)
    assert definition.model_dump(mode="json", exclude_none=True)["pipeline"] == raw["pipeline"]
    assert "metadata" not in definition.model_dump()


@pytest.mark.parametrize(
    "written, stored",
    [(False, "false"), (True, "true"), (5, "5"), (1.5, "1.5"), ("main", "main")],
)
def test_configuration_scalars_become_strings_as_aws_writes_them(written, stored):
    action = ActionDeclaration.model_validate(_action("a", "Approval", "Manual", configuration={"CustomData": written}))
    assert action.configuration == {"CustomData": stored}


def test_configuration_rejects_nested_values():
    with pytest.raises(ValidationError):
        ActionDeclaration.model_validate(_action("a", "Approval", "Manual", configuration={"CustomData": {"x": 1}}))


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", "bad name"),
        ("name", "x" * 101),
        ("executionMode", "FAST"),
        ("pipelineType", "V3"),
        ("version", 0),
        ("version", "2"),  # AWS's integers are integers, in YAML too
        ("roleArn", "not-an-arn"),
        ("unknownKey", 1),
    ],
)
def test_pipeline_fields_are_checked(field, value):
    with pytest.raises(ValidationError):
        PipelineDeclaration.model_validate(_pipeline(("Source", [SOURCE]), ("Build", [BUILD]), **{field: value}))


def test_models_are_frozen():
    pipeline = PipelineDeclaration.model_validate(_pipeline(("Source", [SOURCE]), ("Build", [BUILD])))
    with pytest.raises(ValidationError):
        pipeline.version = 2  # type: ignore[misc]
    assert pipeline.model_copy(update={"version": 2}).version == 2


def test_repository_path_resolves_against_base_dir(tmp_path):
    repo = Repository.model_validate({"path": "repos/a"}, context={"base_dir": tmp_path})
    assert repo.path == tmp_path / "repos" / "a"
    assert Repository.model_validate({"path": "/abs/a"}).path == Path("/abs/a")


@pytest.mark.parametrize(
    "buildspec, inline, path",
    [
        (None, None, "buildspec.yml"),
        ("ci/test.yml", None, "ci/test.yml"),
        ({"version": 0.2}, {"version": 0.2}, None),
        ("version: 0.2\nphases: {}\n", "version: 0.2\nphases: {}\n", None),
    ],
)
def test_project_buildspec_is_inline_or_a_path(buildspec, inline, path):
    project = Project.model_validate({"image": "busybox", "buildspec": buildspec})
    assert project.inline_buildspec == inline
    assert project.buildspec_path == path


def test_project_environment_variables_default_to_plaintext():
    project = Project.model_validate({"image": "busybox", "environmentVariables": [{"name": "N", "value": 3}]})
    assert project.environmentVariables[0].model_dump() == {"name": "N", "value": "3", "type": "PLAINTEXT"}


def test_function_stack_bucket_and_schedule_sections(tmp_path):
    definition = DefinitionFile.model_validate(
        {
            "functions": {"release": {"runtime": "python3.12", "handler": "app.handler", "code": "release"}},
            "stacks": {"svc": {"image": "img", "port": 8080, "healthCheck": {"path": "/health"}}},
            "buckets": {"drop": {"path": "drop"}},
            "schedules": [{"expression": "cron(0 1 ? * MON-FRI *)"}, {"expression": "rate(5 minutes)"}],
        },
        context={"base_dir": str(tmp_path)},
    )
    assert definition.functions["release"].code == tmp_path / "release"
    assert definition.functions["release"].timeout == 900
    assert definition.stacks["svc"].healthCheck.path == "/health"
    assert definition.buckets["drop"].path == tmp_path / "drop"
    assert [s.expression for s in definition.schedules] == ["cron(0 1 ? * MON-FRI *)", "rate(5 minutes)"]


@pytest.mark.parametrize(
    "data, words",
    [
        ({"functions": {"f": {"runtime": "ruby3.2", "handler": "a.b", "code": "."}}}, "Lambda runtime"),
        ({"stacks": {"s": {}}}, "exactly one of image or dockerfile"),
        ({"stacks": {"s": {"image": "i", "dockerfile": "Dockerfile"}}}, "exactly one of image or dockerfile"),
        ({"schedules": [{"expression": "cron(0 1 * * *)"}]}, "cron("),
        ({"schedules": [{"expression": "rate(5 weeks)"}]}, "rate("),
    ],
)
def test_bad_sections(data, words):
    with pytest.raises(Exception) as raised:
        DefinitionFile.model_validate(data)
    assert words in str(raised.value)


def test_supported_action_types_table():
    assert set(SUPPORTED_ACTION_TYPES) == {
        ("Source", "AWS", "CodeCommit"),
        ("Build", "AWS", "CodeBuild"),
        ("Test", "AWS", "CodeBuild"),
        ("Approval", "AWS", "Manual"),
        ("Source", "AWS", "CodeStarSourceConnection"),
        ("Source", "AWS", "S3"),
        ("Source", "ThirdParty", "GitHub"),
        ("Deploy", "AWS", "CloudFormation"),
        ("Invoke", "AWS", "Lambda"),
        ("Compute", "AWS", "Commands"),
        ("Deploy", "AWS", "S3"),
        ("Deploy", "AWS", "ECS"),
        ("Invoke", "AWS", "CodePipeline"),
    }


def test_referenced_resources():
    pipeline = PipelineDeclaration.model_validate(_pipeline(("Source", [SOURCE]), ("Build", [BUILD])))
    assert referenced_resources(pipeline) == [
        (("stages", 0, "actions", 0, "configuration", "RepositoryName"), "repositories", "r"),
        (("stages", 1, "actions", 0, "configuration", "ProjectName"), "projects", "b"),
    ]


APPROVE = _action("approve", "Approval", "Manual")


@pytest.mark.parametrize(
    "stages, problems",
    [
        ([("Source", [SOURCE])], [(("stages",), "a pipeline needs 2..50 stages (AWS's quota), not 1")]),
        (
            [("Source", [SOURCE]), ("Build", [BUILD]), ("Build", [APPROVE])],
            [(("stages", 2, "name"), "duplicate stage name Build (also stages[1])")],
        ),
        (
            [("Source", [SOURCE]), ("Build", [BUILD, {**APPROVE, "name": "build", "runOrder": 2}])],
            [(("stages", 1, "actions", 1, "name"), "duplicate action name build in stage Build (also actions[0])")],
        ),
        ([("Source", [SOURCE]), ("Build", [])], [(("stages", 1, "actions"), "a stage needs 1..50 actions (AWS's quota)")]),
        (
            [("Source", [SOURCE]), ("Build", [{**APPROVE, "name": f"a{i}"} for i in range(51)])],
            [(("stages", 1, "actions"), "a stage needs 1..50 actions (AWS's quota)")],
        ),
        (
            [("Source", [SOURCE, APPROVE]), ("Build", [BUILD])],
            [(("stages", 0, "actions", 1, "actionTypeId", "category"), "the first stage may hold only Source actions, not Approval")],
        ),
        (
            [("Source", [SOURCE]), ("Build", [BUILD, {**SOURCE, "name": "src2", "outputArtifacts": [{"name": "Src2"}]}])],
            [(("stages", 1, "actions", 1, "actionTypeId", "category"), "Source actions must be in the first stage")],
        ),
        (
            [("Source", [SOURCE]), ("Build", [{**BUILD, "inputArtifacts": [{"name": "Nope"}]}])],
            [(("stages", 1, "actions", 0, "inputArtifacts", 0, "name"), "no action produces artifact Nope")],
        ),
        (
            [
                ("Source", [SOURCE]),
                ("Build", [{**BUILD, "outputArtifacts": [{"name": "Out"}]}, {**BUILD, "name": "test", "inputArtifacts": [{"name": "Out"}]}]),
            ],
            [(("stages", 1, "actions", 1, "inputArtifacts", 0, "name"), "artifact Out is produced by stages[1].actions[0], which does not run before this action")],
        ),
        (
            [("Source", [SOURCE]), ("Build", [{**BUILD, "outputArtifacts": [{"name": "Src"}]}])],
            [(("stages", 1, "actions", 0, "outputArtifacts", 0, "name"), "artifact Src is already produced by stages[0].actions[0]")],
        ),
        (  # AWS's rules for a type pipemu does not emulate are AWS's to apply: accepted as it is
            [("Source", [SOURCE]), ("Deploy", [_action("deploy", "Deploy", "CodeDeploy", inputArtifacts=[{"name": "Src"}])])],
            [],
        ),
        (
            [("Source", [{**SOURCE, "configuration": {"RepositoryName": "r"}}]), ("Build", [BUILD])],
            [(("stages", 0, "actions", 0, "configuration", "BranchName"), "required by CodeCommit actions")],
        ),
        (
            [("Source", [SOURCE]), ("Build", [{**BUILD, "configuration": {"ProjectName": "b", "Project": "b"}}])],
            [
                (
                    ("stages", 1, "actions", 0, "configuration", "Project"),
                    "unknown configuration key for CodeBuild (allowed: ProjectName, PrimarySource, BatchEnabled, CombineArtifacts, EnvironmentVariables)",
                )
            ],
        ),
        (
            [("Source", [SOURCE]), ("Build", [{**BUILD, "inputArtifacts": []}])],
            [(("stages", 1, "actions", 0, "inputArtifacts"), "CodeBuild (Build) takes 1..5 input artifacts")],
        ),
        (
            [("Source", [{**SOURCE, "outputArtifacts": []}]), ("Build", [APPROVE])],
            [(("stages", 0, "actions", 0, "outputArtifacts"), "CodeCommit (Source) takes exactly 1 output artifact")],
        ),
        (
            [("Source", [SOURCE]), ("Build", [{**APPROVE, "inputArtifacts": [{"name": "Src"}]}])],
            [(("stages", 1, "actions", 0, "inputArtifacts"), "Manual (Approval) takes no input artifacts")],
        ),
    ],
)
def test_check_pipeline_rules(stages, problems):
    assert check_pipeline(PipelineDeclaration.model_validate(_pipeline(*stages))) == problems


def test_same_stage_lower_run_order_produces_for_later_actions():
    stages = [
        ("Source", [SOURCE]),
        ("Build", [{**BUILD, "outputArtifacts": [{"name": "Out"}]}, {**BUILD, "name": "test", "runOrder": 2, "inputArtifacts": [{"name": "Out"}]}]),
    ]
    assert check_pipeline(PipelineDeclaration.model_validate(_pipeline(*stages))) == []
