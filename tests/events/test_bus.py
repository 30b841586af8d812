"""The bus: rules match, each target gets the event (or its input), failures are recorded with
their reason and never reach the caller, a slow target holds up nobody."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from emulator.events import EventBus, Rule, Target
from emulator.events.targets import DeliveryFailed, HttpSender, TopicSender, resolve_target

EVENT = {"version": "0", "id": "e-1", "detail-type": "CodePipeline Pipeline Execution State Change",
         "source": "aws.codepipeline", "account": "123456789012", "time": "2026-11-30T10:00:00Z",
         "region": "us-east-1", "resources": ["arn:aws:codepipeline:us-east-1:123456789012:web"],
         "detail": {"pipeline": "web", "state": "SUCCEEDED", "execution-id": "x-1"}}
SUCCEEDED = {"source": ["aws.codepipeline"], "detail": {"state": ["SUCCEEDED"]}}


class Recorder:
    def __init__(self, delay=0.0, fail=None):
        self.got, self.delay, self.fail = [], delay, fail

    def send(self, name, payload, rule):
        time.sleep(self.delay)
        if self.fail:
            raise DeliveryFailed(self.fail)
        self.got.append((name, payload, rule))
        return f"sent to {name}"


@pytest.fixture
def bus():
    made = EventBus({})
    yield made
    made.close()


def test_matching_rules_deliver_the_event_or_its_input(bus):
    fast = Recorder()
    bus.senders.update(function=fast)
    bus.set_rules([
        Rule("whole", SUCCEEDED, (Target("function", "a"),)),
        Rule("part", SUCCEEDED, (Target("function", "b", input_path="$.detail.execution-id"),)),
        Rule("constant", SUCCEEDED, (Target("function", "c", input='{"fixed": true}'),)),
        Rule("off", SUCCEEDED, (Target("function", "d"),), enabled=False),
        Rule("failed-only", {"detail": {"state": ["FAILED"]}}, (Target("function", "e"),)),
    ])
    bus.publish([EVENT])
    bus.drain()
    assert sorted(fast.got, key=lambda g: g[0]) == [("a", EVENT, "whole"), ("b", "x-1", "part"),
                                                    ("c", '{"fixed": true}', "constant")]
    assert bus.recent_events() == [EVENT]
    assert {d["rule"]: d["status"] for d in bus.deliveries()} == {"whole": "ok", "part": "ok", "constant": "ok"}


def test_failures_are_recorded_with_their_reason_and_a_kind_not_built_is_named(bus):
    bus.senders.update(function=Recorder(fail="function pager failed: KeyError"))
    bus.set_rules([Rule("r", SUCCEEDED, (Target("function", "pager"), Target("sqs", "arn:aws:sqs:us-east-1:1:q")))])
    bus.publish([EVENT])  # never raises, whatever the targets do
    bus.drain()
    reasons = {d["target"]: (d["status"], d["reason"]) for d in bus.deliveries()}
    assert reasons == {"function:pager": ("failed", "function pager failed: KeyError"),
                       "sqs:arn:aws:sqs:us-east-1:1:q": ("failed", "sqs targets are not emulated by pipemu")}
    assert bus.stats.failed == 2 and bus.stats.delivered == 0


def test_a_slow_target_holds_up_neither_the_publisher_nor_the_other_targets(bus):
    slow, fast = Recorder(delay=2.0), Recorder()
    bus.senders.update(slow=slow, fast=fast)
    bus.set_rules([Rule("r", SUCCEEDED, (Target("slow", "s"), Target("fast", "f")))])
    started = time.monotonic()
    bus.publish([EVENT])
    # Not held for the slow target's 2 s; 1 s of margin (was 0.2) for a thread that waits for a
    # CPU while parallel test workers share the machine.
    assert time.monotonic() - started < 1.0
    deadline = time.monotonic() + 1.5
    while not fast.got and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fast.got and not slow.got
    bus.drain()
    assert slow.got


def test_the_http_sender_posts_json_and_says_why_it_failed():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(500 if self.path == "/broken" else 200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        assert HttpSender().send(url + "/ok", EVENT, "r") == f"POST {url}/ok: 200"
        with pytest.raises(DeliveryFailed, match="HTTP 500"):
            HttpSender().send(url + "/broken", EVENT, "r")
        assert received == [EVENT, EVENT]
    finally:
        server.shutdown()


def test_the_topic_sender_uses_topics_when_there_are_some():
    published = []

    class Topics:
        def publish(self, topic_arn, message, subject=None):
            published.append((topic_arn, json.loads(message)))
            return "m-1"

    with pytest.raises(DeliveryFailed, match="SNS topic arn:aws:sns:us-east-1:123456789012:news"):
        TopicSender(lambda: None, "us-east-1").send("news", EVENT, "r")
    assert TopicSender(lambda: Topics(), "us-east-1").send("news", EVENT, "r").endswith(": m-1")
    assert published == [("arn:aws:sns:us-east-1:123456789012:news", EVENT)]


@pytest.mark.parametrize("given, expected", [
    ({"arn": "arn:aws:lambda:us-east-1:123456789012:function:notify"}, ("function", "notify")),
    ({"arn": "arn:aws:lambda:us-east-1:123456789012:function:notify:live"}, ("function", "notify")),
    ({"arn": "arn:aws:codepipeline:eu-west-1:123456789012:web-release"}, ("pipeline", "web-release")),
    ({"arn": "arn:aws:sns:us-east-1:123456789012:alerts"}, ("topic", "arn:aws:sns:us-east-1:123456789012:alerts")),
    ({"arn": "arn:aws:sqs:us-east-1:123456789012:q"}, ("sqs", "arn:aws:sqs:us-east-1:123456789012:q")),
    ({"arn": "arn:aws:events:us-east-1:123456789012:api-destination/hook/1"},
     ("api-destination", "arn:aws:events:us-east-1:123456789012:api-destination/hook/1")),
    ({"function": "arn:aws:lambda:us-east-1:123456789012:function:f"}, ("function", "f")),
    ({"url": "http://localhost:9/x"}, ("url", "http://localhost:9/x")),
])
def test_targets_are_read_from_their_arn(given, expected):
    assert resolve_target(**given) == expected


def test_a_bus_that_raises_fails_no_change(tmp_path):
    from emulator.engine import PipelineDeclared, plan_from_declaration
    from emulator.service import CodePipeline
    from emulator.store import Store
    from tests.engine.harness import article_declaration

    class Broken:
        def publish(self, events):
            raise RuntimeError("down")

    service = CodePipeline(Store(tmp_path / "state"))
    service.events = Broken()
    service.apply(PipelineDeclared("svc-pipeline", 1, plan_from_declaration(article_declaration())))
    started = service.start_pipeline_execution({"name": "svc-pipeline"})["pipelineExecutionId"]
    assert service.engine.pipelines["svc-pipeline"].executions[started].status == "InProgress"
