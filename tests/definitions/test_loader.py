"""Loading files and folders: every error as `FILE:LINE:COL: path: message`, with the right place."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from emulator.definitions import (
    DefinitionError,
    load_file,
    load_folder,
    load_text,
    validate_paths,
)

DATA = Path(__file__).parent / "data"

# Line numbers of this text are the ones the expected errors below name.
BASE = """\
pipeline:
  name: p
  stages:
    - name: Source
      actions:
        - name: src
          actionTypeId: {category: Source, owner: AWS, provider: CodeCommit, version: "1"}
          configuration: {RepositoryName: r, BranchName: main}
          outputArtifacts: [{name: Src}]
    - name: Build
      actions:
        - name: build
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          configuration: {ProjectName: b}
          inputArtifacts: [{name: Src}]
"""

APPROVE = """\
        - name: approve
          actionTypeId: {category: Approval, owner: AWS, provider: Manual, version: "1"}
"""

DEPLOY_STAGE = """\
    - name: Deploy
      actions:
        - name: deploy
          actionTypeId: {category: Deploy, owner: AWS, provider: CodeDeploy, version: "1"}
          inputArtifacts: [{name: Src}]
"""


def _edit(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new, 1)


def test_error_text_format():
    error = DefinitionError("pipelines/a.yml", 14, 11, "pipeline.stages[2].actions[0].runOrder", "must be 1..999")
    assert str(error) == "pipelines/a.yml:14:11: pipeline.stages[2].actions[0].runOrder: must be 1..999"


def test_valid_text_loads():
    loaded = load_text(BASE, "p.yml")
    assert loaded.errors == []
    assert loaded.definition is not None and loaded.definition.pipeline.name == "p"


@pytest.mark.parametrize(
    "text, expected",
    [
        # types and AWS's limits, checked by the models
        (BASE + "          runOrder: 1000\n", ["p.yml:16:11: pipeline.stages[1].actions[0].runOrder: must be 1..999"]),
        (BASE + "          runOrder: 0\n", ["p.yml:16:11: pipeline.stages[1].actions[0].runOrder: must be 1..999"]),
        (BASE + "          runorder: 2\n", ["p.yml:16:11: pipeline.stages[1].actions[0].runorder: unknown field (AWS has no such key; did you mean runOrder?)"]),
        (
            _edit('          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}\n', ""),
            ["p.yml:12:11: pipeline.stages[1].actions[0].actionTypeId: required field is missing"],
        ),
        (
            _edit("{category: Build, owner", "{owner"),
            ["p.yml:13:25: pipeline.stages[1].actions[0].actionTypeId.category: required field is missing"],
        ),
        (
            _edit("{category: Build,", "{category: Bild,"),
            [
                "p.yml:13:26: pipeline.stages[1].actions[0].actionTypeId.category: "
                "must be one of 'Source', 'Build', 'Deploy', 'Test', 'Invoke', 'Approval' or 'Compute'"
            ],
        ),
        (
            _edit("  name: p\n", "  name: p\n  executionMode: FAST\n"),
            ["p.yml:3:3: pipeline.executionMode: must be one of 'QUEUED', 'SUPERSEDED' or 'PARALLEL'"],
        ),
        (_edit("  name: p\n", "  name: p q\n"), [r"p.yml:2:3: pipeline.name: must be 1..100 characters matching [A-Za-z0-9.@\-_]+"]),
        (_edit("  name: p\n", "  name: 7\n"), ["p.yml:2:3: pipeline.name: must be a string"]),
        (_edit("  name: p\n", "  name: p\n  version: two\n"), ["p.yml:3:3: pipeline.version: must be an integer"]),
        (_edit("  stages:\n", "  stages: []\n  stage:\n"), # a type error stops the cross-field rules: only the first problem is reported
            ["p.yml:4:3: pipeline.stage: unknown field (AWS has no such key; did you mean stages?)"]),
        # AWS's cross-field rules
        (
            BASE.split("    - name: Build")[0],
            ["p.yml:3:3: pipeline.stages: a pipeline needs 2..50 stages (AWS's quota), not 1"],
        ),
        (
            _edit("    - name: Build", "    - name: Source"),
            ["p.yml:10:7: pipeline.stages[1].name: duplicate stage name Source (also stages[0])"],
        ),
        (
            BASE + APPROVE.replace("approve", "build") + "          runOrder: 2\n",
            ["p.yml:16:11: pipeline.stages[1].actions[1].name: duplicate action name build in stage Build (also actions[0])"],
        ),
        (
            BASE.split("    - name: Build")[0] + "    - name: Build\n      actions: []\n",
            ["p.yml:11:7: pipeline.stages[1].actions: a stage needs 1..50 actions (AWS's quota)"],
        ),
        (
            _edit("          outputArtifacts: [{name: Src}]\n", "          outputArtifacts: [{name: Src}]\n" + APPROVE),
            ["p.yml:11:26: pipeline.stages[0].actions[1].actionTypeId.category: the first stage may hold only Source actions, not Approval"],
        ),
        (
            BASE
            + "        - name: src2\n"
            + '          actionTypeId: {category: Source, owner: AWS, provider: CodeCommit, version: "1"}\n'
            + "          configuration: {RepositoryName: r, BranchName: dev}\n"
            + "          outputArtifacts: [{name: Src2}]\n",
            ["p.yml:17:26: pipeline.stages[1].actions[1].actionTypeId.category: Source actions must be in the first stage"],
        ),
        (
            _edit("inputArtifacts: [{name: Src}]", "inputArtifacts: [{name: Source}]"),
            ["p.yml:15:29: pipeline.stages[1].actions[0].inputArtifacts[0].name: no action produces artifact Source"],
        ),
        (
            BASE
            + "          outputArtifacts: [{name: Out}]\n"
            + "        - name: test\n"
            + '          actionTypeId: {category: Test, owner: AWS, provider: CodeBuild, version: "1"}\n'
            + "          configuration: {ProjectName: b}\n"
            + "          inputArtifacts: [{name: Out}]\n",
            [
                "p.yml:20:29: pipeline.stages[1].actions[1].inputArtifacts[0].name: "
                "artifact Out is produced by stages[1].actions[0], which does not run before this action"
            ],
        ),
        (
            BASE + "          outputArtifacts: [{name: Src}]\n",
            ["p.yml:16:30: pipeline.stages[1].actions[0].outputArtifacts[0].name: artifact Src is already produced by stages[0].actions[0]"],
        ),
        (
            _edit("BranchName: main}", "Branch: main}"),
            [
                "p.yml:8:26: pipeline.stages[0].actions[0].configuration.BranchName: required by CodeCommit actions",
                "p.yml:8:46: pipeline.stages[0].actions[0].configuration.Branch: unknown configuration key for CodeCommit "
                "(allowed: RepositoryName, BranchName, PollForSourceChanges, OutputArtifactFormat)",
            ],
        ),
        (
            _edit("          configuration: {ProjectName: b}\n", ""),
            ["p.yml:12:11: pipeline.stages[1].actions[0].configuration.ProjectName: required by CodeBuild actions"],
        ),
        (
            _edit("          inputArtifacts: [{name: Src}]\n", ""),
            ["p.yml:12:11: pipeline.stages[1].actions[0].inputArtifacts: CodeBuild (Build) takes 1..5 input artifacts"],
        ),
        # the file's own shape
        (BASE + "pipelines: {}\n", ["p.yml:16:1: pipelines: unknown field (did you mean pipeline?)"]),
        ("projects:\n  b:\n    image: x\n    imag: y\n", ["p.yml:4:5: projects.b.imag: unknown field (did you mean image?)"]),
        ("projects:\n  b:\n    buildspec: x\n", ["p.yml:3:5: projects.b.image: required field is missing"]),
        ("projects:\n  b:\n    image: x\n    buildspec: 3\n", ["p.yml:4:5: projects.b.buildspec: must be a mapping, a multi-line string or a path"]),
        ("repositories: [a]\n", ["p.yml:1:1: repositories: must be a mapping"]),
        ("", ["p.yml:1:1: <document>: the file is empty; expected pipeline: and/or resource sections"]),
        ("- a\n", ["p.yml:1:1: <document>: must be a mapping with pipeline: and/or resource sections"]),
        # YAML itself
        (_edit("  name: p\n", "  name: p\n  name: q\n"), ["p.yml:3:3: pipeline.name: duplicate key (YAML would keep only the last one)"]),
        (
            _edit("    - name: Build", "   - name: Build"),
            ["p.yml:10:4: <yaml>: expected <block end>, but found '<block sequence start>' (while parsing a block mapping)"],
        ),
        ("pipeline:\n  name: [p\n", ["p.yml:3:1: <yaml>: expected ',' or ']', but got '<stream end>' (while parsing a flow sequence)"]),
    ],
)
def test_errors_name_file_line_column_and_path(text, expected):
    loaded = load_text(text, "p.yml")
    assert [str(e) for e in loaded.errors] == expected
    assert loaded.definition is None


def test_json_positions_and_tabs():
    raw = json.loads((DATA / "getpipeline" / "my-service-b.json").read_text())
    raw["pipeline"]["stages"][1]["actions"][0]["runOrder"] = 0
    text = json.dumps(raw, indent="\t")  # tabs: valid JSON, not valid YAML indentation
    [error] = load_text(text, "b.json").errors
    assert str(error) == "b.json:50:7: pipeline.stages[1].actions[0].runOrder: must be 1..999"
    assert text.splitlines()[49].startswith(6 * "\t" + '"runOrder": 0')


def test_yaml_anchors_and_merge_keys_load():
    text = BASE.replace(
        "          configuration: {ProjectName: b}\n",
        "          configuration: &cfg {ProjectName: b}\n",
    ) + "x-unused: *cfg\n"
    [error] = load_text(text, "p.yml").errors
    assert error.path == "x-unused" and (error.line, error.column) == (16, 1)
    merged = "base: &b {image: x}\nprojects:\n  b:\n    <<: *b\n    buildspec: spec.yml\n    bad: 1\n"
    assert [str(e) for e in load_text(merged, "m.yml").errors] == [
        "m.yml:1:1: base: unknown field (expected one of: pipeline, repositories, projects, functions, stacks, buckets, clusters, secrets, parameters, alarms, webhooks, schedules, topics, customActionTypes, eventRules, metadata)",
        "m.yml:6:5: projects.b.bad: unknown field (expected one of: image, buildspec, environmentVariables, privilegedMode, network, cache, keepFailed, simulate)",
    ]


def test_article_service_pipeline_loads():
    folder = load_folder(DATA / "service")
    assert folder.errors == []
    path, pipeline = folder.pipelines["my-service-a-pipeline"]
    assert path == DATA / "service" / "my-service-a.yml"
    assert [s.name for s in pipeline.stages] == ["Source", "Building", "StagingDEV", "StagingQA", "StagingPROD"]
    dev = pipeline.stage("StagingDEV")
    assert [(a.name, a.actionTypeId.category, a.runOrder) for a in dev.actions] == [
        ("stage", "Build", 1),
        ("test", "Test", 2),
        ("approve", "Approval", 3),
    ]
    assert [a.name for a in pipeline.stage("StagingQA").actions] == ["stage", "approve"]
    assert pipeline.stages[0].actions[0].configuration["PollForSourceChanges"] == "false"
    assert folder.repositories["my-service-a"].path == (DATA / "repos" / "my-service-a").resolve()
    assert folder.projects["my-service-a-test"].buildspec_path == "ci/test-buildspec.yml"
    assert folder.projects["my-service-a-stage"].inline_buildspec["phases"]["build"]["commands"] == ["echo deploying"]
    assert folder.projects["my-service-a-build"].environmentVariables[1].value == "3"


def test_get_pipeline_json_with_metadata_loads():
    loaded = load_file(DATA / "getpipeline" / "my-service-b.json")
    assert loaded.errors == []
    pipeline = loaded.definition.pipeline
    assert (pipeline.name, pipeline.version, pipeline.executionMode, pipeline.pipelineType) == ("my-service-b-pipeline", 3, "QUEUED", "V2")
    assert load_folder(DATA / "getpipeline").errors == []


def test_relative_paths_resolve_against_the_file(tmp_path):
    loaded = load_text("repositories:\n  r: {path: ../repo}\n", tmp_path / "defs" / "r.yml")
    assert loaded.definition.repositories["r"].path == tmp_path / "repo"


def test_unreadable_file():
    [error] = load_file(DATA / "nope.yml").errors
    assert (error.line, error.column, error.path) == (1, 1, "<file>")
    assert error.message.startswith("cannot read")


# --- folders ---

RESOURCES = "repositories:\n  r: {path: repo}\nprojects:\n  b: {image: busybox}\n"


def _folder(tmp_path: Path, **files: str) -> Path:
    for name, text in files.items():
        (tmp_path / name.replace("_", ".", 1)).write_text(text)
    return tmp_path


def test_folder_joins_resources_declared_in_other_files(tmp_path):
    folder = load_folder(_folder(tmp_path, a_yml=BASE, resources_yaml=RESOURCES, notes_txt="ignored", **{".a.yml.swp": "x"}))
    assert folder.errors == []
    assert list(folder.files) == [tmp_path / "a.yml", tmp_path / "resources.yaml"]
    assert list(folder.pipelines) == ["p"] and list(folder.projects) == ["b"] and list(folder.repositories) == ["r"]


def test_folder_undeclared_resource_is_a_warning_and_the_pipeline_loads(tmp_path):
    # As AWS, which accepts a pipeline naming a repository that does not exist yet.
    folder = load_folder(_folder(tmp_path, a_yml=BASE, resources_yaml="projects:\n  b: {image: busybox}\n"))
    assert folder.errors == []
    assert [str(e) for e in folder.warnings] == [
        f"{tmp_path}/a.yml:8:27: warning: pipeline.stages[0].actions[0].configuration.RepositoryName: "
        f"repository r is not declared in any file of {tmp_path} (add it under repositories:); "
        "the action will fail when it runs"
    ]
    assert list(folder.pipelines) == ["p"]
    assert list(folder.projects) == ["b"]


def test_an_action_type_pipemu_does_not_emulate_loads_with_a_warning(tmp_path):
    folder = load_folder(_folder(tmp_path, a_yml=BASE + DEPLOY_STAGE, resources_yaml=RESOURCES))
    assert folder.errors == [] and list(folder.pipelines) == ["p"]
    assert [str(e) for e in folder.warnings] == [
        f"{tmp_path}/a.yml:19:11: warning: pipeline.stages[2].actions[0].actionTypeId: AWS/CodeDeploy (Deploy) actions "
        "are not emulated yet: recorded when they run, nothing is deployed"
    ]


def test_folder_duplicate_pipeline_and_resource_names_name_both_files(tmp_path):
    folder = load_folder(_folder(tmp_path, a_yml=BASE, b_yml=BASE + RESOURCES, c_yml="projects:\n  b: {image: other}\n"))
    assert [str(e) for e in folder.errors] == [
        f"{tmp_path}/b.yml:2:3: pipeline.name: pipeline p is also declared in {tmp_path}/a.yml",
        f"{tmp_path}/c.yml:2:3: projects.b: project b is also declared in {tmp_path}/b.yml",
    ]
    # The first declaration wins; the file with the duplicate contributes no pipeline.
    assert folder.pipelines["p"][0] == tmp_path / "a.yml"
    assert folder.projects["b"].image == "busybox"


def test_folder_bad_file_contributes_no_pipeline(tmp_path):
    folder = load_folder(_folder(tmp_path, a_yml=BASE + "          runOrder: 0\n", r_yml=RESOURCES))
    assert folder.pipelines == {}
    assert folder.files[tmp_path / "a.yml"].definition is None
    assert [e.path for e in folder.errors] == ["pipeline.stages[1].actions[0].runOrder"]


def test_missing_folder():
    [error] = load_folder(DATA / "missing").errors
    assert error.message == "not a folder"


def test_validate_paths_checks_a_file_with_its_folder(tmp_path):
    shutil.copytree(DATA / "service", tmp_path / "pipelines")
    (tmp_path / "pipelines" / "broken.yml").write_text("pipeline:\n  name: [x\n")
    good = tmp_path / "pipelines" / "my-service-a.yml"
    assert validate_paths([good]) == []  # its projects are declared in resources.yml beside it
    broken = [str(e) for e in validate_paths([tmp_path / "pipelines", good])]
    assert broken == [f"{tmp_path}/pipelines/broken.yml:3:1: <yaml>: expected ',' or ']', but got '<stream end>' (while parsing a flow sequence)"]


def test_every_error_in_one_pass_with_a_near_miss_named(tmp_path):
    """A misspelled field does not hide the pipeline's other mistakes: an input artifact no action
    makes, and an unknown provider (a warning, with the known one it is close to)."""
    (tmp_path / "p.yml").write_text("""\
pipeline:
  name: p1
  stages:
    - name: Source
      actions:
        - name: src
          actionTypeId: {category: Source, owner: AWS, provider: CodeCommitt, version: "1"}
          namespcae: SourceVariables
          configuration: {RepositoryName: r, BranchName: main}
          outputArtifacts: [{name: out}]
    - name: Build
      actions:
        - name: b
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          configuration: {ProjectName: build}
          inputArtifacts: [{name: ouput}]
""")
    found = [str(e) for e in validate_paths([tmp_path])]
    assert any("8:11: pipeline.stages[0].actions[0].namespcae: unknown field" in f and "did you mean namespace?" in f
               for f in found), found
    assert any("pipeline.stages[1].actions[0].inputArtifacts" in f and "ouput" in f for f in found), found
    assert any("warning" in f and "AWS/CodeCommitt" in f and "did you mean AWS/CodeCommit?" in f for f in found), found
