"""All of CodePipeline's operations (botocore's model: 44), each called through real boto3 over
both wire protocols (JSON 1.1 and Smithy RPC v2 CBOR): every answer is held against the
operation's output shape (Daemon.client checks each 200), and every error is one the model lists
for that operation (or the protocol's common ones), never a 5xx or an unknown operation."""

from __future__ import annotations

import botocore.session
from botocore import xform_name
import pytest
from botocore.exceptions import ClientError

from emulator.api.wire import COMMON_ERRORS, SUPPORTED
from tests.support.daemon import Daemon

MODEL = botocore.session.get_session().get_service_model("codepipeline")
ARN = "arn:aws:codepipeline:us-east-1:123456789012:ops"
CUSTOM = {"category": "Deploy", "owner": "Custom", "provider": "OpsFleet", "version": "1"}
THIRD = {"category": "Deploy", "owner": "ThirdParty", "provider": "OpsPartner", "version": "1"}
UNKNOWN_JOB = "11111111-2222-3333-4444-555555555555"
WEBHOOK = {"name": "ops-hook", "targetPipeline": "ops", "targetAction": "Source",
           "filters": [{"jsonPath": "$.ref", "matchEquals": "refs/heads/{Branch}"}],
           "authentication": "UNAUTHENTICATED", "authenticationConfiguration": {}}


def pipeline(name: str) -> dict:
    return {"name": name, "roleArn": "arn:aws:iam::123456789012:role/pipeline", "pipelineType": "V2",
            "artifactStore": {"type": "S3", "location": "artifacts"},
            "stages": [
                {"name": "Source", "actions": [{
                    "name": "Source", "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit",
                                                       "version": "1"},
                    "configuration": {"RepositoryName": "ops", "BranchName": "main", "PollForSourceChanges": "false"},
                    "outputArtifacts": [{"name": "src"}]}]},
                {"name": "Gate", "actions": [{
                    "name": "Approve", "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual",
                                                        "version": "1"}}]}]}


def calls(execution: str) -> dict[str, dict]:
    """A call of each operation, with a minimal input valid by the model's shapes."""
    where = {"pipelineName": "ops", "stageName": "Gate", "actionName": "Approve"}
    return {
        "ListPipelines": {},
        "GetPipeline": {"name": "ops"},
        "GetPipelineState": {"name": "ops"},
        "StartPipelineExecution": {"name": "ops"},
        "GetPipelineExecution": {"pipelineName": "ops", "pipelineExecutionId": execution},
        "ListPipelineExecutions": {"pipelineName": "ops"},
        "PutApprovalResult": {**where, "result": {"summary": "no", "status": "Rejected"},
                              "token": "00000000-0000-0000-0000-000000000000"},
        "StopPipelineExecution": {"pipelineName": "ops", "pipelineExecutionId": execution, "abandon": True},
        "RetryStageExecution": {"pipelineName": "ops", "stageName": "Gate", "pipelineExecutionId": execution,
                                "retryMode": "FAILED_ACTIONS"},
        "DisableStageTransition": {"pipelineName": "ops", "stageName": "Gate", "transitionType": "Inbound",
                                   "reason": "checking"},
        "EnableStageTransition": {"pipelineName": "ops", "stageName": "Gate", "transitionType": "Inbound"},
        "ListActionExecutions": {"pipelineName": "ops"},
        "CreatePipeline": {"pipeline": pipeline("ops-created")},
        "UpdatePipeline": {"pipeline": pipeline("ops-created")},
        "DeletePipeline": {"name": "ops-created"},
        "ListTagsForResource": {"resourceArn": ARN},
        "TagResource": {"resourceArn": ARN, "tags": [{"key": "team", "value": "ops"}]},
        "UntagResource": {"resourceArn": ARN, "tagKeys": ["team"]},
        "GetJobDetails": {"jobId": UNKNOWN_JOB},
        "PutJobSuccessResult": {"jobId": UNKNOWN_JOB},
        "PutJobFailureResult": {"jobId": UNKNOWN_JOB, "failureDetails": {"type": "JobFailed", "message": "no"}},
        "RollbackStage": {"pipelineName": "ops", "stageName": "Gate", "targetPipelineExecutionId": execution},
        "OverrideStageCondition": {"pipelineName": "ops", "stageName": "Gate", "pipelineExecutionId": execution,
                                   "conditionType": "BEFORE_ENTRY"},
        "ListRuleExecutions": {"pipelineName": "ops"},
        "ListRuleTypes": {},
        "CreateCustomActionType": {**{k: v for k, v in CUSTOM.items() if k != "owner"},
                                   "inputArtifactDetails": {"minimumCount": 0, "maximumCount": 1},
                                   "outputArtifactDetails": {"minimumCount": 0, "maximumCount": 1}},
        "ListActionTypes": {},
        "GetActionType": THIRD,
        "UpdateActionType": {"actionType": {
            "id": THIRD, "executor": {"type": "JOB_WORKER", "configuration": {"jobWorkerExecutorConfiguration": {}}},
            "inputArtifactDetails": {"minimumCount": 0, "maximumCount": 1},
            "outputArtifactDetails": {"minimumCount": 0, "maximumCount": 1}}},
        "PollForJobs": {"actionTypeId": CUSTOM},
        "AcknowledgeJob": {"jobId": UNKNOWN_JOB, "nonce": "1"},
        "PollForThirdPartyJobs": {"actionTypeId": THIRD},
        "AcknowledgeThirdPartyJob": {"jobId": UNKNOWN_JOB, "nonce": "1", "clientToken": "client"},
        "GetThirdPartyJobDetails": {"jobId": UNKNOWN_JOB, "clientToken": "client"},
        "PutThirdPartyJobSuccessResult": {"jobId": UNKNOWN_JOB, "clientToken": "client"},
        "PutThirdPartyJobFailureResult": {"jobId": UNKNOWN_JOB, "clientToken": "client",
                                          "failureDetails": {"type": "JobFailed", "message": "no"}},
        "DeleteCustomActionType": {k: v for k, v in CUSTOM.items() if k != "owner"},
        "PutActionRevision": {"pipelineName": "ops", "stageName": "Source", "actionName": "Source",
                              "actionRevision": {"revisionId": "0" * 40, "revisionChangeId": "0" * 40,
                                                 "created": 1700000000}},
        "ListDeployActionExecutionTargets": {"pipelineName": "ops", "actionExecutionId": UNKNOWN_JOB},
        "PutWebhook": {"webhook": WEBHOOK},
        "ListWebhooks": {},
        "RegisterWebhookWithThirdParty": {"webhookName": "ops-hook"},
        "DeregisterWebhookWithThirdParty": {"webhookName": "ops-hook"},
        "DeleteWebhook": {"name": "ops-hook"},
    }


