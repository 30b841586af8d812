"""The CodePipeline invoke action and the S3 deploy action, against a real daemon with boto3.

A release pipeline invokes a downstream one, passing a variable resolved from its source action
and a source revision (an older commit): the downstream execution shows both, and its trigger
names the invoking pipeline. The same release writes its source to a bucket folder twice: once
extracted under a prefix, once as a zip. ListDeployActionExecutionTargets answers an empty list
for those (AWS lists no S3 targets) and AWS's errors otherwise. No container runs here: source
actions read a local repository, and both actions run in the daemon.
"""

from __future__ import annotations

import io
import os
import zipfile

import pytest
import yaml

from tests.e2e.waiting import settle, wait_for
from tests.support.daemon import Daemon, commit

SOURCE = {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"}


def source_stage(repository: str) -> dict:
    return {"name": "Source", "actions": [{
        "name": "Source", "namespace": "SourceVariables", "actionTypeId": SOURCE,
        "configuration": {"RepositoryName": repository, "BranchName": "main", "PollForSourceChanges": "false"},
        "outputArtifacts": [{"name": "SourceArtifact"}]}]}


def release(old_commit: str) -> dict:
    """Deploys its source to the bucket twice, then starts `downstream` with the version and the
    commit to take (a hotfix pipeline pinned to an older commit, as release trains do)."""
    s3 = {"category": "Deploy", "owner": "AWS", "provider": "S3", "version": "1"}
    return {"name": "release", "pipelineType": "V2", "stages": [
        source_stage("app"),
        {"name": "Deploy", "actions": [
            {"name": "Site", "actionTypeId": s3, "inputArtifacts": [{"name": "SourceArtifact"}],
             "configuration": {"BucketName": "website-bucket", "Extract": "true",
                               "ObjectKey": "releases/#{SourceVariables.CommitId}", "CacheControl": "max-age=60"}},
            {"name": "Bundle", "actionTypeId": s3, "inputArtifacts": [{"name": "SourceArtifact"}],
             "configuration": {"BucketName": "website-bucket", "Extract": "false", "ObjectKey": "bundles/app.zip"}},
        ]},
        {"name": "Chain", "actions": [{
            "name": "StartDownstream",
            "actionTypeId": {"category": "Invoke", "owner": "AWS", "provider": "CodePipeline", "version": "1"},
            "configuration": {
                "PipelineName": "downstream",
                "Variables": '[{"name":"RELEASE_COMMIT","value":"#{SourceVariables.CommitId}"}]',
                "SourceRevisions": f'[{{"actionName":"Source","revisionType":"COMMIT_ID","revisionValue":"{old_commit}"}}]',
            }}]},
    ]}


def downstream() -> dict:
    return {"name": "downstream", "pipelineType": "V2",
            "variables": [{"name": "RELEASE_COMMIT", "defaultValue": "none"}],
            "stages": [source_stage("app"), {"name": "Approve", "actions": [{
                "name": "Go", "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual",
                                               "version": "1"}}]}]}


def orphan() -> dict:
    """Invokes a pipeline nobody declared, and one with a variable name StartPipelineExecution refuses."""
    invoke = {"category": "Invoke", "owner": "AWS", "provider": "CodePipeline", "version": "1"}
    return {"name": "orphan", "pipelineType": "V2", "stages": [source_stage("app"), {"name": "Chain", "actions": [
        {"name": "StartMissing", "actionTypeId": invoke, "configuration": {"PipelineName": "no-such-pipeline"}},
        {"name": "StartBadly", "actionTypeId": invoke, "configuration": {
            "PipelineName": "downstream", "Variables": '[{"name":"RELEASE COMMIT","value":"x"}]'}}]}]}


