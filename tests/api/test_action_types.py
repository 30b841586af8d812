"""The action-type operations, third-party jobs and PutActionRevision through real boto3 against
the real daemon: every answer is held against botocore's output shapes (Daemon.client), every
modeled error is answered with AWS's code."""

from __future__ import annotations

import json

import pytest

from tests.e2e.waiting import wait_for
from tests.support.daemon import Daemon

TEST_TYPE = {"category": "Test", "owner": "Custom", "provider": "LoadRunner", "version": "2"}


@pytest.fixture
def daemon(tmp_path):
    (tmp_path / "pipelines").mkdir()
    started = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    yield started
    started.stop()


def create_load_runner(client, **overrides):
    """As the user guide's "Create a custom action" JSON for a test action, in boto3's words."""
    request = dict(
        category="Test", provider="LoadRunner", version="2",
        settings={"entityUrlTemplate": "https://perf.example.com/suites/{Config:Suite}",
                  "executionUrlTemplate": "https://perf.example.com/runs/{ExternalExecutionId}"},
        configurationProperties=[
            {"name": "Suite", "required": True, "key": True, "secret": False, "queryable": True,
             "description": "The suite to run", "type": "String"},
            {"name": "Token", "required": False, "key": False, "secret": True, "type": "String"},
        ],
        inputArtifactDetails={"minimumCount": 1, "maximumCount": 1},
        outputArtifactDetails={"minimumCount": 0, "maximumCount": 1},
    )
    request.update(overrides)
    return client.create_custom_action_type(**request)


def pipeline(name: str, test_action: dict, source_type: dict | None = None) -> dict:
    source_type = source_type or {"category": "Source", "owner": "Custom", "provider": "Drop", "version": "1"}
    return {
        "name": name, "roleArn": "arn:aws:iam::123456789012:role/CodePipelineServiceRole",
        "artifactStore": {"type": "S3", "location": "codepipeline-us-east-1-artifacts"},
        "stages": [
            {"name": "Source", "actions": [{"name": "Drop", "actionTypeId": source_type,
                                             "configuration": {"Path": "builds/"},
                                             "outputArtifacts": [{"name": "Build"}]}]},
            {"name": "Test", "actions": [{"inputArtifacts": [{"name": "Build"}], **test_action}]},
        ],
    }


def create_drop_source(client) -> None:
    client.create_custom_action_type(
        category="Source", provider="Drop", version="1",
        configurationProperties=[{"name": "Path", "required": True, "key": True, "secret": False}],
        inputArtifactDetails={"minimumCount": 0, "maximumCount": 0},
        outputArtifactDetails={"minimumCount": 1, "maximumCount": 1})


