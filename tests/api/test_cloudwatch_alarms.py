"""CloudWatch's alarm API on the daemon's endpoint, with real clients: boto3 as it ships (JSON 1.0,
which botocore prefers for CloudWatch), a botocore client made to send the query protocol (older
SDKs, the dashboard), and the AWS CLI; every answer held against botocore's model by its parser."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.daemon import Daemon

DECLARED = """\
alarms:
  my-service-5xx:
    description: too many 5xx answers
  my-service-latency: {state: OK}
  other-alarm: {}
"""


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    root = tmp_path_factory.mktemp("alarms")
    (root / "pipelines").mkdir()
    (root / "pipelines" / "alarms.yml").write_text(DECLARED)
    started = Daemon(root / "pipelines", root / "state").start()
    yield started
    started.stop()


def cloudwatch(daemon, protocol: str | None = None):
    client = boto3.client("cloudwatch", endpoint_url=daemon.endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing",
                          config=Config(retries={"max_attempts": 1}))
    if protocol is not None:  # as an SDK of before the JSON protocol sends it
        model = client.meta.service_model
        model.resolved_protocol = protocol
        import botocore.parsers
        import botocore.serialize

        client._serializer = botocore.serialize.create_serializer(protocol, include_validation=True)
        client._response_parser = botocore.parsers.create_parser(protocol)
    return client


def test_boto3_speaks_json_to_cloudwatch_by_default(daemon):
    assert cloudwatch(daemon).meta.service_model.resolved_protocol == "json"


@pytest.mark.parametrize("protocol", [None, "query"])
def test_set_and_describe_alarms(daemon, protocol):
    client = cloudwatch(daemon, protocol)
    sent: list[str] = []
    client.meta.events.register("before-send", lambda request, **_: sent.append(str(request.headers["Content-Type"], "ascii")))
    every = client.describe_alarms()["MetricAlarms"]
    assert [a["AlarmName"] for a in every] == ["my-service-5xx", "my-service-latency", "other-alarm"]
    fresh = next(a for a in every if a["AlarmName"] == "other-alarm")
    assert fresh["StateValue"] == "INSUFFICIENT_DATA"
    assert fresh["StateReason"] == "Unchecked: Initial alarm creation"
    assert fresh["AlarmArn"] == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:other-alarm"

    client.set_alarm_state(AlarmName="my-service-5xx", StateValue="ALARM", StateReason=f"flipped over {protocol}",
                           StateReasonData='{"version": "1.0"}')
    alarm = client.describe_alarms(AlarmNames=["my-service-5xx"])["MetricAlarms"][0]
    assert (alarm["StateValue"], alarm["StateReason"], alarm["StateReasonData"]) == (
        "ALARM", f"flipped over {protocol}", '{"version": "1.0"}')
    assert alarm["AlarmDescription"] == "too many 5xx answers"
    assert alarm["StateUpdatedTimestamp"].tzinfo is not None

    in_alarm = client.describe_alarms(StateValue="ALARM")["MetricAlarms"]
    assert [a["AlarmName"] for a in in_alarm] == ["my-service-5xx"]
    assert [a["AlarmName"] for a in client.describe_alarms(AlarmNamePrefix="my-")["MetricAlarms"]] == [
        "my-service-5xx", "my-service-latency"]
    assert client.describe_alarms(AlarmTypes=["CompositeAlarm"])["MetricAlarms"] == []
    client.set_alarm_state(AlarmName="my-service-5xx", StateValue="OK", StateReason="back")
    wire = "application/x-www-form-urlencoded" if protocol == "query" else "application/x-amz-json-1.0"
    assert {kind.split(";")[0] for kind in sent} == {wire}


@pytest.mark.parametrize("protocol", [None, "query"])
def test_paging_as_the_model_allows(daemon, protocol):
    client = cloudwatch(daemon, protocol)
    first = client.describe_alarms(MaxRecords=2)
    assert len(first["MetricAlarms"]) == 2 and first["NextToken"]
    rest = client.describe_alarms(MaxRecords=2, NextToken=first["NextToken"])
    assert [a["AlarmName"] for a in rest["MetricAlarms"]] == ["other-alarm"] and "NextToken" not in rest
    pages = client.get_paginator("describe_alarms").paginate(PaginationConfig={"PageSize": 1})
    assert sum(len(p["MetricAlarms"]) for p in pages) == 3


@pytest.mark.parametrize("protocol", [None, "query"])
def test_errors_are_cloudwatchs(daemon, protocol):
    client = cloudwatch(daemon, protocol)
    with pytest.raises(client.exceptions.ResourceNotFound) as missing:
        client.set_alarm_state(AlarmName="nope", StateValue="ALARM", StateReason="x")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFound"
    assert missing.value.response["Error"]["Message"] == "Alarm nope not found"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(client.exceptions.InvalidFormatFault) as bad_data:
        client.set_alarm_state(AlarmName="other-alarm", StateValue="ALARM", StateReason="x", StateReasonData="{no")
    assert bad_data.value.response["Error"]["Code"] == "InvalidFormat"
    with pytest.raises(client.exceptions.InvalidNextToken):
        client.describe_alarms(NextToken="not-a-token")
    with pytest.raises(ClientError) as both:
        client.describe_alarms(AlarmNames=["a"], AlarmNamePrefix="a")
    assert both.value.response["Error"]["Code"] == "InvalidParameterCombination"
    with pytest.raises(ClientError) as unsupported:
        client.list_metrics()
    assert "not supported by pipeline-emulator" in unsupported.value.response["Error"]["Message"]
    assert client.describe_alarms(AlarmNames=["other-alarm"])["MetricAlarms"][0]["StateValue"] == "INSUFFICIENT_DATA"


def test_a_value_outside_the_enum_is_a_validation_error(daemon):
    raw = "Action=SetAlarmState&Version=2010-08-01&AlarmName=other-alarm&StateValue=RED&StateReason=x"
    import urllib.error
    import urllib.request

    request = urllib.request.Request(daemon.endpoint + "/", data=raw.encode(), method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    body = refused.value.read().decode()
    assert refused.value.code == 400 and "<Code>ValidationError</Code>" in body and "StateValue" in body


def aws(daemon, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=daemon.endpoint, AWS_ACCESS_KEY_ID="cli", AWS_SECRET_ACCESS_KEY="cli",
               AWS_DEFAULT_REGION="us-east-1")
    executable = shutil.which("aws", path=os.path.dirname(sys.executable)) or shutil.which("aws")
    assert executable, "the AWS CLI (awscli, in the test extra) is not installed"
    return subprocess.run([executable, "cloudwatch", *args, "--output", "json"], env=env, capture_output=True,
                          text=True, timeout=60)


def test_the_aws_cli_sets_and_describes(daemon):
    done = aws(daemon, "set-alarm-state", "--alarm-name", "my-service-latency", "--state-value", "ALARM",
               "--state-reason", "set from the AWS CLI")
    assert done.returncode == 0, done.stderr
    described = aws(daemon, "describe-alarms", "--alarm-names", "my-service-latency")
    assert described.returncode == 0, described.stderr
    alarm = json.loads(described.stdout)["MetricAlarms"][0]
    assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "set from the AWS CLI")
    missing = aws(daemon, "set-alarm-state", "--alarm-name", "nope", "--state-value", "OK", "--state-reason", "x")
    assert missing.returncode != 0 and "ResourceNotFound" in missing.stderr and "Alarm nope not found" in missing.stderr
    aws(daemon, "set-alarm-state", "--alarm-name", "my-service-latency", "--state-value", "OK", "--state-reason", "x")


def test_a_set_state_survives_a_restart(tmp_path):
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "alarms.yml").write_text(DECLARED)
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    try:
        cloudwatch(daemon).set_alarm_state(AlarmName="other-alarm", StateValue="ALARM", StateReason="before")
        daemon.stop()
        daemon.start()
        alarm = cloudwatch(daemon).describe_alarms(AlarmNames=["other-alarm"])["MetricAlarms"][0]
        assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "before")
        # Editing the alarm's initial state in its file sets it again (the daemon reloads the folder).
        (tmp_path / "pipelines" / "alarms.yml").write_text(DECLARED.replace("other-alarm: {}", "other-alarm: {state: OK}"))
        deadline = time.monotonic() + 30
        while cloudwatch(daemon).describe_alarms(AlarmNames=["other-alarm"])["MetricAlarms"][0]["StateValue"] != "OK":
            assert time.monotonic() < deadline, "the edited initial state was not taken"
            time.sleep(0.1)
    finally:
        daemon.stop()


def test_a_daemon_with_credentials_takes_only_signed_calls(tmp_path):
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "alarms.yml").write_text(DECLARED)
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state",
                    env={"PIPEMU_ACCESS_KEY": "team", "PIPEMU_SECRET_KEY": "secret"}).start()
    try:
        for protocol in (None, "query"):
            client = cloudwatch(daemon, protocol)
            with pytest.raises(ClientError) as refused:
                client.set_alarm_state(AlarmName="other-alarm", StateValue="ALARM", StateReason="x")
            assert refused.value.response["Error"]["Code"] in ("UnrecognizedClientException", "InvalidClientTokenId")
            signed = boto3.client("cloudwatch", endpoint_url=daemon.endpoint, region_name="us-east-1",
                                  aws_access_key_id="team", aws_secret_access_key="secret")
            signed.set_alarm_state(AlarmName="other-alarm", StateValue="ALARM", StateReason="signed")
            assert signed.describe_alarms(AlarmNames=["other-alarm"])["MetricAlarms"][0]["StateReason"] == "signed"
    finally:
        daemon.stop()


def test_answers_fit_cloudwatchs_output_shapes(tmp_path):
    from emulator.alarms import Alarms
    from emulator.api import query, shapes
    from emulator.definitions.models import Alarm
    from emulator.service.cloudwatch import CloudWatch

    service = CloudWatch(Alarms(tmp_path / "alarms.json", lambda: {"a": Alarm(description="d"), "b": Alarm()}))
    service.set_alarm_state({"AlarmName": "a", "StateValue": "ALARM", "StateReason": "r", "StateReasonData": "{}"})
    model = query.model("cloudwatch")
    for operation, params in (("DescribeAlarms", {"MaxRecords": 1}), ("SetAlarmState", {
            "AlarmName": "b", "StateValue": "OK", "StateReason": "r"})):
        body = getattr(service, query._snake(operation))(params)
        shape = model.operation_model(operation).output_shape
        assert shape is None and body == {} or shapes.validate_value(shape, body, output=True) == []


JS = r"""
const cw = require("@aws-sdk/client-cloudwatch");
const client = new cw.CloudWatchClient({ region: "us-east-1", endpoint: process.env.ENDPOINT,
  credentials: { accessKeyId: "js", secretAccessKey: "js" } });