@pytest.fixture
def chained(tmp_path, service_repo):
    old = commit(service_repo, "v1", {"index.html": "<h1>v1</h1>\n", "css/site.css": "h1 {}\n"})
    new = commit(service_repo, "v2", {"index.html": "<h1>v2</h1>\n"})
    os.symlink("/etc/passwd", service_repo / "passwd-link")
    commit(service_repo, "a link")
    head = commit(service_repo, "head", {"version.txt": "2\n"})
    bucket = tmp_path / "website-bucket"
    bucket.mkdir()
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "release.yml").write_text(yaml.safe_dump({
        "pipeline": release(old), "repositories": {"app": {"path": str(service_repo)}},
        "buckets": {"website-bucket": {"path": str(bucket)}}}))
    (folder / "downstream.yml").write_text(yaml.safe_dump({"pipeline": downstream()}))
    (folder / "orphan.yml").write_text(yaml.safe_dump({"pipeline": orphan()}))
    daemon = Daemon(folder, tmp_path / "state").start()
    yield daemon, bucket, old, new, head
    daemon.stop()


def test_invoke_starts_the_downstream_pipeline_with_variables_and_a_pinned_revision(chained):
    daemon, bucket, old, _, head = chained
    client = daemon.client()
    started = client.start_pipeline_execution(name="release")["pipelineExecutionId"]
    state = settle(client, "release")
    assert all(s["latestExecution"]["status"] == "Succeeded" for s in state["stageStates"]), state

    details = client.list_action_executions(pipelineName="release", filter={"pipelineExecutionId": started})
    invoke = next(d for d in details["actionExecutionDetails"] if d["actionName"] == "StartDownstream")
    invoked = invoke["output"]["executionResult"]["externalExecutionId"]
    assert invoke["status"] == "Succeeded" and invoked in invoke["output"]["executionResult"]["externalExecutionSummary"]

    # The action does not wait for it: the downstream execution waits on its approval meanwhile.
    wait_for(lambda: client.get_pipeline_state(name="downstream")["stageStates"][0]
             .get("latestExecution", {}).get("status") == "Succeeded", what="downstream's source")
    execution = client.get_pipeline_execution(pipelineName="downstream", pipelineExecutionId=invoked)["pipelineExecution"]
    assert execution["status"] == "InProgress"
    assert execution["variables"] == [{"name": "RELEASE_COMMIT", "resolvedValue": head}]
    assert execution["trigger"] == {"triggerType": "StartPipelineExecution",
                                    "triggerDetail": "arn:aws:codepipeline:us-east-1:123456789012:release"}
    assert [r["revisionId"] for r in execution["artifactRevisions"]] == [old]  # pinned, not the head
    # Listed as downstream's only execution: started once, whatever retried.
    assert [e["pipelineExecutionId"] for e in
            client.list_pipeline_executions(pipelineName="downstream")["pipelineExecutionSummaries"]] == [invoked]


def test_invoking_a_missing_pipeline_or_with_a_bad_variable_fails_with_awss_words(chained):
    daemon = chained[0]
    client = daemon.client()
    client.start_pipeline_execution(name="orphan")
    state = settle(client, "orphan")
    chain = {a["actionName"]: a["latestExecution"] for a in state["stageStates"][1]["actionStates"]}
    assert chain["StartMissing"]["status"] == "Failed"
    assert chain["StartMissing"]["errorDetails"]["message"] == (
        "PipelineNotFoundException: Account '123456789012' does not have a pipeline with name 'no-such-pipeline'")
    assert chain["StartBadly"]["status"] == "Failed"
    assert chain["StartBadly"]["errorDetails"]["message"] == (
        "ValidationException: 1 validation error detected: Value at 'variables[0].name' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [A-Za-z0-9@\\-_]+")
    assert client.list_pipeline_executions(pipelineName="downstream")["pipelineExecutionSummaries"] == []


