"""Secrets as AWS holds them, through the real daemon and real containers: a CodeBuild action's
SECRETS_MANAGER / PARAMETER_STORE variables (project-level, action-level, buildspec-level) name a
secret or parameter whose value a `secrets:` / `parameters:` stand-in holds; the container gets it,
and no answer, log, dashboard source or file of the state folder ever holds it."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.e2e.waiting import action_of, settle
from tests.support.daemon import Daemon

pytestmark = pytest.mark.docker

DB_PASSWORD = "db-Pa55word-7f3a9c"          # prod/db's JSON key `password`, from the daemon's environment
API_TOKEN = "tok-91b2c4e8d6a0"               # ci/api-token, referred to by its ARN, from a file
NPM_TOKEN = "npm-sec-5e7d1f3b"               # /ci/npm-token, a SecureString parameter, from the environment
LOGIN = "dockerhub-login-2c8e4a"             # dockerhub's JSON key `password`, from a file (buildspec)
API_URL = "https://api.internal.example/v2"  # /ci/api-url, a String parameter written inline (buildspec)
VALUES = {"DB_PASSWORD": DB_PASSWORD, "API_TOKEN": API_TOKEN, "NPM_TOKEN": NPM_TOKEN, "LOGIN": LOGIN,
          "API_URL": API_URL}
TOKEN_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ci/api-token-AbCdEf"
DAEMON_ENV = {"PIPEMU_TEST_PROD_DB": json.dumps({"username": "app", "password": DB_PASSWORD}),
              "PIPEMU_TEST_NPM_TOKEN": NPM_TOKEN}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def codebuild(name: str, project: str, variables: list[dict] | None = None, run_order: int = 1) -> dict:
    configuration = {"ProjectName": project}
    if variables is not None:  # as the CodePipeline action reference writes it: a JSON string
        configuration["EnvironmentVariables"] = json.dumps(variables)
    return {"name": name, "runOrder": run_order, "inputArtifacts": [{"name": "src"}], "configuration": configuration,
            "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"}}


def pipeline(actions: list[dict]) -> dict:
    return {"name": "p", "stages": [
        {"name": "Source", "actions": [{
            "name": "source", "outputArtifacts": [{"name": "src"}],
            "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
            "configuration": {"RepositoryName": "svc", "BranchName": "main"}}]},
        {"name": "Build", "actions": actions},
    ]}


def buildspec(commands: list[str], env: dict | None = None) -> dict:
    return {"version": 0.2, **({"env": env} if env else {}), "phases": {"build": {"commands": commands}}}


def stand_ins(folder: Path) -> None:
    """The stand-ins, in a file of their own: values from the daemon's environment, from files
    outside the pipelines folder, and one String parameter inline."""
    (folder.parent / "secret-files").mkdir(exist_ok=True)
    (folder.parent / "secret-files" / "api-token").write_text(API_TOKEN + "\n")
    (folder.parent / "secret-files" / "dockerhub.json").write_text(json.dumps({"username": "ci", "password": LOGIN}))
    (folder / "secrets.yml").write_text(yaml.safe_dump({
        "secrets": {"prod/db": {"env": "PIPEMU_TEST_PROD_DB"},
                    "ci/api-token": {"file": "../secret-files/api-token"},
                    "dockerhub": {"file": "../secret-files/dockerhub.json"}},
        "parameters": {"/ci/npm-token": {"type": "SecureString", "env": "PIPEMU_TEST_NPM_TOKEN"},
                       "/ci/api-url": {"value": API_URL}},
    }))


def start(tmp_path, service_repo, definition: dict) -> Daemon:
    folder = tmp_path / "pipelines"
    folder.mkdir()
    stand_ins(folder)
    (folder / "p.yml").write_text(yaml.safe_dump({**definition, "repositories": {"svc": {"path": str(service_repo)}}}))
    return Daemon(folder, tmp_path / "state", env=DAEMON_ENV).start()


def get(daemon: Daemon, path: str) -> str:
    with urllib.request.urlopen(daemon.endpoint + path, timeout=30) as answer:
        return answer.read().decode()


def state_files_holding(state: Path, values) -> list[str]:
    """Every file of the state folder (the SQLite database and its journal included) that holds a value."""
    found = []
    for path in sorted(p for p in state.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found += [f"{path.relative_to(state)}: {name}" for name, value in values.items() if value.encode() in data]
    return found


def answers(client) -> str:
    """What the API answers and the dashboard shows about pipeline p, as one text."""
    executions = client.list_pipeline_executions(pipelineName="p")["pipelineExecutionSummaries"]
    return json.dumps([
        client.get_pipeline(name="p")["pipeline"],
        client.get_pipeline_state(name="p"),
        executions,
        [client.get_pipeline_execution(pipelineName="p", pipelineExecutionId=e["pipelineExecutionId"])
         for e in executions],
        client.list_action_executions(pipelineName="p")["actionExecutionDetails"],
    ], default=str)


def test_secrets_reach_only_their_container_and_are_never_kept(tmp_path, service_repo, busybox_image):
    received = [f'test "$(printf %s "${name}" | sha256sum | cut -c1-64)" = {sha256(value)}'
                for name, value in VALUES.items()]
    definition = {
        "pipeline": pipeline([
            codebuild("build", "with-secrets", [
                {"name": "API_TOKEN", "value": f"{TOKEN_ARN}::AWSCURRENT", "type": "SECRETS_MANAGER"},
                {"name": "NPM_TOKEN", "value": "/ci/npm-token", "type": "PARAMETER_STORE"},
                {"name": "STAGE_NAME", "value": "Build", "type": "PLAINTEXT"},
            ]),
            codebuild("other", "without-secrets"),
        ]),
        "projects": {
            "with-secrets": {"image": busybox_image, "environmentVariables": [
                {"name": "DB_PASSWORD", "value": "prod/db:password", "type": "SECRETS_MANAGER"},
                {"name": "NPM_TOKEN", "value": "overridden by the action", "type": "PLAINTEXT"},
            ], "buildspec": buildspec(
                received + ['echo "db=$DB_PASSWORD token=$API_TOKEN npm=$NPM_TOKEN login=$LOGIN url=$API_URL"',
                            "echo $DB_PASSWORD$LOGIN", 'export BUILT_ON="$STAGE_NAME"'],
                env={"secrets-manager": {"LOGIN": "dockerhub:password"},
                     "parameter-store": {"API_URL": "/ci/api-url"},
                     "exported-variables": ["BUILT_ON"]})},
            "without-secrets": {"image": busybox_image, "buildspec": buildspec(
                ['test -z "$DB_PASSWORD$API_TOKEN$NPM_TOKEN$LOGIN$API_URL"'])},
        },
    }
    daemon = start(tmp_path, service_repo, definition)
    try:
        client = daemon.client()
        client.start_pipeline_execution(name="p")
        state = settle(client, "p")
        details = {d["actionName"]: d for d in client.list_action_executions(pipelineName="p")["actionExecutionDetails"]}
        logs = {name: daemon.action_log(details[name]["actionExecutionId"]) for name in ("build", "other")}
        for name in ("build", "other"):  # the container got every value (it compared their digests)
            assert action_of(state, "Build", name)["latestExecution"]["status"] == "Succeeded", logs[name]
        assert "db=*** token=*** npm=*** login=*** url=***" in logs["build"]
        assert details["build"]["output"]["outputVariables"] == {"BUILT_ON": "Build"}
        shown = answers(client) + "".join(logs.values()) + get(daemon, "/health") + get(daemon, "/ui")
        assert [name for name, value in VALUES.items() if value in shown] == []
        # The references are what the declaration and the resolved configuration show.
        assert TOKEN_ARN in json.dumps(details["build"]["input"]["resolvedConfiguration"])
        assert TOKEN_ARN in json.dumps(client.get_pipeline(name="p")["pipeline"])
    finally:
        daemon.stop()
    assert state_files_holding(tmp_path / "state", VALUES) == []


def failure(state: dict, action: str) -> str:
    latest = action_of(state, "Build", action)["latestExecution"]
    assert latest["status"] == "Failed", latest
    return latest["errorDetails"]["message"]


def test_missing_references_and_exported_secrets_fail_the_action(tmp_path, service_repo, busybox_image):
    echo = buildspec(['echo "db=$DB_PASSWORD"'])
    definition = {
        "pipeline": pipeline([
            codebuild("missing-secret", "echo", [{"name": "DB_PASSWORD", "value": "prod/nothing:password",
                                                  "type": "SECRETS_MANAGER"}]),
            codebuild("missing-parameter", "echo", [{"name": "DB_PASSWORD", "value": "/ci/nothing",
                                                     "type": "PARAMETER_STORE"}]),
            codebuild("missing-key", "echo", [{"name": "DB_PASSWORD", "value": "prod/db:pass",
                                               "type": "SECRETS_MANAGER"}]),
            codebuild("missing-env", "unset-env"),
            codebuild("export-project-secret", "export-project-secret"),
            codebuild("export-buildspec-secret", "export-buildspec-secret"),
            codebuild("export-a-copy", "export-a-copy"),
        ]),
        "secrets": {"from-unset-env": {"env": "PIPEMU_TEST_NOT_SET"}},
        "projects": {
            "echo": {"image": busybox_image, "buildspec": echo},
            "unset-env": {"image": busybox_image, "buildspec": echo, "environmentVariables": [
                {"name": "DB_PASSWORD", "value": "from-unset-env", "type": "SECRETS_MANAGER"}]},
            "export-project-secret": {"image": busybox_image, "environmentVariables": [
                {"name": "DB_PASSWORD", "value": "prod/db:password", "type": "SECRETS_MANAGER"}],
                "buildspec": buildspec(["true"], {"exported-variables": ["DB_PASSWORD"]})},
            "export-buildspec-secret": {"image": busybox_image, "buildspec": buildspec(
                ["true"], {"secrets-manager": {"LOGIN": "dockerhub:password"}, "exported-variables": ["LOGIN"]})},
            "export-a-copy": {"image": busybox_image, "buildspec": buildspec(
                ['export COPY="copied:$LOGIN"'], {"secrets-manager": {"LOGIN": "dockerhub:password"},
                                                  "exported-variables": ["COPY"]})},
        },
    }
    daemon = start(tmp_path, service_repo, definition)
    try:
        client = daemon.client()
        client.start_pipeline_execution(name="p")
        state = settle(client, "p")
        assert ("ResourceNotFoundException: Secrets Manager can't find the specified secret. (action "
                "EnvironmentVariables DB_PASSWORD: prod/nothing:password): declare its stand-in under secrets:"
                ) in failure(state, "missing-secret")
        assert ("parameter does not exist: /ci/nothing (action EnvironmentVariables DB_PASSWORD): declare its "
                "stand-in under parameters:") in failure(state, "missing-parameter")
        assert "the secret prod/db has no JSON key pass" in failure(state, "missing-key")
        assert ("the stand-in of secret from-unset-env reads the environment variable PIPEMU_TEST_NOT_SET"
                ) in failure(state, "missing-env")
        assert ("env.exported-variables: DB_PASSWORD is a SECRETS_MANAGER variable (project export-project-secret "
                "environmentVariables) and cannot be exported") in failure(state, "export-project-secret")
        assert ("YAML_FILE_ERROR: env.exported-variables: LOGIN comes from env.secrets-manager and cannot be "
                "exported") in failure(state, "export-buildspec-secret")
        assert ("exported variable COPY holds a secret's value: secret values are never exported"
                ) in failure(state, "export-a-copy")
        details = {d["actionName"]: d for d in client.list_action_executions(pipelineName="p")["actionExecutionDetails"]}
        assert not details["export-a-copy"]["output"].get("outputVariables")
        shown = answers(client) + daemon.action_log(details["export-a-copy"]["actionExecutionId"])
        assert [name for name, value in VALUES.items() if value in shown] == []
    finally:
        daemon.stop()
    assert state_files_holding(tmp_path / "state", VALUES) == []
