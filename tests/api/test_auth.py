"""SigV4: any signature by default; with credentials configured, botocore's signer decides."""

from __future__ import annotations

import datetime

import pytest

from emulator.api import auth
from tests.support.daemon import Daemon


@pytest.fixture
def locked_daemon(tmp_path):
    (tmp_path / "pipelines").mkdir()
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state",
                    env={"PIPEMU_ACCESS_KEY": "AKIDLOCAL", "PIPEMU_SECRET_KEY": "s3cret"}).start()
    yield daemon
    daemon.stop()


def test_right_credentials_pass_and_wrong_ones_get_aws_errors(locked_daemon):
    assert locked_daemon.client("AKIDLOCAL", "s3cret").list_pipelines()["pipelines"] == []
    cases = [
        (locked_daemon.client("AKIDLOCAL", "wrong"), "InvalidSignatureException"),
        (locked_daemon.client("SOMEONE", "s3cret"), "UnrecognizedClientException"),
    ]
    for client, code in cases:
        with pytest.raises(client.exceptions.ClientError) as raised:
            client.list_pipelines()
        assert raised.value.response["Error"]["Code"] == code
    status, body = locked_daemon.post("ListPipelines", "{}")  # not signed at all
    assert (status, body["__type"]) == (400, "MissingAuthenticationTokenException")
    assert locked_daemon.health()["status"] == "ok"  # /health needs no signature


def test_open_by_default(article_daemon):
    status, body = article_daemon.post("ListPipelines", "{}")
    assert status == 200 and body["pipelines"]


def test_a_signature_too_old_is_refused():
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="POST", url="http://127.0.0.1:7788/", data=b"{}",
                         headers={"X-Amz-Target": "CodePipeline_20150709.ListPipelines"})
    SigV4Auth(Credentials("AK", "SK"), "codepipeline", "us-east-1").add_auth(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert auth.verify("POST", request.url, headers, b"{}", {"AK": "SK"}) == "AK"
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=20)
    with pytest.raises(auth.AuthError) as raised:
        auth.verify("POST", request.url, headers, b"{}", {"AK": "SK"}, now=later)
    assert raised.value.code == "InvalidSignatureException" and "expired" in raised.value.message
    with pytest.raises(auth.AuthError) as raised:  # the body was changed after signing
        auth.verify("POST", request.url, headers, b'{"maxResults": 1}', {"AK": "SK"})
    assert raised.value.code == "InvalidSignatureException"


def test_signed_lambda_and_cloudformation_calls_pass_by_name_and_by_arn(locked_daemon):
    """Paths holding an ARN are signed percent-encoded; the check reads them as sent."""
    import boto3
    from botocore.exceptions import ClientError

    def client(service: str, secret: str = "s3cret"):
        return boto3.client(service, endpoint_url=locked_daemon.endpoint, region_name="us-east-1",
                            aws_access_key_id="AKIDLOCAL", aws_secret_access_key=secret)

    for name in ("missing", "arn:aws:lambda:us-east-1:123456789012:function:missing", "missing:$LATEST"):
        with pytest.raises(ClientError) as raised:  # signed right: the function is what is missing
            client("lambda").get_function(FunctionName=name)
        assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException", name
    with pytest.raises(ClientError) as raised:
        client("lambda", "wrong").list_functions()
    assert raised.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert client("cloudformation").list_stacks()["StackSummaries"] == []
    with pytest.raises(ClientError) as raised:
        client("cloudformation", "wrong").list_stacks()
    assert raised.value.response["Error"]["Code"] == "InvalidSignatureException"


def test_who_must_sign():
    own = {"AKIAPIPEMUOWNKEY0000": "own-secret"}
    open_to_host = auth.Access(own=own, host_addresses={"172.17.0.1"})
    assert open_to_host.keys_for("127.0.0.1") is None
    assert open_to_host.keys_for("::1") is None
    assert open_to_host.keys_for("::ffff:127.0.0.1") is None
    assert open_to_host.keys_for("172.17.0.1") is None  # the host, on the bridge
    assert open_to_host.keys_for("172.17.0.5") == own  # a container: only ours have these keys
    assert open_to_host.keys_for("testclient") == own  # not an address: not the host
    configured = auth.Access(own=own, configured={"AKIDUSER": "user-secret"})
    assert configured.keys_for("127.0.0.1") == {**own, "AKIDUSER": "user-secret"}
    later = set()
    growing = auth.Access(own=own, host_addresses=lambda: later)
    assert growing.keys_for("172.20.0.1") == own
    later.add("172.20.0.1")  # a network joined since: the host's address on it
    assert growing.keys_for("172.20.0.1") is None
    assert auth.Access().keys_for("10.0.0.9") is None  # no keys at all: nothing to check against


