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
