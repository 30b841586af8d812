"""Smithy RPC v2 CBOR: boto3 made to speak it (its model lists it first; botocore ranks JSON
first), and plain HTTP with cbor2 for what no SDK sends (the protocol's error cases)."""

from __future__ import annotations

import datetime
import http.client
import urllib.error
import urllib.request

import cbor2
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from emulator.api import cbor as cbor_wire, shapes
from tests.api.test_documented_examples import user_guide_pipeline
from tests.support.daemon import Daemon

PATH = "/service/CodePipeline_20150709/operation/"
CBOR_HEADERS = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Accept": "application/cbor"}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    root = tmp_path_factory.mktemp("cbor")
    (root / "pipelines").mkdir()
    daemon = Daemon(root / "pipelines", root / "state").start()
    yield daemon
    daemon.stop()


@pytest.fixture(scope="module")
def pipeline(daemon):
    """The user guide's example pipeline, created over JSON 1.1 (read back over CBOR below)."""
    daemon.client(protocol="json").create_pipeline(**user_guide_pipeline("cbor-guide"))
    return "cbor-guide"


def post(daemon, operation: str, body: bytes, headers: dict | None = None, path: str = PATH) -> tuple[int, dict, object]:
    request = urllib.request.Request(daemon.endpoint + path + operation, data=body, method="POST",
                                     headers=CBOR_HEADERS if headers is None else headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status, answer_headers, raw = answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, raw = error.code, error.headers, error.read()
    return status, {k.lower(): v for k, v in answer_headers.items()}, cbor2.loads(raw) if raw else None


def test_boto3_over_cbor_reads_what_json_wrote(daemon, pipeline):
    cbor_client, json_client = daemon.client(protocol="cbor"), daemon.client(protocol="json")
    assert cbor_client.meta.service_model.resolved_protocol == "smithy-rpc-v2-cbor"
    seen = []
    cbor_client.meta.events.register("after-call.codepipeline", lambda http_response, **_: seen.append(http_response))

    got = cbor_client.get_pipeline(name=pipeline)
    assert seen[-1].headers["smithy-protocol"] == "rpc-v2-cbor"
    assert seen[-1].headers["content-type"] == "application/cbor"
    assert seen[-1].content[:1] != b"{"  # CBOR, not JSON text
    assert isinstance(got["metadata"]["created"], datetime.datetime)  # tag 1, parsed by botocore
    assert got["pipeline"] == json_client.get_pipeline(name=pipeline)["pipeline"]
    assert got["metadata"] == json_client.get_pipeline(name=pipeline)["metadata"]

    started = cbor_client.start_pipeline_execution(name=pipeline, clientRequestToken="cbor-start-1")
    execution = cbor_client.get_pipeline_execution(pipelineName=pipeline,
                                                   pipelineExecutionId=started["pipelineExecutionId"])
    assert execution["pipelineExecution"]["trigger"]["triggerType"] == "StartPipelineExecution"
    summaries = cbor_client.list_pipeline_executions(pipelineName=pipeline)["pipelineExecutionSummaries"]
    assert summaries[0]["pipelineExecutionId"] == started["pipelineExecutionId"]
    assert isinstance(summaries[0]["startTime"], datetime.datetime)
    assert abs(summaries[0]["startTime"].timestamp()
               - json_client.list_pipeline_executions(pipelineName=pipeline)["pipelineExecutionSummaries"][0]["startTime"].timestamp()) < 0.001
    state = cbor_client.get_pipeline_state(name=pipeline)
    assert [s["stageName"] for s in state["stageStates"]] == ["Source", "Staging"]
    names = [p["name"] for p in cbor_client.list_pipelines()["pipelines"]]
    assert pipeline in names


def test_boto3_over_cbor_operations_without_output_and_pagination(daemon, pipeline):
    client = daemon.client(protocol="cbor")
    seen = []
    client.meta.events.register("after-call.codepipeline", lambda http_response, **_: seen.append(http_response))
    answer = client.disable_stage_transition(pipelineName=pipeline, stageName="Staging", transitionType="Inbound",
                                             reason="Waiting for the change window")
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200 and seen[-1].content == b""
    state = client.get_pipeline_state(name=pipeline)
    staging = next(s for s in state["stageStates"] if s["stageName"] == "Staging")
    assert staging["inboundTransitionState"]["enabled"] is False
    assert isinstance(staging["inboundTransitionState"]["lastChangedAt"], datetime.datetime)
    client.enable_stage_transition(pipelineName=pipeline, stageName="Staging", transitionType="Inbound")

    for number in range(3):
        client.create_pipeline(**user_guide_pipeline(f"cbor-page-{number}"))
    pages = list(client.get_paginator("list_pipelines").paginate(PaginationConfig={"PageSize": 2}))
    names = [p["name"] for page in pages for p in page["pipelines"]]
    assert len(pages) >= 2 and {f"cbor-page-{n}" for n in range(3)} <= set(names)
    assert len(names) == len(set(names))
    for number in range(3):
        client.delete_pipeline(name=f"cbor-page-{number}")
    assert not {f"cbor-page-{n}" for n in range(3)} & {p["name"] for p in client.list_pipelines()["pipelines"]}


def test_boto3_over_cbor_gets_aws_errors(daemon, pipeline):
    client = daemon.client(protocol="cbor")
    with pytest.raises(client.exceptions.PipelineNotFoundException) as raised:
        client.get_pipeline(name="no-such-pipeline")
    assert "no-such-pipeline" in raised.value.response["Error"]["Message"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(client.exceptions.ValidationException) as raised:
        client.get_pipeline(name="has spaces")  # the name pattern refuses it
    assert "name" in raised.value.response["Error"]["Message"]
    with pytest.raises(client.exceptions.StageNotFoundException):
        client.disable_stage_transition(pipelineName=pipeline, stageName="Nowhere", transitionType="Inbound",
                                        reason="none")
    with pytest.raises(client.exceptions.JobNotFoundException) as raised:
        client.get_job_details(jobId="11111111-2222-3333-4444-555555555555")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_raw_error_cases_of_the_protocol(daemon, pipeline):
    status, headers, body = post(daemon, "GetPipeline", cbor2.dumps({"name": pipeline}))
    assert status == 200 and headers["smithy-protocol"] == "rpc-v2-cbor" and body["pipeline"]["name"] == pipeline
    assert isinstance(body["metadata"]["created"], datetime.datetime)  # tag 1, as cbor2 reads it

    cases = [
        # (operation, body, headers, status, code)
        ("GetPipeline", b'{"name": "x"}', {**CBOR_HEADERS, "Content-Type": "application/json"}, 415,
         "UnsupportedMediaTypeException"),
        ("GetPipeline", cbor2.dumps({"name": pipeline}), {**CBOR_HEADERS, "Accept": "application/json"}, 406,
         "NotAcceptableException"),
        ("NoSuchOperation", cbor2.dumps({}), None, 404, "UnknownOperationException"),
        ("GetPipeline", b"\xa1\x64name\x78", None, 400, "SerializationException"),  # cut short
        ("GetPipeline", b"\xff\xff", None, 400, "SerializationException"),
        ("GetPipeline", cbor2.dumps(["a list"]), None, 400, "SerializationException"),
        ("GetPipeline", cbor2.dumps({"name": pipeline}),
         {k: v for k, v in CBOR_HEADERS.items() if k != "smithy-protocol"}, 404, "UnknownOperationException"),
        ("GetPipeline", cbor2.dumps({"name": pipeline}), {**CBOR_HEADERS, "smithy-protocol": "rpc-v2-json"}, 404,
         "UnknownOperationException"),
        ("GetPipeline", cbor2.dumps({"name": pipeline}),
         {**CBOR_HEADERS, "X-Amz-Target": "CodePipeline_20150709.GetPipeline"}, 404, "UnknownOperationException"),
        ("GetPipeline", cbor2.dumps({"name": 7}), None, 400, "ValidationException"),
        ("GetPipeline", cbor2.dumps({"name": b"bytes"}), None, 400, "ValidationException"),
        ("GetPipeline", cbor2.dumps({"name": "missing-one"}), None, 400, "PipelineNotFoundException"),
        ("GetPipeline", cbor2.dumps({}), None, 400, "ValidationException"),
        # An input timestamp as tag 1 passes the shape check (and the job is then not found); as
        # a byte string it does not.
        ("PutJobSuccessResult", cbor2.dumps({"jobId": "11111111-2222-3333-4444-555555555555", "currentRevision": {
            "revision": "r1", "changeIdentifier": "c1", "created": cbor2.CBORTag(1, 1700000000.5)}}), None, 400,
         "JobNotFoundException"),
        ("PutJobSuccessResult", cbor2.dumps({"jobId": "11111111-2222-3333-4444-555555555555", "currentRevision": {
            "revision": "r1", "changeIdentifier": "c1", "created": b"yesterday"}}), None, 400, "ValidationException"),
    ]
    for operation, raw, headers, want_status, code in cases:
        status, answer_headers, body = post(daemon, operation, raw, headers)
        assert (status, body and body["__type"]) == (want_status, f"com.amazonaws.codepipeline#{code}"), (operation, raw, headers, body)
        assert body["message"], body
        assert answer_headers["content-type"] == "application/cbor"
        assert answer_headers["smithy-protocol"] == "rpc-v2-cbor"

    # Nested deeper than any input of the service: refused while decoding, never a 5xx.
    deep = b"\xa1\x64name" + b"\x81" * 5000 + b"\x00"
    status, _, body = post(daemon, "GetPipeline", deep)
    assert (status, body["__type"]) == (400, "com.amazonaws.codepipeline#SerializationException")
    # The service segment may be the absolute shape ID with `#` as `.` (the spec's SHOULD).
    status, _, body = post(daemon, "ListPipelines", b"", {"smithy-protocol": "rpc-v2-cbor"},
                           path="/service/com.amazonaws.codepipeline.CodePipeline_20150709/operation/")
    assert status == 200 and any(p["name"] == pipeline for p in body["pipelines"])
    status, _, body = post(daemon, "ListPipelines", b"", path="/service/CodeBuild_20161006/operation/")
    assert (status, body["__type"]) == (404, "com.amazonaws.codepipeline#UnknownOperationException")
    assert daemon.health()["status"] == "ok"


def test_cross_origin_and_size_guards_are_json_s(daemon):
    status, _, body = post(daemon, "ListPipelines", b"", {**CBOR_HEADERS, "Origin": "http://evil.example"})
    assert (status, body["__type"]) == (403, "com.amazonaws.codepipeline#AccessDeniedException")
    # A body announced larger than the limit is refused by its Content-Length, before it is sent.
    connection = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    connection.putrequest("POST", PATH + "ListPipelines")
    for name, value in {**CBOR_HEADERS, "Content-Length": str(4 * 1024 * 1024 + 1)}.items():
        connection.putheader(name, value)
    connection.endheaders()
    answer = connection.getresponse()
    assert (answer.status, cbor2.loads(answer.read())["__type"]) == (
        413, "com.amazonaws.codepipeline#RequestEntityTooLargeException")
    connection.close()


def test_sigv4_over_cbor(tmp_path):
    (tmp_path / "pipelines").mkdir()
    locked = Daemon(tmp_path / "pipelines", tmp_path / "state",
                    env={"PIPEMU_ACCESS_KEY": "AKIDLOCAL", "PIPEMU_SECRET_KEY": "s3cret"}).start()
    try:
        assert locked.client("AKIDLOCAL", "s3cret", protocol="cbor").list_pipelines()["pipelines"] == []
        wrong = locked.client("AKIDLOCAL", "wrong", protocol="cbor")
        with pytest.raises(wrong.exceptions.ClientError) as raised:
            wrong.list_pipelines()
        assert raised.value.response["Error"]["Code"] == "InvalidSignatureException"
        status, _, body = post(locked, "ListPipelines", cbor2.dumps({}))  # not signed at all
        assert (status, body["__type"]) == (400, "com.amazonaws.codepipeline#MissingAuthenticationTokenException")

        # Signed for another service (a signature for CodeBuild is not one for CodePipeline).
        url = locked.endpoint + PATH + "ListPipelines"
        request = AWSRequest("POST", url, data=cbor2.dumps({}), headers=dict(CBOR_HEADERS))
        SigV4Auth(Credentials("AKIDLOCAL", "s3cret"), "codebuild", "us-east-1").add_auth(request)
        status, _, body = post(locked, "ListPipelines", request.body, dict(request.headers.items()))
        assert (status, body["__type"]) == (400, "com.amazonaws.codepipeline#InvalidSignatureException")
    finally:
        locked.stop()


def test_timestamps_and_blobs_follow_the_shapes():
    """Input: tag 1 becomes epoch seconds; output: epoch seconds become tag 1, by the model."""
    output = shapes.service_model().operation_model("ListPipelineExecutions").output_shape
    encoded = cbor2.dumps(cbor_wire.to_cbor_form(output, {"pipelineExecutionSummaries": [
        {"pipelineExecutionId": "1", "startTime": 1700000000.25, "lastUpdateTime": 1700000001, "status": None}]}))
    decoded = cbor2.loads(encoded)["pipelineExecutionSummaries"][0]
    assert decoded == {"pipelineExecutionId": "1",
                       "startTime": datetime.datetime.fromtimestamp(1700000000.25, datetime.timezone.utc),
                       "lastUpdateTime": datetime.datetime.fromtimestamp(1700000001, datetime.timezone.utc)}
    assert b"\xc1" in encoded  # the tag-1 head byte, not tag 0's text
    blob = type("Blob", (), {"type_name": "blob"})()
    assert cbor_wire.to_json_form(blob, b"\x00\x01") == "AAE="
    assert cbor_wire.to_cbor_form(blob, "AAE=") == b"\x00\x01"
    stamp = type("Stamp", (), {"type_name": "timestamp"})()
    assert cbor_wire.to_json_form(stamp, datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)) == 1704067200