def test_with_credentials_pipemus_own_endpoints_need_a_signature_too(locked_daemon, monkeypatch):
    import json
    import urllib.error
    import urllib.request

    from emulator.cli_client import CliError, Daemon as CliDaemon

    for path in ("/pipemu/logs/0b5e0c8e-0000-4000-8000-000000000000", "/pipemu/events", "/pipemu/events?aws=true",
                 "/pipemu/deliveries", "/pipemu/topics/deliveries"):
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(locked_daemon.endpoint + path, timeout=5)
        assert json.loads(raised.value.read())["__type"] == "MissingAuthenticationTokenException"
    # Liveness only, unsigned: no pipelines, no definition errors.
    assert locked_daemon.health() == {"status": "ok"}
    monkeypatch.setenv("PIPEMU_ACCESS_KEY", "AKIDLOCAL")
    monkeypatch.setenv("PIPEMU_SECRET_KEY", "s3cret")
    cli = CliDaemon(locked_daemon.endpoint)
    assert cli.health()["definitionErrors"] == []
    with pytest.raises(CliError) as raised:  # signed: it gets as far as looking the action up
        cli.logs("0b5e0c8e-0000-4000-8000-000000000000")
    assert "ActionExecutionNotFoundException" in str(raised.value)
    assert next(iter(cli.events())) >= 0
    assert cli.get("/pipemu/deliveries") == {"events": [], "deliveries": []}  # signed: answered
    monkeypatch.setenv("PIPEMU_SECRET_KEY", "wrong")
    with pytest.raises(CliError) as raised:
        next(iter(CliDaemon(locked_daemon.endpoint).events()))
    assert "InvalidSignatureException" in str(raised.value)


def _signed(endpoint: str, target: str, body: bytes, service: str = "codepipeline", extra: dict | None = None):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="POST", url=endpoint + "/", data=body, headers={
        "X-Amz-Target": f"CodePipeline_20150709.{target}", "Content-Type": "application/x-amz-json-1.1",
        **(extra or {})})
    SigV4Auth(Credentials("AKIDLOCAL", "s3cret"), service, "us-east-1").add_auth(request)
    return list(request.headers.items())


def _send(endpoint: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, dict]:
    import http.client
    import json
    from urllib.parse import urlsplit

    parts = urlsplit(endpoint)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.putrequest("POST", "/", skip_host=True, skip_accept_encoding=True)
    connection.putheader("Host", parts.netloc)
    for name, value in headers:
        connection.putheader(name, value)
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body)
    answer = connection.getresponse()
    return answer.status, json.loads(answer.read() or b"{}")


def test_a_captured_signature_cannot_be_turned_into_another_call(locked_daemon):
    endpoint = locked_daemon.endpoint
    body = b'{"name": "nothing"}'
    headers = _signed(endpoint, "GetPipeline", body)
    assert _send(endpoint, headers, body)[1]["__type"] == "PipelineNotFoundException"  # the original is fine
    # Another operation put before the signed one: refused, not read two ways.
    status, answer = _send(endpoint, [("X-Amz-Target", "CodePipeline_20150709.StartPipelineExecution"), *headers], body)
    assert (status, answer["__type"]) == (400, "IncompleteSignatureException") and "x-amz-target" in answer["message"]
    # A body hash the client declares instead of the body's own: it must be the body's.
    headers = _signed(endpoint, "ListPipelines", b"{}", extra={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    assert _send(endpoint, headers, b'{"maxResults": 1}')[1]["__type"] == "InvalidSignatureException"
    # A signature made for another service.
    headers = _signed(endpoint, "ListPipelines", b"{}", service="s3")
    status, answer = _send(endpoint, headers, b"{}")
    assert answer["__type"] == "InvalidSignatureException" and "codepipeline" in answer["message"]


def test_a_port_published_beyond_loopback_is_told_apart():
    from types import SimpleNamespace

    from emulator.daemon.container import NetworkJoiner

    def joiner(bindings):
        return NetworkJoiner(None, SimpleNamespace(attrs={"HostConfig": {"PortBindings": bindings}}), 7788)

    assert joiner({"7788/tcp": [{"HostIp": "127.0.0.1", "HostPort": "7788"}]}).published_openly() == []
    assert joiner({"7788/tcp": [{"HostIp": "", "HostPort": "7796"}]}).published_openly() == ["0.0.0.0:7796"]
    assert joiner({"7788/tcp": [{"HostIp": "::1", "HostPort": "1"}, {"HostIp": "192.168.1.5", "HostPort": "2"}]}
                  ).published_openly() == ["192.168.1.5:2"]
    assert joiner(None).published_openly() == []
