"""Resolving CodeBuild's SECRETS_MANAGER / PARAMETER_STORE references against the stand-ins, and
the buildspec's env.secrets-manager / env.parameter-store, written as the CodeBuild guide writes them."""

from __future__ import annotations

import json

import pytest

from emulator.definitions import load_text
from emulator.runner.buildspec import BuildspecError, parse_buildspec
from emulator.runner.secrets import (PARAMETER_STORE, SECRETS_MANAGER, Reference, SecretError, contains_secret,
                                     references, resolve, split_secret_reference)

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"


def stand_ins(tmp_path, text: str):
    path = tmp_path / "secrets.yml"
    path.write_text(text)
    loaded = load_text(text, path)
    assert not loaded.errors, loaded.errors
    return loaded.definition


@pytest.fixture
def declared(tmp_path):
    (tmp_path / "token.txt").write_text("file-token-123\n")
    return stand_ins(tmp_path, """
secrets:
  prod/db: {env: PROD_DB_SECRET}
  dockerhub: {file: token.txt}
  plain: {value: inline-secret-1}
parameters:
  /ci/npm-token: {type: SecureString, env: NPM_TOKEN}
  api-url: {value: https://api.example.com}
""")


ENVIRON = {"PROD_DB_SECRET": json.dumps({"username": "admin", "password": "p@ss-w0rd", "port": 5432}),
           "NPM_TOKEN": "npm-abc-123"}


def one(declared, type_: str, reference: str) -> str:
    return resolve([Reference("V", type_, reference, "test")], declared, ENVIRON).environment["V"]


@pytest.mark.parametrize("reference, expected", [
    ("prod/db:password", "p@ss-w0rd"),
    ("prod/db:port", "5432"),
    ("prod/db:password:AWSCURRENT", "p@ss-w0rd"),
    ("prod/db:password::", "p@ss-w0rd"),
    (f"{ARN}:username", "admin"),
    ("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db:username", "admin"),  # a partial ARN
    ("dockerhub", "file-token-123"),
    ("plain", "inline-secret-1"),
])
def test_secrets_manager_references(declared, reference, expected):
    assert one(declared, SECRETS_MANAGER, reference) == expected


@pytest.mark.parametrize("reference, expected", [
    ("/ci/npm-token", "npm-abc-123"),
    ("api-url", "https://api.example.com"),
    ("arn:aws:ssm:us-east-1:123456789012:parameter/ci/npm-token", "npm-abc-123"),
    ("arn:aws:ssm:us-east-1:123456789012:parameter/api-url", "https://api.example.com"),
])
def test_parameter_store_references(declared, reference, expected):
    assert one(declared, PARAMETER_STORE, reference) == expected


def test_split_reference_keeps_an_arn_whole():
    assert split_secret_reference(f"{ARN}:password:AWSPREVIOUS") == (ARN, "password", "AWSPREVIOUS", "")
    assert split_secret_reference("name") == ("name", "", "", "")
    with pytest.raises(ValueError):
        split_secret_reference("a:b:c:d:e")


@pytest.mark.parametrize("type_, reference, words", [
    (SECRETS_MANAGER, "prod/nothing:password", ["ResourceNotFoundException: Secrets Manager can't find the specified "
                                                "secret.", "prod/nothing:password", "under secrets:"]),
    (PARAMETER_STORE, "/ci/nothing", ["parameter does not exist: /ci/nothing", "under parameters:"]),
    (SECRETS_MANAGER, "prod/db:nokey", ["has no JSON key nokey"]),
    (SECRETS_MANAGER, "dockerhub:key", ["not a JSON object"]),
    (SECRETS_MANAGER, "prod/db:password:AWSPREVIOUS", ["staging label: AWSPREVIOUS"]),
    (SECRETS_MANAGER, "prod/db:password::v-123", ["VersionId: v-123"]),
])
def test_missing_references_name_the_reference_and_the_stand_in(declared, type_, reference, words):
    with pytest.raises(SecretError) as raised:
        one(declared, type_, reference)
    for word in words:
        assert word in str(raised.value)
    assert "p@ss-w0rd" not in str(raised.value)


def test_a_missing_environment_variable_or_file_is_named(tmp_path):
    declared = stand_ins(tmp_path, "secrets: {a: {env: NOT_SET_ANYWHERE}, b: {file: gone.txt}}\n")
    with pytest.raises(SecretError, match="environment variable NOT_SET_ANYWHERE"):
        resolve([Reference("V", SECRETS_MANAGER, "a", "test")], declared, {})
    with pytest.raises(SecretError, match="gone.txt"):
        resolve([Reference("V", SECRETS_MANAGER, "b", "test")], declared, {})


def test_values_are_read_when_resolved_never_kept_in_the_definitions(tmp_path, declared):
    assert "file-token-123" not in repr(declared) and "npm-abc-123" not in repr(declared)
    (tmp_path / "token.txt").write_text("rotated-456")  # read again at each run
    assert one(declared, SECRETS_MANAGER, "dockerhub") == "rotated-456"


def test_masked_values_include_each_line_of_a_multi_line_secret(declared):
    resolved = resolve([Reference("PEM", SECRETS_MANAGER, "plain", "t")], declared, ENVIRON)
    resolved.add("KEY", "-----BEGIN KEY-----\nAAAAsecret\n}\n")
    assert "AAAAsecret" in resolved.masked and "}" not in resolved.masked
    assert contains_secret("x AAAAsecret y", resolved.masked) and not contains_secret("x", resolved.masked)


def test_references_take_only_secret_types():
    found = references([{"name": "A", "value": "1", "type": "PLAINTEXT"},
                        {"name": "B", "value": "prod/db", "type": "SECRETS_MANAGER"}], "here")
    assert found == [Reference("B", SECRETS_MANAGER, "prod/db", "here")]


# ---------------------------------------------------------------- the buildspec


def test_buildspec_env_secrets_as_the_codebuild_guide_writes_them():
    spec = parse_buildspec("""
version: 0.2
env:
  variables:
    JAVA_HOME: "/usr/lib/jvm/java-8-openjdk-amd64"
  parameter-store:
    LOGIN_PASSWORD: /CodeBuild/dockerLoginPassword
  secrets-manager:
    LOGIN_PASSWORD_SM: prod/dockerLogin:password
    TOKEN: arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/token-AbCdEf
  exported-variables:
    - JAVA_HOME
phases:
  build:
    commands:
      - echo Build started on `date`
""")
    assert spec.parameter_store == {"LOGIN_PASSWORD": "/CodeBuild/dockerLoginPassword"}
    assert spec.secrets_manager == {"LOGIN_PASSWORD_SM": "prod/dockerLogin:password",
                                    "TOKEN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/token-AbCdEf"}
    assert spec.exported_variables == ("JAVA_HOME",)


@pytest.mark.parametrize("section", ["secrets-manager", "parameter-store"])
def test_buildspec_refuses_to_export_a_secret(section):
    with pytest.raises(BuildspecError, match=f"LOGIN_PASSWORD comes from env.{section} and cannot be exported"):
        parse_buildspec({"version": 0.2, "env": {section: {"LOGIN_PASSWORD": "x"},
                                                 "exported-variables": ["LOGIN_PASSWORD"]},
                         "phases": {"build": {"commands": ["true"]}}})


def test_buildspec_secret_variable_names_are_checked():
    with pytest.raises(BuildspecError, match="env.secrets-manager: '1BAD' is not a valid variable name"):
        parse_buildspec({"version": 0.2, "env": {"secrets-manager": {"1BAD": "x"}}, "phases": {}})