def test_the_model_lists_44_operations_and_every_one_is_served():
    assert len(MODEL.operation_names) == 44
    assert sorted(MODEL.operation_names) == sorted(SUPPORTED)
    assert sorted(calls("x")) == sorted(MODEL.operation_names)  # the test below calls each


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    root = tmp_path_factory.mktemp("all-operations")
    (root / "pipelines").mkdir()
    daemon = Daemon(root / "pipelines", root / "state").start()
    yield daemon
    daemon.stop()


@pytest.mark.parametrize("protocol", ["json", "cbor"])
def test_each_operation_answers_by_the_model(daemon, protocol):
    client = daemon.client(protocol=protocol)
    if "ops" not in [p["name"] for p in client.list_pipelines()["pipelines"]]:  # the other protocol's run made it
        client.create_pipeline(pipeline=pipeline("ops"))
    execution = client.start_pipeline_execution(name="ops")["pipelineExecutionId"]
    answered, refused = [], {}
    for operation, params in calls(execution).items():
        method = getattr(client, xform_name(operation))
        try:
            method(**params)  # a 200 is checked against the output shape by the client's hook
            answered.append(operation)
        except ClientError as error:
            code = error.response["Error"]["Code"]
            status = error.response["ResponseMetadata"]["HTTPStatusCode"]
            modeled = {shape.name for shape in MODEL.operation_model(operation).error_shapes}
            assert status < 500, (operation, code, error)
            assert code != "UnknownOperationException", (operation, error)
            assert code in modeled or code in COMMON_ERRORS - {"InternalFailure"}, (operation, code, sorted(modeled))
            refused[operation] = code
    assert len(answered) + len(refused) == 44
    # Most of them answer; the rest refuse with their own modeled errors (unknown jobs, ...).
    assert {"ListPipelines", "CreatePipeline", "CreateCustomActionType", "PutWebhook", "ListWebhooks",
            "ListActionTypes", "PollForJobs", "ListRuleTypes", "DeleteWebhook"} <= set(answered), refused
    assert refused.get("GetJobDetails") == "JobNotFoundException"


def test_the_readme_operations_table_lists_all_44():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = text[text.index("### API operations"):]
    table = table[:table.index("\n\n", table.index("| operation | notes |"))]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    listed = {name for row in rows for name in row.split("|")[1].replace("`", "").replace(" ", "").split("/")}
    assert sorted(set(MODEL.operation_names) - listed) == []
