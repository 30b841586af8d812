"""The local SNS (emulator/topics): the shapes subscribers receive, checked against AWS's
documented examples, and Topics.publish delivering to each kind of subscriber in the background."""

from __future__ import annotations

import base64
import http.server
import json
import mailbox
import threading
import time
from types import SimpleNamespace

import pytest

from emulator.definitions.topic_models import Topic
from emulator.topics import TopicNotFound, Topics
from emulator.topics import messages

ARN = "arn:aws:sns:us-east-2:123456789012:MyFirstPipeline-us-east-2-approval"
SUBSCRIPTION = ARN + ":c9135db0-26c4-47ec-8998-413945fb5a96"


def test_lambda_event_has_the_sns_record_shape():
    event = messages.lambda_event(ARN, "95df01b4-ee98-5cb9-9903-4c221d41eb5e", "Hello from SNS!", "TestInvoke",
                                  1_700_000_000.123, SUBSCRIPTION, "http://127.0.0.1:8080")
    [record] = event["Records"]
    assert record["EventSource"] == "aws:sns" and record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == SUBSCRIPTION
    sns = record["Sns"]
    assert sns["Type"] == "Notification" and sns["TopicArn"] == ARN and sns["Subject"] == "TestInvoke"
    assert sns["Message"] == "Hello from SNS!" and sns["MessageAttributes"] == {}
    assert sns["Timestamp"] == "2023-11-14T22:13:20.123Z"
    assert sns["SignatureVersion"] == "1"
    # Lambda's record spells these Url, the HTTP body URL (both as AWS's samples).
    assert {"SigningCertUrl", "UnsubscribeUrl"} <= set(sns) and "UnsubscribeURL" not in sns


def test_lambda_event_without_subject_says_null():
    event = messages.lambda_event(ARN, "id", "m", None, 0, SUBSCRIPTION, "http://x")
    assert event["Records"][0]["Sns"]["Subject"] is None


def test_http_request_headers_and_body():
    headers, body = messages.http_request(ARN, "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", "hello", None, 0,
                                          SUBSCRIPTION, "http://127.0.0.1:9")
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-message-id"] == "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"
    assert headers["x-amz-sns-topic-arn"] == ARN and headers["x-amz-sns-subscription-arn"] == SUBSCRIPTION
    assert headers["Content-Type"] == "text/plain; charset=UTF-8"
    document = json.loads(body)
    assert "Subject" not in document  # left out when the publisher gave none, as SNS documents
    assert document["Type"] == "Notification" and document["Message"] == "hello"
    assert {"SigningCertURL", "UnsubscribeURL", "Signature", "Timestamp", "MessageId"} <= set(document)
    raw_headers, raw = messages.http_request(ARN, "id", "just this", "s", 0, SUBSCRIPTION, "http://x", raw=True)
    assert raw == b"just this" and raw_headers["x-amz-sns-rawdelivery"] == "true"


def test_approval_message_is_aws_documented_json():
    text = messages.approval_message(
        "us-east-2", "http://127.0.0.1:8080/ui", "MyFirstPipeline", "MyApprovalStage", "MyApprovalAction",
        "1a2b3c4d-573f-4ea7-a67E-XAMPLETOKEN", 1467922920.0,
        {"NotificationArn": ARN, "ExternalEntityLink": "http://example.com",
         "CustomData": "Review the latest changes and approve or reject within seven days."})
    message = json.loads(text)
    assert message == {
        "region": "us-east-2",
        "consoleLink": "http://127.0.0.1:8080/ui#/pipeline/MyFirstPipeline",
        "approval": {
            "pipelineName": "MyFirstPipeline", "stageName": "MyApprovalStage", "actionName": "MyApprovalAction",
            "token": "1a2b3c4d-573f-4ea7-a67E-XAMPLETOKEN", "expires": "2016-07-07T20:22Z",
            "externalEntityLink": "http://example.com",
            "approvalReviewLink": "http://127.0.0.1:8080/ui#/pipeline/MyFirstPipeline/MyApprovalStage/"
                                  "MyApprovalAction/approve/1a2b3c4d-573f-4ea7-a67E-XAMPLETOKEN",
            "customData": "Review the latest changes and approve or reject within seven days.",
        },
    }
    assert messages.approval_subject("MyFirstPipeline", "MyApprovalAction") == \
        "APPROVAL NEEDED: AWS CodePipeline MyFirstPipeline for action MyApprovalAction"


def test_review_link_escapes_names():
    link = messages.approval_review_link("http://h/ui", "p@1", "Gate", "ok.action", "t/1")
    assert link == "http://h/ui#/pipeline/p%401/Gate/ok.action/approve/t%2F1"


