"""V2's Commands action through the real daemon and real containers, declared as the CodePipeline
user guide's "Commands action reference" writes it: its commands read the input artifact, write
an output artifact made of the files `files` selects, export `outputVariables` that a later
action reads through the namespace; the first failing command fails the action by name; a
SECRETS_MANAGER variable reaches the container and never the log; no image is configured (AWS
has no such key), so the default image runs them; a V1 pipeline declaring one is refused."""

from __future__ import annotations

import hashlib

import pytest
import yaml
from botocore.exceptions import ClientError

from tests.e2e.waiting import action_of, settle
from tests.support.daemon import Daemon, commit

pytestmark = pytest.mark.docker

TOKEN = "tok-5c1e9a7b3d"  # ci/api's JSON key `token`, from the daemon's environment
COMMANDS = {"category": "Compute", "owner": "AWS", "provider": "Commands", "version": "1"}


def source_stage() -> dict:
    return {"name": "Source", "actions": [{
        "name": "source", "namespace": "SourceVariables", "outputArtifacts": [{"name": "SourceArtifact"}],
        "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
        "configuration": {"RepositoryName": "svc", "BranchName": "main"}}]}


def start(tmp_path, service_repo, stages: list[dict], env: dict | None = None) -> Daemon:
    commit(service_repo, "app", {"version.txt": "1.2.3\n", "src/app.py": "print('app')\n"})
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "p.yml").write_text(yaml.safe_dump({
        "pipeline": {"name": "p", "pipelineType": "V2", "stages": [source_stage(), *stages]},
        "repositories": {"svc": {"path": str(service_repo)}},
        "secrets": {"ci/api": {"env": "PIPEMU_TEST_CI_API"}},
    }))
    return Daemon(folder, tmp_path / "state", env={"PIPEMU_TEST_CI_API": f'{{"token": "{TOKEN}"}}', **(env or {})}).start()


def run(daemon: Daemon) -> tuple[dict, dict, dict]:
    """(state, action execution details by name, log by name) of one execution of p."""
    client = daemon.client()
    client.start_pipeline_execution(name="p")
    state = settle(client, "p", timeout=240)
    details = {d["actionName"]: d for d in client.list_action_executions(pipelineName="p")["actionExecutionDetails"]}
    logs = {name: daemon.action_log(d["actionExecutionId"]) for name, d in details.items()}
    return state, details, logs


def test_commands_build_an_artifact_and_variables_a_later_action_reads(tmp_path, service_repo, python_image):
    digest = hashlib.sha256(TOKEN.encode()).hexdigest()
    build = {
        "name": "Commands_action", "actionTypeId": COMMANDS, "runOrder": 1, "configuration": {},
        "inputArtifacts": [{"name": "SourceArtifact"}],
        "outputArtifacts": [{"name": "BuildArtifact", "files": ["dist/**/*"]}],
        "commands": [
            "ls",
            'test "$(cat version.txt)" = 1.2.3',
            "mkdir -p dist/app && cp src/app.py dist/app/ && echo '#{codepipeline.PipelineExecutionId}' > dist/id.txt",
            "echo left out > notes.txt",
            'export APP_VERSION="$(cat version.txt)-#{SourceVariables.BranchName}"',
            'echo "greeting=$GREETING token=$API_TOKEN"',
            f'test "$(printf %s "$API_TOKEN" | sha256sum | cut -c1-64)" = {digest}',
            # The default image: bash, Python with boto3, the daemon's endpoint and region.
            '[[ -n "$BASH_VERSION" ]] && python3 -c "import boto3; print(boto3.__version__)"',
            'test -n "$AWS_ENDPOINT_URL" && test "$AWS_DEFAULT_REGION" = "$AWS_REGION"',
        ],
        "environmentVariables": [
            {"name": "GREETING", "value": "hello from #{SourceVariables.BranchName}", "type": "PLAINTEXT"},
            {"name": "API_TOKEN", "value": "ci/api:token", "type": "SECRETS_MANAGER"},
        ],
        "outputVariables": ["APP_VERSION", "CODEBUILD_BUILD_ID"],
        "namespace": "compute",
    }
    check = {
        "name": "check", "actionTypeId": COMMANDS, "inputArtifacts": [{"name": "BuildArtifact"}],
        "commands": ["test -f dist/app/app.py && test ! -e notes.txt && test ! -e version.txt",
                     'test "$(cat dist/id.txt)" = "#{codepipeline.PipelineExecutionId}"',
                     'test "$VERSION" = 1.2.3-main && test "#{compute.APP_VERSION}" = 1.2.3-main'],
        "environmentVariables": [{"name": "VERSION", "value": "#{compute.APP_VERSION}"}],
    }
    daemon = start(tmp_path, service_repo, [{"name": "Build", "actions": [build]}, {"name": "Check", "actions": [check]}])
    try:
        state, details, logs = run(daemon)
        for stage, name in (("Build", "Commands_action"), ("Check", "check")):
            assert action_of(state, stage, name)["latestExecution"]["status"] == "Succeeded", logs[name]
        variables = details["Commands_action"]["output"]["outputVariables"]
        assert variables["APP_VERSION"] == "1.2.3-main" and variables["CODEBUILD_BUILD_ID"]
        assert details["Commands_action"]["output"]["outputArtifacts"] == [{"name": "BuildArtifact"}]
        log = logs["Commands_action"]
        assert "Running command ls" in log and "greeting=hello from main token=***" in log
        assert TOKEN not in "".join(logs.values())
        assert "in pipemu/lambda-python3:latest" in log
    finally:
        daemon.stop()


