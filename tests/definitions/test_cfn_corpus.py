"""Templates nobody here shaped for pipemu: a corpus of CloudFormation templates of CodePipeline
pipelines written the way public repositories write them (2017-2026, YAML and JSON, V1 and V2,
integer `Version`s, the GitHub v1 source, side resources, Fn::ImportValue, SSM parameter
types, SAM; see `cfn/corpus/cases-*.yml` for what each exercises). Each was checked with
cfn-lint when written: CloudFormation accepts them, so pipemu must.

Each is imported unchanged, validated as a pipelines folder (no errors; what is not carried out
is a warning), and its pipeline exported back as a template that cfn-lint finds clean."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from emulator.definitions import load_folder
from emulator.definitions.cfn_export import export_cloudformation
from emulator.definitions.cfn_import import import_template

CORPUS = Path(__file__).parent / "cfn" / "corpus"
CASES = [case for path in sorted(CORPUS.glob("cases-*.yml")) for case in yaml.safe_load(path.read_text())]


def imported_folder(case: dict, folder: Path):
    """`pipemu import` of the case into `folder`, as the CLI writes it; the loaded folder."""
    template = CORPUS / case["file"]
    parameters = {k: str(v) for k, v in (case.get("parameters") or {}).items()}
    stack = template.stem
    result = import_template(template, parameters, stack_name=stack, code_dir=Path("functions") / stack)
    for relative, text in result.files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    for i, definition in enumerate(result.definitions):
        (folder / f"{stack}-{i}.yml").write_text(yaml.safe_dump(definition, sort_keys=False))
    return result, load_folder(folder)


def test_the_corpus_is_as_varied_as_real_templates():
    files = {case["file"] for case in CASES}
    assert len(files) == len(CASES) >= 30
    assert files == {p.name for p in CORPUS.iterdir() if p.suffix in (".yml", ".json") and not p.name.startswith("cases-")}
    texts = {name: (CORPUS / name).read_text() for name in files}
    def count(*needles):
        return sum(any(n in text for n in needles) for text in texts.values())
    assert sum(name.endswith(".json") for name in files) >= 8
    assert sum(bool(re.search(r'Version"?: 1\b', t)) for t in texts.values()) >= 15  # integers, converted
    assert count("Provider: GitHub", '"Provider": "GitHub"') >= 6  # the deprecated GitHub v1 source
    assert count("ImportValue") >= 3
    assert count("AWS::SSM::Parameter::Value<") >= 2
    assert count("Transform: AWS::Serverless") >= 1
    assert count("PipelineType: V2", '"PipelineType": "V2"') >= 5
    assert count("Provider: ECS", '"Provider": "ECS"') >= 3
    assert count("Custom::") >= 2


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_each_template_imports_validates_and_exports_clean(case, tmp_path):
    import cfnlint.api

    result, loaded = imported_folder(case, tmp_path)
    assert [str(e) for e in loaded.errors] == []
    assert loaded.pipelines, "no pipeline imported"
    for name, (path, declaration) in loaded.pipelines.items():
        template = export_cloudformation(declaration, loaded.projects, loaded.functions,
                                         [s for _, s, target in loaded.schedules if target == name], loaded.repositories)
        problems = [m for m in cfnlint.api.lint(template, regions=["us-east-1"]) if m.rule.id[0] in "EW"]
        assert problems == [], f"{name}: {problems}"


def test_integer_versions_and_booleans_are_read_as_cloudformation_reads_them(tmp_path):
    case = next(c for c in CASES if c["file"].startswith("a01"))
    text = (CORPUS / case["file"]).read_text()
    assert "Version: 1\n" in text and "PollForSourceChanges: false" in text
    _, loaded = imported_folder(case, tmp_path)
    (_, declaration), = loaded.pipelines.values()
    source = declaration.stages[0].actions[0]
    assert source.actionTypeId.version == "1" and source.runOrder == 1
    assert source.configuration["PollForSourceChanges"] == "false"
    # The GitHub v1 source: stood in for by the local repository Owner/Repo, its token masked.
    assert source.actionTypeId.provider == "GitHub" and source.configuration["OAuthToken"] == "****"
    owner, repo = source.configuration["Owner"], source.configuration["Repo"]
    assert f"{owner}/{repo}" in loaded.repositories
    assert any("GitHub version 1 actions are deprecated by AWS" in str(w) for w in loaded.warnings)


def test_what_is_not_carried_out_is_named(tmp_path):
    """Side resources and providers not emulated: each a warning naming it (V2 stage conditions
    are carried out: no warning names them)."""
    found = {}
    for case in CASES:
        (tmp_path / case["file"]).mkdir()
        result, loaded = imported_folder(case, tmp_path / case["file"])
        found[case["file"]] = result.warnings + [str(w) for w in loaded.warnings]
    every = "\n".join(w for ws in found.values() for w in ws)
    # (AWS::CodePipeline::Webhook is carried out now: webhooks; no warning names it.)
    for needle in ("AWS::ECR::Repository", "AWS::SSM::Parameter", "Custom::",
                   "cluster storefront-cluster is not declared in any file", "AWS/CodeDeploy (Deploy) actions are not emulated yet",
                   "Fn::ImportValue", "--map ssm:"):
        assert needle in every, needle
    assert "conditions are not carried out" not in every and "retries are not carried out" not in every
    assert "AWS::CodePipeline::Webhook" not in every