def test_create_list_get_delete_and_restore(daemon):
    client = daemon.client()
    created = create_load_runner(client, tags=[{"key": "team", "value": "perf"}])
    assert created["actionType"]["id"] == TEST_TYPE
    assert created["tags"] == [{"key": "team", "value": "perf"}]
    assert created["actionType"]["actionConfigurationProperties"][0]["queryable"] is True

    listed = client.list_action_types(actionOwnerFilter="Custom")["actionTypes"]
    assert [t["id"] for t in listed] == [TEST_TYPE]
    everything = client.list_action_types()["actionTypes"]
    ids = {(t["id"]["category"], t["id"]["owner"], t["id"]["provider"]) for t in everything}
    assert {("Build", "AWS", "CodeBuild"), ("Invoke", "AWS", "Lambda"), ("Test", "Custom", "LoadRunner")} <= ids
    assert all(t["id"]["owner"] == "AWS" for t in client.list_action_types(actionOwnerFilter="AWS")["actionTypes"])
    assert client.list_action_types(regionFilter="eu-west-1")["actionTypes"] == []
    with pytest.raises(client.exceptions.InvalidNextTokenException):
        client.list_action_types(nextToken="bm90LWEtbnVtYmVy")

    # The restart keeps it (the state folder).
    daemon.kill()
    again = Daemon(daemon.pipelines, daemon.state, port=daemon.port).start()
    try:
        client = again.client()
        assert [t["id"] for t in client.list_action_types(actionOwnerFilter="Custom")["actionTypes"]] == [TEST_TYPE]
        with pytest.raises(client.exceptions.ValidationException, match="already exists"):
            create_load_runner(client)
        client.delete_custom_action_type(category="Test", provider="LoadRunner", version="2")
        assert client.list_action_types(actionOwnerFilter="Custom")["actionTypes"] == []
        with pytest.raises(client.exceptions.ActionTypeNotFoundException):
            client.poll_for_jobs(actionTypeId=TEST_TYPE)
        with pytest.raises(client.exceptions.ValidationException):  # deleted already
            client.delete_custom_action_type(category="Test", provider="LoadRunner", version="2")
        # A different declaration of a deleted id is refused; the very same one restores it.
        with pytest.raises(client.exceptions.ValidationException, match="never used before"):
            create_load_runner(client, outputArtifactDetails={"minimumCount": 0, "maximumCount": 0})
        create_load_runner(client)
        assert [t["id"] for t in client.list_action_types(actionOwnerFilter="Custom")["actionTypes"]] == [TEST_TYPE]
        assert client.poll_for_jobs(actionTypeId=TEST_TYPE)["jobs"] == []
    finally:
        again.stop()


def test_create_custom_action_type_errors(daemon):
    client = daemon.client()
    with pytest.raises(client.exceptions.InvalidTagsException):
        create_load_runner(client, tags=[{"key": "aws:cloudformation:stack-name", "value": "x"}])
    with pytest.raises(client.exceptions.TooManyTagsException):
        create_load_runner(client, tags=[{"key": f"k{i}", "value": "v"} for i in range(51)])
    with pytest.raises(client.exceptions.ValidationException, match="required and not secret"):
        create_load_runner(client, configurationProperties=[
            {"name": "Suite", "required": False, "key": True, "secret": False, "queryable": True}])
    with pytest.raises(client.exceptions.ValidationException, match="minimumCount"):
        create_load_runner(client, inputArtifactDetails={"minimumCount": 2, "maximumCount": 1})
    status, body = daemon.post("CreateCustomActionType", json.dumps({  # the model's range is 0..5
        "category": "Test", "provider": "LoadRunner", "version": "2",
        "inputArtifactDetails": {"minimumCount": 0, "maximumCount": 6},
        "outputArtifactDetails": {"minimumCount": 0, "maximumCount": 0}}))
    assert (status, body["__type"]) == (400, "ValidationException")
    for version in range(50):
        client.create_custom_action_type(category="Build", provider="Quota", version=str(version),
                                         inputArtifactDetails={"minimumCount": 0, "maximumCount": 1},
                                         outputArtifactDetails={"minimumCount": 0, "maximumCount": 1})
    with pytest.raises(client.exceptions.LimitExceededException):
        create_load_runner(client)