def test_the_first_failing_command_fails_the_action_by_name(tmp_path, service_repo, busybox_image):
    failing = {"name": "fails", "actionTypeId": COMMANDS, "inputArtifacts": [{"name": "SourceArtifact"}],
               "commands": ["echo first", "cat missing.txt", "echo never"]}
    exports_secret = {"name": "exports-secret", "actionTypeId": COMMANDS, "inputArtifacts": [{"name": "SourceArtifact"}],
                      "commands": ["true"], "outputVariables": ["API_TOKEN"],
                      "environmentVariables": [{"name": "API_TOKEN", "value": "ci/api:token", "type": "SECRETS_MANAGER"}]}
    # PIPEMU_COMMANDS_IMAGE: another image (here busybox), whose `sh` runs the commands.
    daemon = start(tmp_path, service_repo, [{"name": "Build", "actions": [failing, exports_secret]}],
                   env={"PIPEMU_COMMANDS_IMAGE": busybox_image})
    try:
        state, details, logs = run(daemon)
        latest = action_of(state, "Build", "fails")["latestExecution"]
        assert latest["status"] == "Failed"
        assert latest["errorDetails"]["message"] == ("COMMAND_EXECUTION_ERROR in phase BUILD: Error while executing "
                                                     "command: cat missing.txt. Reason: exit status 1")
        assert "Running command echo first" in logs["fails"] and "echo never" not in logs["fails"]
        assert f"in {busybox_image}" in logs["fails"]
        latest = action_of(state, "Build", "exports-secret")["latestExecution"]
        assert latest["status"] == "Failed" and "API_TOKEN is a SECRETS_MANAGER variable and cannot be exported" in \
            latest["errorDetails"]["message"]
    finally:
        daemon.stop()


def test_a_v1_pipeline_declaring_one_is_refused(tmp_path, service_repo, busybox_image):
    daemon = start(tmp_path, service_repo, [{"name": "Build", "actions": [
        {"name": "ok", "actionTypeId": COMMANDS, "inputArtifacts": [{"name": "SourceArtifact"}], "commands": ["true"]}]}])
    try:
        client = daemon.client()
        declaration = client.get_pipeline(name="p")["pipeline"]
        declaration.update(name="v1", pipelineType="V1")
        with pytest.raises(ClientError) as refused:
            client.create_pipeline(pipeline=declaration)
        assert refused.value.response["Error"]["Code"] == "InvalidActionDeclarationException"
        assert "Commands (Compute) actions are only available in V2 pipelines" in refused.value.response["Error"]["Message"]
    finally:
        daemon.stop()