class FakeLambdas:
    """Stands for emulator.lambdas.service.Lambdas: find() and call() as it answers them."""

    def __init__(self, fail: bool = False):
        self.events: list[tuple[str, dict]] = []
        self.fail = fail

    def find(self, name):
        from emulator.lambdas.service import FunctionNotFound

        if name != "approve-bot":
            raise FunctionNotFound(name)
        return SimpleNamespace(name=name)

    def call(self, fn, event):
        self.events.append((fn.name, event))
        if self.fail:
            return SimpleNamespace(payload=json.dumps({"errorType": "KeyError", "errorMessage": "'token'"}).encode(),
                                   function_error="Unhandled")
        return SimpleNamespace(payload=b'"ok"', function_error=None)


class Receiver(http.server.BaseHTTPRequestHandler):
    received: list = []
    status = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, self.headers, body))  # names without case, as HTTP
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.received, Receiver.status = [], 200
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def topics_with(tmp_path, declared: dict, lambdas=None) -> Topics:
    topics = Topics(tmp_path, declared=lambda: declared, lambdas=lambdas or FakeLambdas(), region="us-east-2")
    topics.base_url = "http://127.0.0.1:4000"
    return topics


def test_publish_delivers_to_every_subscriber(tmp_path, receiver):
    lambdas = FakeLambdas()
    topic = Topic.model_validate({"subscriptions": [
        {"protocol": "lambda", "endpoint": "arn:aws:lambda:us-east-2:123456789012:function:approve-bot"},
        {"protocol": "http", "endpoint": receiver + "/hook"},
        {"protocol": "email", "endpoint": "releases@example.com"},
        {"protocol": "email-json", "endpoint": "audit@example.com"},
        {"protocol": "sqs", "endpoint": "arn:aws:sqs:us-east-2:123456789012:q"},  # warned, not delivered
    ]})
    topics = topics_with(tmp_path, {"approvals": topic}, lambdas)
    message_id = topics.publish("arn:aws:sns:us-east-2:123456789012:approvals", "hello there", "Greetings")
    assert topics.wait_idle(10)
    deliveries = topics.recent("approvals")
    assert sorted(d["Protocol"] for d in deliveries) == ["email", "email-json", "http", "lambda"]
    assert all(d["Status"] == "Delivered" and d["MessageId"] == message_id for d in deliveries), deliveries
    [(name, event)] = lambdas.events
    assert name == "approve-bot"
    assert event["Records"][0]["Sns"]["MessageId"] == message_id
    assert event["Records"][0]["Sns"]["TopicArn"] == "arn:aws:sns:us-east-2:123456789012:approvals"
    [(path, headers, body)] = Receiver.received
    assert path == "/hook" and headers["x-amz-sns-message-id"] == message_id
    assert json.loads(body)["Subject"] == "Greetings"
    box = mailbox.mbox(str(tmp_path / "mail" / "approvals.mbox"))
    mails = {m["To"]: m for m in box}
    assert mails["releases@example.com"]["Subject"] == "Greetings"
    assert "hello there" in mails["releases@example.com"].get_payload(decode=True).decode()
    assert json.loads(mails["audit@example.com"].get_payload(decode=True))["MessageId"] == message_id


def test_publish_by_name_and_undeclared_topics(tmp_path):
    topics = topics_with(tmp_path, {"quiet": Topic()})
    assert topics.publish("quiet", "nobody listens")  # a MessageId even without subscribers
    with pytest.raises(TopicNotFound, match="nope"):
        topics.publish("arn:aws:sns:us-east-1:123456789012:nope", "lost")
    assert topics.recent()[-1]["Status"] == "Failed"
    with pytest.raises(TopicNotFound):
        topics.publish("arn:aws:sqs:us-east-1:123456789012:quiet", "not a topic ARN")


def test_failed_deliveries_are_results_not_exceptions(tmp_path, receiver):
    Receiver.status = 500
    topic = Topic.model_validate({"subscriptions": [
        {"protocol": "http", "endpoint": receiver},
        {"protocol": "https", "endpoint": "https://127.0.0.1:1/nothing-listens"},
        {"protocol": "lambda", "endpoint": "not-declared"},
        {"protocol": "lambda", "endpoint": "approve-bot"},
    ]})
    topics = topics_with(tmp_path, {"t": topic}, FakeLambdas(fail=True))
    seen: list[dict] = []
    topics.publish_watched("t", "x", None, seen.append)
    assert topics.wait_idle(20)
    assert len(seen) == 4 and all(d["Status"] == "Failed" for d in seen), seen
    details = " | ".join(d["Detail"] for d in seen)
    assert "HTTP 500" in details and "could not be reached" in details
    assert "not-declared is not declared" in details and "KeyError" in details


def test_publish_refuses_what_sns_refuses(tmp_path):
    topics = topics_with(tmp_path, {"t": Topic()})
    with pytest.raises(ValueError, match="Message too long"):
        topics.publish("t", "x" * (256 * 1024 + 1))
    with pytest.raises(ValueError, match="Subject"):
        topics.publish("t", "m", "two\nlines")
    with pytest.raises(ValueError, match="Subject"):
        topics.publish("t", "m", "s" * 101)
    assert topics.publish("t", "x" * (256 * 1024), "s" * 100)
