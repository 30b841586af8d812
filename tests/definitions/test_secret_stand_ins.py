"""The `secrets:` and `parameters:` stand-ins of definition files: errors located, inline secret
values warned about by field, names unique across the folder."""

from __future__ import annotations

from emulator.definitions import load_folder, load_text


def messages(loaded) -> list[str]:
    return [str(e) for e in loaded.errors + loaded.warnings]


def test_stand_ins_load_and_paths_resolve_against_the_file(tmp_path):
    loaded = load_text("""
secrets:
  prod/db: {env: PROD_DB}
  arn-named: {file: secrets/token.txt}
parameters:
  /ci/url: {value: https://ci.example.com}
  /ci/list: {type: StringList, value: "a,b"}
  /ci/key: {type: SecureString, env: CI_KEY}
""", tmp_path / "stand-ins.yml")
    assert messages(loaded) == []
    assert loaded.definition.secrets["arn-named"].file == (tmp_path / "secrets" / "token.txt").resolve()
    assert loaded.definition.parameters["/ci/list"].type == "StringList"
    assert loaded.definition.parameters["/ci/url"].type == "String"


def test_errors_name_file_line_column_and_field(tmp_path):
    loaded = load_text("""secrets:
  prod/db: {env: PROD_DB, value: x}
  none: {}
  "bad name!": {env: X}
parameters:
  /p: {type: Secure, env: X}
  /q: {env: X, region: us-east-1}
""", tmp_path / "f.yml")
    found = messages(loaded)
    file = str(tmp_path / "f.yml")
    assert f"{file}:2:3: secrets[\"prod/db\"]: give exactly one of env, file or value" in found
    assert f"{file}:3:3: secrets.none: give exactly one of env, file or value" in found
    assert f"{file}:4:3: secrets[\"bad name!\"]: must be 1..512 characters matching [A-Za-z0-9/_+=.@-]+" in found
    assert f"{file}:6:8: parameters[\"/p\"].type: must be one of 'String', 'StringList' or 'SecureString'" in found
    assert f"{file}:7:16: parameters[\"/q\"].region: unknown field (expected one of: env, file, value, type)" in found
    assert loaded.definition is None


def test_an_inline_secret_value_is_a_warning_naming_the_field(tmp_path):
    loaded = load_text("""secrets:
  prod/db:
    value: '{"password": "hunter2"}'
parameters:
  /ci/url: {value: https://ci.example.com}
  /ci/key:
    type: SecureString
    value: k3y
""", tmp_path / "f.yml")
    file = str(tmp_path / "f.yml")
    assert loaded.errors == [] and loaded.definition is not None
    assert [str(w) for w in loaded.warnings] == [
        f"{file}:3:5: warning: secrets[\"prod/db\"].value: the secret's value sits in the pipelines folder: give it "
        "by env: VARIABLE or file: PATH to keep it out",
        f"{file}:8:5: warning: parameters[\"/ci/key\"].value: the SecureString's value sits in the pipelines folder: "
        "give it by env: VARIABLE or file: PATH to keep it out",
    ]  # a String parameter's inline value is fine


def test_folder_names_are_unique_and_sections_joined(tmp_path):
    (tmp_path / "a.yml").write_text("secrets: {prod/db: {env: A}}\nparameters: {/x: {value: '1'}}\n")
    (tmp_path / "b.yml").write_text("secrets: {prod/db: {env: B}, other: {env: C}}\n")
    folder = load_folder(tmp_path)
    assert [str(e) for e in folder.errors] == [
        f"{tmp_path / 'b.yml'}:1:11: secrets[\"prod/db\"]: secret prod/db is also declared in {tmp_path / 'a.yml'}"]
    assert folder.secrets["prod/db"].env == "A" and set(folder.secrets) == {"prod/db", "other"}
    assert set(folder.parameters) == {"/x"}
