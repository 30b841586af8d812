"""Reloading a folder parses only the files that changed (loader's _ParseCache), and the fast YAML
path (libyaml) gives the same data, positions and errors as PyYAML's pure-Python one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.definitions import load_folder, loader, yamlpos
from tests.support.environment import unavailable

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"

PIPELINE = """\
pipeline:
  name: {name}
  stages:
    - name: Source
      actions:
        - name: src
          actionTypeId: {{category: Source, owner: AWS, provider: CodeCommit, version: "1"}}
          configuration: {{RepositoryName: r, BranchName: main}}
          outputArtifacts: [{{name: Src}}]
    - name: Gate
      actions:
        - name: approve
          actionTypeId: {{category: Approval, owner: AWS, provider: Manual, version: "1"}}
"""
REPOSITORY = "repositories:\n  r: {path: repo}\n"


@pytest.fixture(autouse=True)
def fresh_cache():
    loader._PARSED.clear()
    yield
    loader._PARSED.clear()


@pytest.fixture
def parses(monkeypatch):
    """The texts yamlpos.parse is given, in order."""
    seen: list[str] = []
    real = yamlpos.parse

    def spy(text: str):
        seen.append(text)
        return real(text)

    monkeypatch.setattr(yamlpos, "parse", spy)
    return seen


def _write(folder: Path, **files: str) -> Path:
    for name, text in files.items():
        (folder / name.replace("_", ".")).write_text(text)
    return folder


def _subfolder(parent: Path, name: str) -> Path:
    (parent / name).mkdir()
    return parent / name


def _pipelines(count: int) -> dict[str, str]:
    return {f"p{n}_yml": PIPELINE.format(name=f"p{n}") for n in range(count)}


# --- the cache ---


def test_a_reload_parses_only_the_edited_file(tmp_path, parses):
    folder = _write(tmp_path, r_yml=REPOSITORY, **_pipelines(5))
    first = load_folder(folder)
    assert first.errors == [] and len(first.pipelines) == 5 and len(parses) == 6

    second = load_folder(folder)
    assert len(parses) == 6  # nothing parsed again
    assert second.files[folder / "p1.yml"] is first.files[folder / "p1.yml"]
    assert second.pipelines.keys() == first.pipelines.keys()

    (folder / "p3.yml").write_text(PIPELINE.format(name="p3").replace("approve", "approve-2"))
    third = load_folder(folder)
    assert len(parses) == 7 and "approve-2" in parses[-1]
    assert third.pipelines["p3"][1].stages[1].actions[0].name == "approve-2"
    assert third.files[folder / "p1.yml"] is first.files[folder / "p1.yml"]
    assert third.files[folder / "p3.yml"] is not first.files[folder / "p3.yml"]


def test_an_edit_with_the_same_size_and_mtime_is_seen(tmp_path, parses):
    # Within one mtime tick (coarse on some filesystems; some tools restore mtimes) an edit that
    # keeps the size looks unchanged to stat: the cache compares the bytes themselves.
    path = _write(tmp_path, r_yml=REPOSITORY, a_yml=PIPELINE.format(name="aaa")) / "a.yml"
    assert list(load_folder(tmp_path).pipelines) == ["aaa"]
    before = path.stat()
    path.write_text(PIPELINE.format(name="bbb"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert list(load_folder(tmp_path).pipelines) == ["bbb"]
    assert len(parses) == 3


def test_a_file_changed_back_deleted_or_new(tmp_path, parses):
    folder = _write(tmp_path, r_yml=REPOSITORY, a_yml=PIPELINE.format(name="a"))
    assert list(load_folder(folder).pipelines) == ["a"]
    (folder / "a.yml").write_text(PIPELINE.format(name="a").replace("name: Gate", "name: Gate\n      runOrder: 1"))
    broken = load_folder(folder)
    assert [str(e) for e in broken.errors] == [
        f"{folder}/a.yml:11:7: pipeline.stages[1].runOrder: unknown field (AWS has no such key)"]
    assert broken.pipelines == {} and broken.names_in_broken_files == {"a"}
    (folder / "a.yml").write_text(PIPELINE.format(name="a"))  # changed back
    assert list(load_folder(folder).pipelines) == ["a"] and load_folder(folder).errors == []

    (folder / "b.yml").write_text(PIPELINE.format(name="b"))  # new
    assert sorted(load_folder(folder).pipelines) == ["a", "b"]
    (folder / "a.yml").unlink()  # deleted: gone from the result and from the cache
    assert list(load_folder(folder).pipelines) == ["b"]
    assert set(loader._PARSED.files((folder, folder.resolve()))) == {folder / "b.yml", folder / "r.yml"}


def test_rules_across_files_run_on_every_reload(tmp_path, parses):
    folder = _write(tmp_path, a_yml=PIPELINE.format(name="p"), r_yml=REPOSITORY)
    assert load_folder(folder).errors == []
    parsed_before = len(parses)

    # a.yml is unchanged (not parsed again), yet the repository it names went away.
    (folder / "r.yml").write_text("projects:\n  b: {image: busybox}\n")
    loaded = load_folder(folder)
    assert [str(e) for e in loaded.warnings] == [
        f"{folder}/a.yml:8:27: warning: pipeline.stages[0].actions[0].configuration.RepositoryName: "
        f"repository r is not declared in any file of {folder} (add it under repositories:); the action will fail when it runs"
    ]
    assert list(loaded.pipelines) == ["p"] and loaded.errors == []
    # r.yml changed; a.yml was parsed once more, only to place its warning.
    assert len(parses) == parsed_before + 2

    # A second file declaring the same pipeline: the later file (sorted) gets the error.
    (folder / "r.yml").write_text(REPOSITORY)
    (folder / "b.yml").write_text("# the same name\n" + PIPELINE.format(name="p"))
    assert [str(e) for e in load_folder(folder).errors] == [
        f"{folder}/b.yml:3:3: pipeline.name: pipeline p is also declared in {folder}/a.yml"
    ]
    assert [str(e) for e in load_folder(folder).errors] == [  # and again, all from the cache
        f"{folder}/b.yml:3:3: pipeline.name: pipeline p is also declared in {folder}/a.yml"
    ]
    (folder / "b.yml").unlink()
    loaded = load_folder(folder)
    assert loaded.errors == [] and loaded.pipelines["p"][0] == folder / "a.yml"


def test_paths_in_errors_follow_the_folder_as_given(tmp_path, monkeypatch):
    _write(tmp_path, a_yml="pipeline: {name: [x\n")
    monkeypatch.chdir(tmp_path.parent)
    relative = Path(tmp_path.name)
    assert [e.file for e in load_folder(tmp_path).errors] == [str(tmp_path / "a.yml")]
    assert [e.file for e in load_folder(relative).errors] == [str(relative / "a.yml")]
    assert [e.file for e in load_folder(tmp_path).errors] == [str(tmp_path / "a.yml")]


def test_relative_paths_resolve_against_the_folder_the_cache_was_filled_for(tmp_path, monkeypatch):
    for side in ("one", "two"):
        _write(_subfolder(tmp_path, side), r_yml=REPOSITORY)
    monkeypatch.chdir(tmp_path / "one")
    assert load_folder(".").repositories["r"].path == tmp_path / "one" / "repo"
    monkeypatch.chdir(tmp_path / "two")
    assert load_folder(".").repositories["r"].path == tmp_path / "two" / "repo"


def test_the_cache_keeps_a_few_folders(tmp_path):
    for n in range(12):
        load_folder(_write(_subfolder(tmp_path, f"f{n}"), r_yml=REPOSITORY))
    assert len(loader._PARSED._folders) == 8


def test_a_template_with_two_pipelines_and_an_error_in_the_second(tmp_path):
    # Its second pipeline is `FILE#1`, no file: guessing its name used to read it (and crash).
    pipeline = """\
  {key}:
    Type: AWS::CodePipeline::Pipeline
    Properties:
      Name: {name}
      RoleArn: arn:aws:iam::123456789012:role/pipeline
      Stages:
        - Name: Source
          Actions:
            - Name: src
              ActionTypeId: {{Category: Source, Owner: AWS, Provider: CodeCommit, Version: "1"}}
              Configuration: {{RepositoryName: r, BranchName: main}}
              OutputArtifacts: [{{Name: Src}}]
        - Name: Next
          Actions:
            - Name: next
              ActionTypeId: {{Category: {category}, Owner: AWS, Provider: {provider}, Version: "1"}}
{more}"""
    (tmp_path / "two.yml").write_text(
        'AWSTemplateFormatVersion: "2010-09-09"\nResources:\n'
        + pipeline.format(key="P1", name="one", category="Approval", provider="Manual", more="")
        + pipeline.format(key="P2", name="two", category="Build", provider="CodeBuild",
                          more="              Configuration: {ProjectName: missing}\n"
                               "              InputArtifacts: [{Name: Src}]\n"))
    # The error is the folder's: another file declares pipeline `two` already.
    (tmp_path / "a.yml").write_text(PIPELINE.format(name="two") + REPOSITORY)
    for _ in range(2):
        loaded = load_folder(tmp_path)
        assert [(e.file, e.path) for e in loaded.errors] == [(f"{tmp_path}/two.yml#1", "pipeline.name")]
        assert sorted(loaded.pipelines) == ["one", "two"] and loaded.names_in_broken_files == {"two"}
        assert loaded.pipelines["two"][0] == tmp_path / "a.yml"


# --- libyaml and the pure loader ---


def _outcome(parse, text: str):
    try:
        document = parse(text)
    except yamlpos.YamlSyntaxError as exc:
        return ("error", exc.message, exc.line, exc.column)
    return ("document", repr(document.data), document.key_positions, document.node_positions, document.duplicate_keys)


def _pure(text: str):
    return yamlpos._parse_pure(yamlpos._without_json_tabs(text))


def test_libyaml_is_used_when_installed():
    assert yamlpos._FAST_LOADER is getattr(yaml, "CSafeLoader", None)
    if yamlpos._FAST_LOADER is None:
        unavailable("PyYAML without libyaml: only the pure loader runs")


SAMPLES = sorted((ROOT / "pipelines").glob("*.yml")) + sorted(p for p in DATA.rglob("*") if p.suffix in (".yml", ".yaml", ".json"))


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_libyaml_and_pure_read_the_samples_alike(path, monkeypatch):
    if yamlpos._FAST_LOADER is None:
        unavailable("PyYAML without libyaml")
    text = path.read_text(encoding="utf-8")
    assert not yamlpos._pure_only(yamlpos._without_json_tabs(text))  # parse gives them to libyaml...
    fast = yamlpos._parse_fast(yamlpos._without_json_tabs(text))  # ...which takes them (no fallback)
    assert _outcome(lambda _: fast, text) == _outcome(_pure, text)
    # ...and the whole load (types, rules, positions of errors) is the same with the pure loader.
    with_libyaml = loader.load_text(text, path)
    monkeypatch.setattr(yamlpos, "_FAST_LOADER", None)
    assert loader.load_text(text, path) == with_libyaml


TRICKY = {
    # what libyaml reads differently from PyYAML: parse must give PyYAML's answer
    "empty document": "---",
    "empty key at the end": "? ",
    "value left out at the end": "a: 1\nb:",
    "empty flow value": "a: {k: , j: 1}\nb: [k: ]\nc: [? ]\n",
    "empty flow value on the next line": "a: [k:\n  ]\n",
    "non-specific tag": "a: !\nb: ! 5\nc: !<!>\n",
    "comment after a block scalar header": "a: |#c\n  x\n",
    "bom first": "\ufeffpipeline: {name: x}\n",
    "boms first": "\ufeff\ufeffa: 1\n",
    "bom inside": "b: [\ufeff1, 2]\n",
    "bom starting a line": "a: 1\n\ufeffb: 2\n",
    "tab after a value": "a: 1\t\nb: [x,\ty]\n",
    "tab in a plain scalar": "a: b\tc\n",
    # and what both read alike: positions must be the same
    "crlf and nel": "a: 1\r\nb:\x85  - 2\r\n",
    "unicode columns": "\u00e9t\u00e9: [\U0001f680, x]\nb: {\U0001f4a5: y}\n",
    "merge and duplicate keys": "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n  y: 4\n",
    "explicit tags": "a: !!str 1\nb: !!int '2'\nc: !!float 1\n",
    "no final line break": "a:\n  - x\n  - ",
    "json with tabs": '{\n\t"a": [\n\t\t1\n\t]\n}',
    # errors: the pure loader's messages and positions
    "control character": 'a: "\x7f"\n',
    "lone surrogate": "a: '\ud800'\n",
    "escaped surrogate": 'a: "\\ud800"\n',
    "bad int": "a: !!int x\n",
    "empty int": "a: !!int\n",
    "custom tag": "a: !custom x\n",
    "unclosed flow": "pipeline:\n  name: [p\n",
    "bad indentation": "a:\n  b: 1\n c: 2\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "yaml 1.3": "%YAML 1.3\n---\na: 1\n",
}


@pytest.mark.parametrize("text", TRICKY.values(), ids=TRICKY.keys())
def test_parse_answers_as_the_pure_loader(text):
    assert _outcome(yamlpos.parse, text) == _outcome(_pure, text)


def test_errors_carry_file_line_and_column_with_libyaml(tmp_path, parses):
    _write(tmp_path, a_yml="pipeline:\n  name: [p\n", b_yml='x: "\x01"\n', c_yml="pipeline:\n  name: !!int p\n")
    assert [str(e) for e in load_folder(tmp_path).errors] == [
        f"{tmp_path}/a.yml:3:1: <yaml>: expected ',' or ']', but got '<stream end>' (while parsing a flow sequence)",
        f"{tmp_path}/b.yml:1:5: <yaml>: special characters are not allowed",
        f"{tmp_path}/c.yml:2:9: <yaml>: cannot read the value: invalid literal for int() with base 10: 'p'",
    ]


YAMLISH = list(":-[]{}?&*!|>'\"#,%@ \t\n\r.0123456789abk") + [
    "a: ", "- ", "? ", ": ", "k: v", "[", "]", "{", "}", ", ", "&a ", "*a", "<<: *a", "!!int ", "!!str ", "! ", "!<!> ",
    "|\n  x\n", ">-\n  y\n", "|#", "---\n", "...\n", "\ufeff", "\x85", "\u2028", "\r\n", "\U0001f680", "\u00e9", "\t",
    "# c\n", "~", "null", "1e3", ".nan", "0x1F", "\"\\u00e9\"", "'it''s'",
]


@settings(max_examples=1500, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(YAMLISH), max_size=60).map("".join))
def test_parse_answers_as_the_pure_loader_on_generated_text(text):
    assert _outcome(yamlpos.parse, text) == _outcome(_pure, text)


def test_without_libyaml_the_pure_loader_answers(monkeypatch):
    monkeypatch.setattr(yamlpos, "_FAST_LOADER", None)
    called = []
    real = yamlpos._parse_fast
    monkeypatch.setattr(yamlpos, "_parse_fast", lambda text: called.append(text) or real(text))
    document = yamlpos.parse("a: [1, 2]\n")
    assert document.data == {"a": [1, 2]} and document.locate(("a", 1)) == yamlpos.Position(1, 8)
    assert called == []
