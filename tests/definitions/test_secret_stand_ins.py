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


def test_a_reference_with_no_stand_in_is_a_warning_where_it_is_written(tmp_path):
    (tmp_path / "stand-ins.yml").write_text("secrets: {prod/db: {env: A}}\nparameters: {/ci/url: {value: x}}\n")
    (tmp_path / "p.yml").write_text("""pipeline:
  name: p
  stages:
    - name: Source
      actions:
        - name: source
          actionTypeId: {category: Source, owner: AWS, provider: CodeCommit, version: "1"}
          configuration: {RepositoryName: svc, BranchName: main}
          outputArtifacts: [{name: src}]
    - name: Build
      actions:
        - name: build
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          inputArtifacts: [{name: src}]
          configuration:
            ProjectName: build
            EnvironmentVariables: '[{"name":"A","value":"arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf:password","type":"SECRETS_MANAGER"},{"name":"B","value":"/ci/none","type":"PARAMETER_STORE"},{"name":"C","value":"#{variables.secret}","type":"SECRETS_MANAGER"}]'
repositories: {svc: {path: .}}
projects:
  build:
    image: busybox
    environmentVariables:
      - {name: DB, value: "prod/db:password", type: SECRETS_MANAGER}
      - {name: TOKEN, value: "ci/token:key", type: SECRETS_MANAGER}
    buildspec:
      version: 0.2
      env:
        parameter-store: {URL: /ci/url, KEY: /ci/key}
      phases: {build: {commands: ["true"]}}
""")
    folder = load_folder(tmp_path)
    file = tmp_path / "p.yml"
    assert folder.errors == []
    assert [str(w) for w in folder.warnings] == [
        f"{file}:17:13: warning: pipeline.stages[1].actions[0].configuration.EnvironmentVariables: parameter /ci/none "
        "is not declared in the pipelines folder (add it under parameters:); the action will fail when it runs",
        f"{file}:24:23: warning: projects.build.environmentVariables[1].value: secret ci/token is not declared in the "
        "pipelines folder (add it under secrets:); the action will fail when it runs",
        f"{file}:28:41: warning: projects.build.buildspec.env.parameter-store.KEY: parameter /ci/key is not declared "
        "in the pipelines folder (add it under parameters:); the action will fail when it runs",
    ]


def test_an_inline_buildspec_text_is_read_for_references(tmp_path):
    (tmp_path / "p.yml").write_text("""projects:
  build:
    image: busybox
    buildspec: |
      version: 0.2
      env:
        secrets-manager:
          LOGIN: dockerhub:password
      phases: {build: {commands: ["true"]}}
""")
    [warning] = load_folder(tmp_path).warnings
    assert warning.path == "projects.build.buildspec.env.secrets-manager.LOGIN"
    assert "secret dockerhub is not declared" in warning.message