(async () => {
  const out = {};
  await client.send(new cw.SetAlarmStateCommand({ AlarmName: "other-alarm", StateValue: "ALARM",
    StateReason: "from the JS SDK" }));
  const described = await client.send(new cw.DescribeAlarmsCommand({ AlarmNames: ["other-alarm"] }));
  const alarm = described.MetricAlarms[0];
  out.alarm = { name: alarm.AlarmName, state: alarm.StateValue, reason: alarm.StateReason,
                updatedIsDate: alarm.StateUpdatedTimestamp instanceof Date };
  try {
    await client.send(new cw.SetAlarmStateCommand({ AlarmName: "nope", StateValue: "OK", StateReason: "x" }));
  } catch (error) {
    out.error = { name: error.name, status: error.$metadata.httpStatusCode, message: error.message,
                  isModeled: error instanceof cw.ResourceNotFound };
  }
  await client.send(new cw.SetAlarmStateCommand({ AlarmName: "other-alarm", StateValue: "OK", StateReason: "back" }));
  console.log(JSON.stringify(out));
})().catch((error) => { console.error(error); process.exit(1); });
"""


def test_the_js_sdk_v3(daemon, tmp_path_factory):
    from tests.support import js_sdk as js

    folder = js.install(tmp_path_factory.mktemp("js-sdk-cloudwatch"), "@aws-sdk/client-cloudwatch@latest")
    out = js.run(folder, JS, {"ENDPOINT": daemon.endpoint})
    assert out["alarm"] == {"name": "other-alarm", "state": "ALARM", "reason": "from the JS SDK", "updatedIsDate": True}
    assert out["error"] == {"name": "ResourceNotFound", "status": 404, "message": "Alarm nope not found",
                            "isModeled": True}


@pytest.mark.parametrize("body", [b"{not json", b"[1]", b'{"AlarmNames": ' + b"[" * 500 + b"]" * 500 + b"}",
                                  b'{"AlarmNames": "one"}'])
def test_bad_json_bodies_get_client_errors(daemon, body):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(daemon.endpoint + "/", data=body, method="POST", headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "GraniteServiceVersion20100801.DescribeAlarms"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
    kind = json.loads(refused.value.read())["__type"]
    assert kind in ("SerializationException", "ValidationException")  # the shape; the query code in the header:
    assert refused.value.headers["x-amzn-query-error"] == {"SerializationException": "SerializationException;Sender",
                                                           "ValidationException": "ValidationError;Sender"}[kind]
