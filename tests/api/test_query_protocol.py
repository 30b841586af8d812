"""The query protocol (api/query.py) against botocore itself: requests serialized by botocore's
own QuerySerializer read back to the same parameters, and every CloudFormation answer written
as XML, parsed by botocore's QueryParser, fits the operation's output shape."""

from __future__ import annotations

from urllib.parse import parse_qsl

import botocore.parsers
import botocore.serialize
import pytest

from emulator.api import query, shapes
from emulator.cfn.store import StackStore
from emulator.service.cloudformation import OPERATIONS, CloudFormation
from emulator.service.errors import ServiceError

MODEL = query.model("cloudformation")


def record(name: str, status: str = "CREATE_COMPLETE") -> dict:
    return {"StackName": name, "StackId": f"arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/1-2-3",
            "CreationTime": "2026-11-30T10:00:00.000Z", "StackStatus": status, "Description": "d",
            "Parameters": [{"ParameterKey": "Stage", "ParameterValue": "dev"},
                           {"ParameterKey": "Secret", "ParameterValue": "hunter2"}],
            "NoEcho": ["Secret"],
            "Outputs": [{"OutputKey": "Fn", "OutputValue": f"{name}-Fn", "ExportName": f"{name}-fn"}],
            "Resources": [{"LogicalResourceId": "Fn", "PhysicalResourceId": f"{name}-Fn",
                           "ResourceType": "AWS::Lambda::Function", "ResourceStatus": "CREATE_COMPLETE",
                           "Timestamp": "2026-11-30T10:00:00.000Z", "Function": {"name": f"{name}-Fn"}}],
            "TemplateBody": "Resources: {}\n"}


@pytest.fixture
def backend(tmp_path):
    store = StackStore(tmp_path)
    store.put(record("app-dev"))
    store.put(record("app-qa"))
    store.put(record("gone"))
    store.delete("gone", "2026-11-30T11:00:00.000Z")
    return CloudFormation(store)


def roundtrip(operation: str, params: dict) -> dict:
    """botocore serializes `params`; we read the form, answer, write XML; botocore parses it."""
    op = MODEL.operation_model(operation)
    request = botocore.serialize.create_serializer("query").serialize_to_request(params, op)
    body = request["body"]  # botocore url-encodes this dict when it sends it
    form = {k: str(v) for k, v in body.items()} if isinstance(body, dict) else dict(parse_qsl(body))
    read = query.read_form(op.input_shape, form)
    assert read == params
    return read


@pytest.mark.parametrize("operation, params", [
    ("DescribeStacks", {}),
    ("DescribeStacks", {"StackName": "app-dev"}),
    ("ListStacks", {"StackStatusFilter": ["CREATE_COMPLETE", "DELETE_COMPLETE"]}),
    ("ListStacks", {}),
    ("DescribeStackResources", {"StackName": "app-qa"}),
    ("DescribeStackResources", {"PhysicalResourceId": "app-dev-Fn"}),
    ("DescribeStackResource", {"StackName": "app-qa", "LogicalResourceId": "Fn"}),
    ("ListStackResources", {"StackName": "app-dev"}),
    ("GetTemplate", {"StackName": "app-dev"}),
    ("ListExports", {}),
])
def test_answers_fit_the_model_and_botocore_reads_them(backend, operation, params):
    params = roundtrip(operation, params)
    body = getattr(backend, query._snake(operation))(params)
    op = MODEL.operation_model(operation)
    assert shapes.validate_value(op.output_shape, body) == []  # timestamps as ISO 8601 text
    xml = query.to_xml("cloudformation", operation, body, "req-1")
    parsed = botocore.parsers.create_parser("query").parse(
        {"body": xml, "headers": {}, "status_code": 200}, op.output_shape)
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"
    for key, value in body.items():
        assert key in parsed, key
        if isinstance(value, list):
            assert len(parsed[key]) == len(value)


def test_what_the_answers_say(backend):
    stacks = backend.describe_stacks({})["Stacks"]
    assert [s["StackName"] for s in stacks] == ["app-dev", "app-qa"]  # not the deleted one
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stacks[0]["Parameters"]} == {"Stage": "dev", "Secret": "****"}
    deleted = backend.list_stacks({"StackStatusFilter": ["DELETE_COMPLETE"]})["StackSummaries"]
    assert [(s["StackName"], s["DeletionTime"]) for s in deleted] == [("gone", "2026-11-30T11:00:00.000Z")]
    assert backend.describe_stacks({"StackName": deleted[0]["StackId"]})["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert [e["Name"] for e in backend.list_exports({})["Exports"]] == ["app-dev-fn", "app-qa-fn"]
    for call, params in ((backend.describe_stacks, {"StackName": "gone"}), (backend.get_template, {"StackName": "x"})):
        with pytest.raises(ServiceError) as missing:
            call(params)
        assert (missing.value.code, missing.value.message) == ("ValidationError", f"Stack with id {params['StackName']} does not exist")


def test_every_answered_operation_is_one_of_cloudformations():
    assert set(OPERATIONS) <= set(MODEL.operation_names)


def test_errors_are_written_as_botocore_reads_them():
    answer = query.error_xml("ValidationError", "Stack with id x does not exist")
    parsed = botocore.parsers.create_parser("query").parse(
        {"body": answer.body, "headers": {}, "status_code": 400}, None)
    assert parsed["Error"] == {"Type": "Sender", "Code": "ValidationError", "Message": "Stack with id x does not exist"}