def test_s3_deploy_extracts_under_the_key_and_writes_a_zip(chained):
    daemon, bucket, _, _, head = chained
    client = daemon.client()
    started = client.start_pipeline_execution(name="release")["pipelineExecutionId"]
    settle(client, "release")

    site = bucket / "releases" / head  # ObjectKey with the source's CommitId resolved
    assert (site / "index.html").read_text() == "<h1>v2</h1>\n"
    assert (site / "css" / "site.css").read_text() == "h1 {}\n"
    assert not os.path.lexists(site / "passwd-link")  # S3 holds no links: never written, never followed
    with zipfile.ZipFile(io.BytesIO((bucket / "bundles" / "app.zip").read_bytes())) as archive:
        names = set(archive.namelist())
        assert {"index.html", "css/site.css", "version.txt"} <= names
        link = archive.getinfo("passwd-link")
        assert (link.external_attr >> 16) & 0o170000 == 0o120000  # kept as the link it is
        assert archive.read("passwd-link") == b"/etc/passwd"

    details = client.list_action_executions(pipelineName="release", filter={"pipelineExecutionId": started})
    site_run = next(d for d in details["actionExecutionDetails"] if d["actionName"] == "Site")
    assert site_run["status"] == "Succeeded"
    # AWS lists targets for EC2 deploys only: an S3 deploy's list is empty.
    assert client.list_deploy_action_execution_targets(
        pipelineName="release", actionExecutionId=site_run["actionExecutionId"])["targets"] == []

    # CacheControl is accepted, and said not to be carried out.
    warned = [w for w in daemon.health()["definitionWarnings"] if "CacheControl" in w]
    assert len(warned) == 1 and "not carried out" in warned[0], daemon.health()["definitionWarnings"]


def test_s3_deploy_refuses_a_bucket_folder_that_leads_elsewhere(chained, tmp_path):
    daemon, bucket, *_ = chained
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (bucket / "bundles").symlink_to(elsewhere)  # a link someone left in the bucket
    client = daemon.client()
    client.start_pipeline_execution(name="release")
    state = settle(client, "release")
    bundle = next(a for a in state["stageStates"][1]["actionStates"] if a["actionName"] == "Bundle")
    assert bundle["latestExecution"]["status"] == "Failed"
    assert "bundles in the bucket's folder is not a folder" in bundle["latestExecution"]["errorDetails"]["message"]
    assert list(elsewhere.iterdir()) == []


def test_list_deploy_action_execution_targets_errors(chained):
    daemon = chained[0]
    client = daemon.client()
    with pytest.raises(client.exceptions.ActionExecutionNotFoundException):
        client.list_deploy_action_execution_targets(actionExecutionId="00000000-0000-0000-0000-000000000000")
    with pytest.raises(client.exceptions.PipelineNotFoundException):
        client.list_deploy_action_execution_targets(pipelineName="nope", actionExecutionId="x")
    started = client.start_pipeline_execution(name="release")["pipelineExecutionId"]
    settle(client, "release")
    runs = client.list_action_executions(pipelineName="release", filter={"pipelineExecutionId": started})
    site = next(d["actionExecutionId"] for d in runs["actionExecutionDetails"] if d["actionName"] == "Site")
    with pytest.raises(client.exceptions.ActionExecutionNotFoundException):  # not an action of that pipeline
        client.list_deploy_action_execution_targets(pipelineName="downstream", actionExecutionId=site)
    with pytest.raises(client.exceptions.InvalidNextTokenException):
        client.list_deploy_action_execution_targets(actionExecutionId=site, nextToken="bm9wZQ==")
    status, body = daemon.post(  # the model's only filter name is TARGET_STATUS (boto3 would not send this)
        "ListDeployActionExecutionTargets",
        f'{{"actionExecutionId": "{site}", "filters": [{{"name": "COLOR", "values": ["x"]}}]}}')
    assert (status, body["__type"]) == (400, "ValidationException")
    status, body = daemon.post(  # a filter without its name: the model leaves it optional, AWS needs it
        "ListDeployActionExecutionTargets", f'{{"actionExecutionId": "{site}", "filters": [{{"values": ["x"]}}]}}')
    assert (status, body["__type"]) == (400, "ValidationException")
