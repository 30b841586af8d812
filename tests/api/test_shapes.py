"""emulator.api.shapes catches every kind of shape violation on real CodePipeline shapes."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.api import shapes
from emulator.api.shapes import (
    ShapeViolation,
    first_violation_message,
    operation_names,
    service_model,
    validate_input,
    validate_output,
    validate_value,
)
from tests.support.botocore_check import assert_output_valid

EXEC_ID = "0d2f7c1e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
TOKEN = "1a2b3c4d-1a2b-1a2b-1a2b-1a2b3c4d5e6f"
NAME_PATTERN = r"[A-Za-z0-9.@\-_]+"


def approval_input() -> dict:
    return {
        "pipelineName": "demo",
        "stageName": "Approve",
        "actionName": "Manual",
        "result": {"summary": "looks good", "status": "Approved"},
        "token": TOKEN,
    }


def pipeline_declaration() -> dict:
    return {
        "name": "demo",
        "roleArn": "arn:aws:iam::123456789012:role/pipemu",
        "artifactStore": {"type": "S3", "location": "pipemu-artifacts"},
        "stages": [
            {
                "name": "Source",
                "actions": [
                    {
                        "name": "Checkout",
                        "actionTypeId": {
                            "category": "Source",
                            "owner": "AWS",
                            "provider": "S3",
                            "version": "1",
                        },
                        "runOrder": 1,
                        "configuration": {"S3Bucket": "src", "S3ObjectKey": "app.zip"},
                        "outputArtifacts": [{"name": "SourceOutput"}],
                        "namespace": "SourceVariables",
                    }
                ],
            },
            {
                "name": "Build",
                "actions": [
                    {
                        "name": "Compile",
                        "actionTypeId": {
                            "category": "Build",
                            "owner": "AWS",
                            "provider": "CodeBuild",
                            "version": "1",
                        },
                        "runOrder": 1,
                        "configuration": {"ProjectName": "app"},
                        "inputArtifacts": [{"name": "SourceOutput"}],
                        "outputArtifacts": [{"name": "BuildOutput"}],
                    },
                    {
                        "name": "Lint",
                        "actionTypeId": {
                            "category": "Test",
                            "owner": "AWS",
                            "provider": "CodeBuild",
                            "version": "1",
                        },
                        "runOrder": 2,
                        "configuration": {"ProjectName": "lint"},
                        "inputArtifacts": [{"name": "SourceOutput"}],
                        "timeoutInMinutes": 60,
                    },
                ],
                "onFailure": {"result": "RETRY", "retryConfiguration": {"retryMode": "FAILED_ACTIONS"}},
            },
        ],
        "version": 3,
        "executionMode": "QUEUED",
        "pipelineType": "V2",
        "variables": [{"name": "Env", "defaultValue": "dev", "description": "target"}],
    }


def get_pipeline_output() -> dict:
    return {
        "pipeline": pipeline_declaration(),
        "metadata": {
            "pipelineArn": "arn:aws:codepipeline:us-east-1:123456789012:demo",
            "created": 1_700_000_000.5,
            "updated": 1_700_000_100,
        },
    }


def get_pipeline_state_output() -> dict:
    return {
        "pipelineName": "demo",
        "pipelineVersion": 3,
        "created": 1_700_000_000,
        "updated": 1_700_000_100.25,
        "stageStates": [
            {
                "stageName": "Source",
                "inboundTransitionState": {"enabled": True},
                "actionStates": [
                    {
                        "actionName": "Checkout",
                        "currentRevision": {
                            "revisionId": "abc123",
                            "revisionChangeId": "abc123",
                            "created": 1_700_000_010,
                        },
                        "latestExecution": {
                            "actionExecutionId": "a-1",
                            "status": "Succeeded",
                            "summary": "fetched",
                            "lastStatusChange": 1_700_000_020.0,
                            "externalExecutionId": "ext-1",
                            "percentComplete": 100,
                        },
                    }
                ],
                "latestExecution": {"pipelineExecutionId": EXEC_ID, "status": "Succeeded"},
            },
            {
                "stageName": "Build",
                "inboundTransitionState": {
                    "enabled": False,
                    "lastChangedBy": "alice",
                    "lastChangedAt": 1_700_000_030,
                    "disabledReason": "Waiting for review",
                },
                "actionStates": [
                    {
                        "actionName": "Compile",
                        "latestExecution": {
                            "status": "Failed",
                            "lastStatusChange": 1_700_000_040,
                            "errorDetails": {"code": "JobFailed", "message": "exit code 2"},
                        },
                    },
                    {"actionName": "Lint"},
                ],
                "latestExecution": {
                    "pipelineExecutionId": EXEC_ID,
                    "status": "Failed",
                    "type": "STANDARD",
                },
                "inboundExecutions": [{"pipelineExecutionId": EXEC_ID, "status": "InProgress"}],
                "retryStageMetadata": {"manualStageRetryAttempt": 1, "latestRetryTrigger": "ManualStageRetry"},
            },
        ],
    }


# --------------------------------------------------------------------------- model access


def test_service_model_is_codepipeline_and_cached():
    model = service_model()
    assert model.service_name == "codepipeline"
    # Newer botocore lists smithy-rpc-v2-cbor first; JSON 1.1, which we speak, stays listed.
    assert "json" in model.metadata.get("protocols", [model.metadata["protocol"]])
    assert service_model() is model


def test_operation_names_lists_real_operations():
    names = operation_names()
    for op in ("GetPipeline", "GetPipelineState", "PutApprovalResult", "StartPipelineExecution"):
        assert op in names


def test_unknown_operation_is_a_programming_error():
    with pytest.raises(ValueError):
        validate_input("NoSuchOperation", {})


# --------------------------------------------------------------------------- valid values pass


def test_valid_get_pipeline_state_output_passes():
    body = get_pipeline_state_output()
    assert validate_output("GetPipelineState", body) == []
    assert_output_valid("GetPipelineState", json.loads(json.dumps(body)))


def test_valid_get_pipeline_output_passes():
    assert validate_output("GetPipeline", get_pipeline_output()) == []
    assert_output_valid("GetPipeline", get_pipeline_output())


def test_valid_inputs_pass():
    assert validate_input("PutApprovalResult", approval_input()) == []
    assert validate_input("CreatePipeline", {"pipeline": pipeline_declaration()}) == []
    assert validate_input("GetPipeline", {"name": "demo", "version": 2}) == []
    assert validate_input("ListPipelines", {}) == []


def test_null_optional_member_counts_as_absent():
    assert validate_input("GetPipeline", {"name": "demo", "version": None}) == []


def test_timestamps_input_accepts_iso8601_but_output_wants_numbers():
    shape = service_model().shape_for("Timestamp")
    assert validate_value(shape, "2024-05-01T12:00:00Z") == []
    assert validate_value(shape, 1_700_000_000) == []
    assert validate_value(shape, 1_700_000_000.5, output=True) == []
    assert validate_value(shape, "2024-05-01T12:00:00Z", output=True) == [
        ShapeViolation("", "expected timestamp (epoch seconds), got string")
    ]
    assert validate_value(shape, "yesterday") != []
    assert validate_value(shape, True) != []


# --------------------------------------------------------------------------- each violation kind


def _mutated(base, mutate):
    value = copy.deepcopy(base)
    mutate(value)
    return value


def _set(path, new):
    """A mutation putting ``new`` at ``path`` (a list of keys/indexes)."""

    def mutate(value):
        target = value
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = new

    return mutate


def _delete(path):
    def mutate(value):
        target = value
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    return mutate


CASES = [
    # (id, direction, operation, base factory, mutation, expected violations)
    (
        "missing-required-top",
        "input", "PutApprovalResult", approval_input,
        _delete(["token"]),
        [ShapeViolation("token", "is required")],
    ),
    (
        "missing-required-nested",
        "input", "PutApprovalResult", approval_input,
        _delete(["result", "status"]),
        [ShapeViolation("result.status", "is required")],
    ),
    (
        "required-null",
        "input", "PutApprovalResult", approval_input,
        _set(["result", "summary"], None),
        [ShapeViolation("result.summary", "is required")],
    ),
    (
        "enum",
        "input", "PutApprovalResult", approval_input,
        _set(["result", "status"], "Maybe"),
        [ShapeViolation("result.status", "must be one of: Approved, Rejected")],
    ),
    (
        "pattern",
        "input", "PutApprovalResult", approval_input,
        _set(["pipelineName"], "bad name!"),
        [ShapeViolation("pipelineName", f"must satisfy regular expression pattern: {NAME_PATTERN}")],
    ),
    (
        "pattern-is-full-match",
        "input", "PutApprovalResult", approval_input,
        _set(["token"], TOKEN + "-trailing"),
        [ShapeViolation("token", "must satisfy regular expression pattern: "
                        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")],
    ),
    (
        "string-too-short",
        "input", "PutApprovalResult", approval_input,
        _set(["stageName"], ""),
        [ShapeViolation("stageName", "must have length at least 1")],
    ),
    (
        "string-too-long",
        "input", "PutApprovalResult", approval_input,
        _set(["actionName"], "a" * 101),
        [ShapeViolation("actionName", "must have length at most 100")],
    ),
    (
        "wrong-type-string",
        "input", "PutApprovalResult", approval_input,
        _set(["pipelineName"], 7),
        [ShapeViolation("pipelineName", "expected string, got int")],
    ),
    (
        "wrong-type-structure",
        "input", "PutApprovalResult", approval_input,
        _set(["result"], ["Approved"]),
        [ShapeViolation("result", "expected object, got list")],
    ),
    (
        "unknown-top-level",
        "input", "PutApprovalResult", approval_input,
        _set(["extra"], 1),
        [ShapeViolation("extra", "unknown field")],
    ),
    (
        "unknown-deep-in-list-of-structures",
        "output", "GetPipeline", get_pipeline_output,
        _set(["pipeline", "stages", 1, "actions", 1, "colour"], "blue"),
        [ShapeViolation("pipeline.stages[1].actions[1].colour", "unknown field")],
    ),
    (
        "range-below-min",
        "output", "GetPipeline", get_pipeline_output,
        _set(["pipeline", "stages", 0, "actions", 0, "runOrder"], 0),
        [ShapeViolation("pipeline.stages[0].actions[0].runOrder", "must be at least 1")],
    ),
    (
        "range-above-max",
        "output", "GetPipeline", get_pipeline_output,
        _set(["pipeline", "stages", 1, "actions", 1, "runOrder"], 1000),
        [ShapeViolation("pipeline.stages[1].actions[1].runOrder", "must be at most 999")],
    ),
    (
        "bool-is-not-int",
        "output", "GetPipeline", get_pipeline_output,
        _set(["pipeline", "stages", 1, "actions", 0, "runOrder"], True),
        [ShapeViolation("pipeline.stages[1].actions[0].runOrder", "expected integer, got bool")],
    ),
    (
        "float-is-not-int",
        "output", "GetPipelineState", get_pipeline_state_output,
        _set(["pipelineVersion"], 1.5),
        [ShapeViolation("pipelineVersion", "expected integer, got float")],
    ),
    (
        "int-is-not-bool",
        "output", "GetPipelineState", get_pipeline_state_output,
        _set(["stageStates", 0, "inboundTransitionState", "enabled"], 1),
        [ShapeViolation("stageStates[0].inboundTransitionState.enabled", "expected boolean, got int")],
    ),
    (
        "output-timestamp-as-string",
        "output", "GetPipelineState", get_pipeline_state_output,
        _set(["created"], "2024-01-01T00:00:00Z"),
        [ShapeViolation("created", "expected timestamp (epoch seconds), got string")],
    ),
    (
        "output-required-in-nested-structure",
        "output", "GetPipelineState", get_pipeline_state_output,
        _delete(["stageStates", 1, "latestExecution", "pipelineExecutionId"]),
        [ShapeViolation("stageStates[1].latestExecution.pipelineExecutionId", "is required")],
    ),
    (
        "output-enum-deep",
        "output", "GetPipelineState", get_pipeline_state_output,
        _set(["stageStates", 1, "actionStates", 0, "latestExecution", "status"], "Exploded"),
        [ShapeViolation("stageStates[1].actionStates[0].latestExecution.status",
                        "must be one of: InProgress, Abandoned, Succeeded, Failed")],
    ),
    (
        "output-percent-range",
        "output", "GetPipelineState", get_pipeline_state_output,
        _set(["stageStates", 0, "actionStates", 0, "latestExecution", "percentComplete"], 101),
        [ShapeViolation("stageStates[0].actionStates[0].latestExecution.percentComplete",
                        "must be at most 100")],
    ),
    (
        "list-wrong-type",
        "output", "GetPipelineState", get_pipeline_state_output,
        _set(["stageStates"], {"stageName": "Source"}),
        [ShapeViolation("stageStates", "expected list, got object")],
    ),
    (
        "list-too-short",
        "input", "CreatePipeline", lambda: {"pipeline": pipeline_declaration()},
        _set(["pipeline", "stages", 0, "actions", 0, "outputVariables"], []),
        [ShapeViolation("pipeline.stages[0].actions[0].outputVariables", "must have length at least 1")],
    ),
    (
        "list-too-long",
        "input", "CreatePipeline", lambda: {"pipeline": pipeline_declaration()},
        _set(["pipeline", "stages", 1, "onFailure", "conditions"], [{}, {}]),
        [ShapeViolation("pipeline.stages[1].onFailure.conditions", "must have length at most 1")],
    ),
    (
        "list-member-shape",
        "input", "CreatePipeline", lambda: {"pipeline": pipeline_declaration()},
        _set(["pipeline", "stages", 0, "actions", 0, "outputArtifacts"], [{"name": "ok"}, "bare"]),
        [ShapeViolation("pipeline.stages[0].actions[0].outputArtifacts[1]", "expected object, got string")],
    ),
    (
        "map-value-wrong-type",
        "output", "GetPipeline", get_pipeline_output,
        _set(["pipeline", "stages", 0, "actions", 0, "configuration", "PollForSourceChanges"], False),
        [ShapeViolation("pipeline.stages[0].actions[0].configuration[PollForSourceChanges]",
                        "expected string, got bool")],
    ),
    (
        "map-value-too-short",
        "output", "GetPipeline", get_pipeline_output,
        _set(["pipeline", "stages", 1, "actions", 0, "configuration", "ProjectName"], ""),
        [ShapeViolation("pipeline.stages[1].actions[0].configuration[ProjectName]",
                        "must have length at least 1")],
    ),
    (
        "map-key-too-long",
        "output", "GetPipeline", get_pipeline_output,
        _set(["pipeline", "stages", 1, "actions", 0, "configuration", "K" * 51], "v"),
        [ShapeViolation(f"pipeline.stages[1].actions[0].configuration[{'K' * 51}]",
                        "key must have length at most 50")],
    ),
    (
        "map-value-structure",
        "output", "GetPipeline", get_pipeline_output,
        _set(["pipeline", "artifactStores"], {"us-east-1": {"type": "S3"}}),
        [ShapeViolation("pipeline.artifactStores[us-east-1].location", "is required")],
    ),
]


@pytest.mark.parametrize(
    "direction,operation,base,mutate,expected",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_violation_is_caught(direction, operation, base, mutate, expected):
    original = base()
    validate = validate_input if direction == "input" else validate_output
    assert validate(operation, original) == [], "the base value must be valid"
    assert validate(operation, _mutated(original, mutate)) == expected


def test_every_violation_is_reported_not_just_the_first():
    params = approval_input()
    params["pipelineName"] = ""
    params["result"] = {"status": "Nope", "extra": True}
    del params["token"]
    got = validate_input("PutApprovalResult", params)
    assert set(got) == {
        ShapeViolation("pipelineName", "must have length at least 1"),
        ShapeViolation("token", "is required"),
        ShapeViolation("result.summary", "is required"),
        ShapeViolation("result.status", "must be one of: Approved, Rejected"),
        ShapeViolation("result.extra", "unknown field"),
    }


def test_assert_output_valid_lists_every_violation():
    body = get_pipeline_state_output()
    body["pipelineVersion"] = 0
    body["stageStates"][0]["bogus"] = 1
    with pytest.raises(AssertionError) as info:
        assert_output_valid("GetPipelineState", body)
    text = str(info.value)
    assert "pipelineVersion: must be at least 1" in text
    assert "stageStates[0].bogus: unknown field" in text


@pytest.mark.parametrize("params", [None, [], "x", 3, 2.5, True, ["pipelineName"]])
def test_non_object_params_is_one_violation_at_root(params):
    got = validate_input("PutApprovalResult", params)
    assert len(got) == 1 and got[0].path == ""


def test_bad_pattern_is_skipped_not_fatal(monkeypatch):
    shape = service_model().shape_for("PipelineName")
    monkeypatch.setitem(shape.metadata, "pattern", "[unclosed")
    shapes._compiled.cache_clear()
    try:
        assert validate_value(shape, "anything goes") == []
    finally:
        shapes._compiled.cache_clear()


# --------------------------------------------------------------------------- AWS message


def test_first_violation_message_single():
    violations = validate_input("PutApprovalResult", _mutated(approval_input(), _set(["pipelineName"], "a b")))
    assert first_violation_message(violations) == (
        "1 validation error detected: Value at 'pipelineName' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [A-Za-z0-9.@\-_]+"
    )


def test_first_violation_message_several():
    message = first_violation_message(
        [ShapeViolation("token", "is required"), ShapeViolation("result.status", "must be one of: Approved, Rejected")]
    )
    assert message == (
        "2 validation errors detected: "
        "Value at 'token' failed to satisfy constraint: Member must not be null; "
        "Value at 'result.status' failed to satisfy constraint: Member must be one of: Approved, Rejected"
    )


def test_first_violation_message_empty():
    assert first_violation_message([]) == ""


# --------------------------------------------------------------------------- fuzz


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(
        st.sampled_from(["pipelineName", "stageName", "actionName", "result", "token", "summary", "status"])
        | st.text(max_size=10),
        children,
        max_size=5,
    ),
    max_leaves=30,
)

FUZZ_OPERATIONS = ["PutApprovalResult", "CreatePipeline", "GetPipelineState", "StartPipelineExecution"]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operation=st.sampled_from(FUZZ_OPERATIONS), params=json_values)
def test_validate_input_never_raises(operation, params):
    got = validate_input(operation, params)
    assert isinstance(got, list)
    assert all(isinstance(v, ShapeViolation) for v in got)
    if not isinstance(params, dict):
        assert len(got) == 1 and got[0].path == ""
    first_violation_message(got)