def test_get_and_update_action_type(daemon):
    client = daemon.client()
    codebuild = client.get_action_type(category="Build", owner="AWS", provider="CodeBuild", version="1")["actionType"]
    assert codebuild["executor"]["type"] == "JobWorker"
    assert {"name": "ProjectName", "optional": False, "key": True, "noEcho": False, "queryable": False} in codebuild[
        "properties"]
    with pytest.raises(client.exceptions.ActionTypeNotFoundException):
        client.get_action_type(category="Deploy", owner="ThirdParty", provider="NoSuchPartner", version="1")
    with pytest.raises(client.exceptions.ValidationException):  # the model: owner AWS or ThirdParty only
        client.get_action_type(category="Test", owner="Custom", provider="LoadRunner", version="2")
    declaration = {
        "description": "Alexa skill deploys", "executor": {
            "configuration": {"jobWorkerExecutorConfiguration": {"pollingAccounts": ["111122223333"]}},
            "type": "JobWorker", "jobTimeout": 600},
        "id": {"category": "Deploy", "owner": "ThirdParty", "provider": "AlexaSkillsKit", "version": "1"},
        "inputArtifactDetails": {"minimumCount": 0, "maximumCount": 2},
        "outputArtifactDetails": {"minimumCount": 0, "maximumCount": 0},
        "permissions": {"allowedAccounts": ["111122223333"]},
        "properties": [{"name": "SkillId", "optional": False, "key": True, "noEcho": False, "queryable": False}],
        "urls": {"configurationUrl": "https://developer.amazon.com/alexa/console/ask"},
    }
    client.update_action_type(actionType=declaration)
    assert client.get_action_type(**declaration["id"])["actionType"] == declaration
    warnings = [w for w in daemon.health()["definitionWarnings"] if "AlexaSkillsKit" in w]
    assert any("executor.jobTimeout" in w for w in warnings) and any("permissions" in w for w in warnings), warnings
    with pytest.raises(client.exceptions.ActionTypeNotFoundException):
        client.update_action_type(actionType={**declaration, "id": {**declaration["id"], "provider": "Nobody"}})
    with pytest.raises(client.exceptions.RequestFailedException):
        client.update_action_type(actionType={**declaration, "id": {"category": "Build", "owner": "AWS",
                                                                      "provider": "CodeBuild", "version": "1"}})


def test_pipelines_are_checked_against_custom_types(daemon):
    client = daemon.client()
    test_action = {"name": "Load", "actionTypeId": TEST_TYPE, "configuration": {"Suite": "checkout",
                                                                                "Token": "perf-token-1"}}
    with pytest.raises(client.exceptions.InvalidActionDeclarationException,
                       match=r"ActionType \(Category: 'Source', Provider: 'Drop', Owner: 'Custom', Version: '1'\) "
                             r"in action 'Drop' is not available"):
        client.create_pipeline(pipeline=pipeline("perf", test_action))
    create_drop_source(client)
    create_load_runner(client)
    with pytest.raises(client.exceptions.InvalidActionDeclarationException, match="missing required configuration 'Suite'"):
        client.create_pipeline(pipeline=pipeline("perf", {**test_action, "configuration": {}}))
    with pytest.raises(client.exceptions.InvalidActionDeclarationException, match="unknown configuration 'Suit'"):
        client.create_pipeline(pipeline=pipeline("perf", {**test_action, "configuration": {"Suite": "a", "Suit": "b"}}))
    created = client.create_pipeline(pipeline=pipeline("perf", test_action))["pipeline"]
    assert created["stages"][1]["actions"][0]["configuration"] == {"Suite": "checkout", "Token": "****"}
    got = client.get_pipeline(name="perf")["pipeline"]
    assert got["stages"][1]["actions"][0]["configuration"]["Token"] == "****"
    assert "perf-token-1" not in str(client.list_action_executions(pipelineName="perf"))
    assert "perf-token-1" not in daemon.log()


