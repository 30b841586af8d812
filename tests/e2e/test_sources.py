"""Source providers (CodeCommit, CodeStarSourceConnection, S3) and their failures, CodeBuild's
source variables, and secrets masked in the kept logs, through the real daemon and containers."""

from __future__ import annotations

import io
import zipfile

import pytest
import yaml

from tests.e2e.waiting import settle
from tests.support.daemon import Daemon, commit

pytestmark = pytest.mark.docker


def pipeline(source: dict, image: str) -> dict:
    return {
        "name": "p",
        "stages": [
            {"name": "Source", "actions": [{**source, "name": "source", "outputArtifacts": [{"name": "src"}],
                                            "namespace": "SourceVariables"}]},
            {"name": "Build", "actions": [{
                "name": "build",
                "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
                "configuration": {"ProjectName": "show"},
                "inputArtifacts": [{"name": "src"}],
            }]},
        ],
    }


SHOW = {
    "version": 0.2,
    "phases": {"build": {"commands": [
        "ls -R .", "cat *.txt", 'echo "resolved=$CODEBUILD_RESOLVED_SOURCE_VERSION"', 'echo "secret=$DB_PASSWORD"',
    ]}},
}


def run(tmp_path, definition: dict, **start) -> tuple[dict, dict, str]:
    (tmp_path / "pipelines").mkdir(exist_ok=True)
    (tmp_path / "pipelines" / "p.yml").write_text(yaml.safe_dump(definition))
    # The secret the project names, held by a stand-in that reads the daemon's environment.
    (tmp_path / "pipelines" / "secrets.yml").write_text("secrets: {prod/db-password: {env: PIPEMU_TEST_DB_PASSWORD}}\n")
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state", env={"PIPEMU_TEST_DB_PASSWORD": "hunter22-secret"}).start()
    try:
        client = daemon.client()
        execution_id = client.start_pipeline_execution(name="p", **start)["pipelineExecutionId"]
        state = settle(client, "p")
        history = client.list_action_executions(pipelineName="p", filter={"pipelineExecutionId": execution_id})
        details = {d["actionName"]: d for d in history["actionExecutionDetails"]}
        logs = daemon.action_log(details["build"]["actionExecutionId"]) if "build" in details else ""
    finally:
        daemon.stop()
    return state, details, logs


def project(image: str) -> dict:
    return {"show": {"image": image, "buildspec": SHOW, "environmentVariables": [
        {"name": "DB_PASSWORD", "value": "prod/db-password", "type": "SECRETS_MANAGER"}]}}


def test_codestar_connection_source_and_masked_secret(tmp_path, service_repo, busybox_image):
    head = commit(service_repo, "second", {"b.txt": "bee"})
    definition = {
        "pipeline": pipeline({"actionTypeId": {"category": "Source", "owner": "AWS",
                                               "provider": "CodeStarSourceConnection", "version": "1"},
                              "configuration": {"ConnectionArn": "arn:aws:codeconnections:us-east-1:123456789012:connection/x",
                                                "FullRepositoryId": "org/svc", "BranchName": "main"}}, busybox_image),
        "repositories": {"org/svc": {"path": str(service_repo)}},
        "projects": project(busybox_image),
    }
    state, details, logs = run(tmp_path, definition)
    assert details["build"]["status"] == "Succeeded", logs
    variables = details["source"]["output"]["outputVariables"]
    assert (variables["CommitId"], variables["FullRepositoryName"]) == (head, "org/svc")
    assert f"resolved={head}" in logs and "bee" in logs
    assert "hunter22-secret" not in logs and "secret=***" in logs


@pytest.mark.parametrize("as_zip", [False, True])
def test_s3_source_from_a_folder_or_a_zip(tmp_path, busybox_image, as_zip):
    bucket = tmp_path / "bucket"
    (bucket / "drops" / "app").mkdir(parents=True)
    (bucket / "drops" / "app" / "hello.txt").write_text("from s3")
    key = "drops/app"
    if as_zip:
        data = io.BytesIO()
        with zipfile.ZipFile(data, "w") as archive:
            archive.writestr("hello.txt", "from a zip")
        (bucket / "drops" / "app.zip").write_bytes(data.getvalue())
        key = "drops/app.zip"
    definition = {
        "pipeline": pipeline({"actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
                              "configuration": {"S3Bucket": "drop-bucket", "S3ObjectKey": key,
                                                "PollForSourceChanges": "false"}}, busybox_image),
        "buckets": {"drop-bucket": {"path": str(bucket)}},
        "projects": project(busybox_image),
    }
    state, details, logs = run(tmp_path, definition)
    assert details["build"]["status"] == "Succeeded", logs
    assert ("from a zip" if as_zip else "from s3") in logs
    assert len(details["source"]["output"]["outputVariables"]["VersionId"]) == 64


@pytest.mark.parametrize(
    "case, words",
    [("missing-repo", "nowhere does not exist"), ("missing-branch", "nosuch"), ("missing-commit", "deadbeef")],
)
def test_source_failures_name_what_is_missing(tmp_path, service_repo, busybox_image, case, words):
    path = tmp_path / "nowhere" if case == "missing-repo" else service_repo
    branch = "nosuch" if case == "missing-branch" else "main"
    definition = {
        "pipeline": pipeline({"actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
                              "configuration": {"RepositoryName": "svc", "BranchName": branch,
                                                "PollForSourceChanges": "false"}}, busybox_image),
        "repositories": {"svc": {"path": str(path)}},
        "projects": project(busybox_image),
    }
    start = {}
    if case == "missing-commit":
        start = {"sourceRevisions": [{"actionName": "source", "revisionType": "COMMIT_ID", "revisionValue": "deadbeef"}]}
    state, details, _ = run(tmp_path, definition, **start)
    error = details["source"]["output"]["executionResult"]["errorDetails"]["message"]
    assert details["source"]["status"] == "Failed"
    assert words in error, error


def test_artifacts_are_kept_for_the_newest_executions_only(tmp_path, service_repo, busybox_image):
    definition = {
        "pipeline": pipeline({"actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
                              "configuration": {"RepositoryName": "svc", "BranchName": "main",
                                                "PollForSourceChanges": "false"}}, busybox_image),
        "repositories": {"svc": {"path": str(service_repo)}},
        "projects": project(busybox_image),
    }
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "p.yml").write_text(yaml.safe_dump(definition))
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state", env={"PIPEMU_ARTIFACT_RETENTION": "2"}).start()
    try:
        client = daemon.client()
        ids = []
        for _ in range(4):
            ids.append(client.start_pipeline_execution(name="p")["pipelineExecutionId"])
            settle(client, "p")
        kept = sorted(p.name for p in (tmp_path / "state" / "artifacts").iterdir())
        assert kept == sorted(ids[-2:])
    finally:
        daemon.stop()