def test_third_party_jobs(daemon):
    client = daemon.client()
    create_drop_source(client)
    scanner = {"category": "Test", "owner": "ThirdParty", "provider": "AcmeScanner", "version": "1"}
    with pytest.raises(client.exceptions.ActionTypeNotFoundException):
        client.poll_for_third_party_jobs(actionTypeId=scanner)
    client.create_pipeline(pipeline=pipeline("scan", {"name": "Scan", "actionTypeId": scanner,
                                                      "configuration": {"Profile": "strict"}}))
    source = []
    wait_for(lambda: source.extend(client.poll_for_jobs(actionTypeId={**scanner, "owner": "Custom", "category": "Source",
                                                                      "provider": "Drop"})["jobs"]) or source)
    client.acknowledge_job(jobId=source[0]["id"], nonce=source[0]["nonce"])
    client.put_job_success_result(jobId=source[0]["id"])

    jobs = []
    wait_for(lambda: jobs.extend(client.poll_for_third_party_jobs(actionTypeId=scanner, maxBatchSize=5)["jobs"]) or jobs)
    (job,) = jobs
    assert client.poll_for_third_party_jobs(actionTypeId=scanner)["jobs"] == []
    with pytest.raises(client.exceptions.JobNotFoundException):  # not a custom action's job
        client.acknowledge_job(jobId=job["jobId"], nonce="whatever")
    details = client.get_third_party_job_details(jobId=job["jobId"], clientToken="partner-token")["jobDetails"]
    assert details["data"]["actionConfiguration"]["configuration"] == {"Profile": "strict"}
    assert details["data"]["pipelineContext"]["pipelineName"] == "scan"
    with pytest.raises(client.exceptions.InvalidClientTokenException):
        client.get_third_party_job_details(jobId=job["jobId"], clientToken="someone-else")
    with pytest.raises(client.exceptions.InvalidNonceException):
        client.acknowledge_third_party_job(jobId=job["jobId"], nonce="nope", clientToken="partner-token")
    assert client.acknowledge_third_party_job(jobId=job["jobId"], nonce=details["nonce"],
                                              clientToken="partner-token")["status"] == "InProgress"
    with pytest.raises(client.exceptions.InvalidClientTokenException):
        client.put_third_party_job_success_result(jobId=job["jobId"], clientToken="someone-else")
    client.put_third_party_job_success_result(jobId=job["jobId"], clientToken="partner-token",
                                              executionDetails={"summary": "0 findings"})
    with pytest.raises(client.exceptions.InvalidJobStateException):
        client.put_third_party_job_failure_result(jobId=job["jobId"], clientToken="partner-token",
                                                  failureDetails={"type": "JobFailed", "message": "late"})
    with pytest.raises(client.exceptions.JobNotFoundException):
        client.get_third_party_job_details(jobId="no-such-job", clientToken="partner-token")
    with pytest.raises(client.exceptions.JobNotFoundException):
        client.acknowledge_job(jobId="0f4c5b6a-1111-4222-8333-944455556666", nonce="n")
    wait_for(lambda: client.list_pipeline_executions(pipelineName="scan")["pipelineExecutionSummaries"][0]["status"]
             == "Succeeded")


def test_put_action_revision(daemon):
    client = daemon.client()
    create_drop_source(client)
    create_load_runner(client)
    source = pipeline("rev", {"name": "Load", "actionTypeId": TEST_TYPE, "configuration": {"Suite": "smoke"}})
    client.create_pipeline(pipeline=source)
    revision = {"revisionId": "build-1042", "revisionChangeId": "1042", "created": 1767225600}
    first = client.put_action_revision(pipelineName="rev", stageName="Source", actionName="Drop",
                                       actionRevision=revision)
    assert first["newRevision"] is True
    execution = client.get_pipeline_execution(pipelineName="rev", pipelineExecutionId=first["pipelineExecutionId"])
    assert execution["pipelineExecution"]["trigger"]["triggerType"] == "PutActionRevision"
    again = client.put_action_revision(pipelineName="rev", stageName="Source", actionName="Drop",
                                       actionRevision=revision)
    assert again == {"newRevision": False, "pipelineExecutionId": first["pipelineExecutionId"],
                     "ResponseMetadata": again["ResponseMetadata"]}
    with pytest.raises(client.exceptions.PipelineNotFoundException):
        client.put_action_revision(pipelineName="nope", stageName="Source", actionName="Drop", actionRevision=revision)
    with pytest.raises(client.exceptions.StageNotFoundException):
        client.put_action_revision(pipelineName="rev", stageName="Build", actionName="Drop", actionRevision=revision)
    with pytest.raises(client.exceptions.ActionNotFoundException):
        client.put_action_revision(pipelineName="rev", stageName="Source", actionName="Fetch", actionRevision=revision)
