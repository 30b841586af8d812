"""Where a matched event goes: one small sender per target kind (LocalStack's shape).

`resolve_target` reads a target as written (an ARN, or a local name); `sender_for(kind)` gives
its sender, and a kind that has none raises `TargetNotSupported` naming it. A sender's `send`
returns a short note on success and raises `DeliveryFailed` with the reason otherwise; it runs
on the delivery threads, never under the engine's lock.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any, Callable

TARGET_FIELDS = ("arn", "function", "pipeline", "topic", "url")
HTTP_TIMEOUT_SECONDS = 5.0  # a slow endpoint costs one delivery thread this long, nothing more

_LAMBDA = re.compile(r"arn:aws[\w-]*:lambda:[\w-]+:\d{12}:function:([\w-]+)(:[\w$-]+)?")
_PIPELINE = re.compile(r"arn:aws[\w-]*:codepipeline:[\w-]+:\d{12}:([A-Za-z0-9.@_-]+)")
_SNS = re.compile(r"arn:aws[\w-]*:sns:[\w-]+:\d{12}:[\w-]+")


class TargetNotSupported(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(f"{kind} targets are not emulated by pipemu")
        self.kind = kind


class DeliveryFailed(Exception):
    """The target did not take the event; the message says why."""


def resolve_target(arn: str | None = None, function: str | None = None, pipeline: str | None = None,
                   topic: str | None = None, url: str | None = None) -> tuple[str, str]:
    """(kind, what it names): ("function", name), ("pipeline", name), ("topic", ARN or name),
    ("url", URL); an ARN of another service gives (that service, the ARN)."""
    if function is not None:
        match = _LAMBDA.fullmatch(function)
        return "function", match.group(1) if match else function
    if pipeline is not None:
        return "pipeline", pipeline
    if topic is not None:
        return "topic", topic
    if url is not None:
        return "url", url
    arn = arn or ""
    for kind, pattern in (("function", _LAMBDA), ("pipeline", _PIPELINE)):
        match = pattern.fullmatch(arn)
        if match:
            return kind, match.group(1)
    if _SNS.fullmatch(arn):
        return "topic", arn
    if re.fullmatch(r"https?://\S+", arn):
        return "url", arn
    parts = arn.split(":")
    if len(parts) > 5 and parts[2] == "events" and parts[5].startswith("api-destination/"):
        return "api-destination", arn  # its endpoint is the ApiDestination's: a template's import finds it
    return (parts[2] if len(parts) > 2 and parts[2] else "unknown"), arn


class FunctionSender:
    """Invokes a Lambda function stand-in with the event (EventBridge invokes asynchronously; here
    the delivery thread waits for the answer so that a function error shows as a failed delivery)."""

    def __init__(self, lambdas: Callable[[], Any]) -> None:
        self._lambdas = lambdas

    def send(self, name: str, payload: Any, rule: str) -> str:
        lambdas = self._lambdas()
        if lambdas is None:
            raise DeliveryFailed(f"function {name}: this daemon runs no Lambda functions")
        try:
            fn = lambdas.find(name)
        except Exception as error:  # FunctionNotFound, or a folder that cannot be read
            raise DeliveryFailed(f"function {name} not found: {error}") from None
        answer = lambdas.call(fn, payload)
        if answer.function_error:
            raise DeliveryFailed(f"function {name} failed: {answer.payload.decode(errors='replace')[:300]}")
        return f"function {name} invoked"


class PipelineSender:
    """StartPipelineExecution, recorded as AWS records an EventBridge start: trigger type
    CloudWatchEvent, the rule's ARN as its detail."""

    def __init__(self, start: Callable[[str, str, str, dict], str | None], region: str) -> None:
        self._start, self._region = start, region

    def send(self, name: str, payload: Any, rule: str) -> str:
        rule_arn = f"arn:aws:events:{self._region}:123456789012:rule/{rule}"
        try:
            execution_id = self._start(name, "CloudWatchEvent", rule_arn, {})
        except Exception as error:  # a ServiceError (e.g. the store refuses writes)
            raise DeliveryFailed(f"pipeline {name}: {getattr(error, 'message', error)}") from None
        if execution_id is None:
            raise DeliveryFailed(f"pipeline {name} not found")
        return f"pipeline {name} started: {execution_id}"


class TopicSender:
    """Publishes the event to an SNS topic stand-in (`runner.topics`, when this daemon has them)."""

    def __init__(self, topics: Callable[[], Any], region: str) -> None:
        self._topics, self._region = topics, region

    def send(self, topic: str, payload: Any, rule: str) -> str:
        arn = topic if topic.startswith("arn:") else f"arn:aws:sns:{self._region}:123456789012:{topic}"
        topics = self._topics()
        if topics is None:
            raise DeliveryFailed(f"SNS topic {arn}: this daemon has no SNS topic stand-ins")
        message = payload if isinstance(payload, str) else json.dumps(payload)
        try:
            message_id = topics.publish(arn, message)
        except Exception as error:
            raise DeliveryFailed(f"SNS topic {arn}: {error}") from None
        return f"published to {arn}: {message_id}"


class HttpSender:
    """POSTs the event as JSON to an HTTP endpoint (an API destination's), with a short timeout."""

    def send(self, url: str, payload: Any, rule: str) -> str:
        body = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json", "User-Agent": "pipemu-events"})
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
                return f"POST {url}: {response.status}"
        except urllib.error.HTTPError as error:
            raise DeliveryFailed(f"POST {url}: HTTP {error.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise DeliveryFailed(f"POST {url}: {getattr(error, 'reason', error)}") from None


def sender_for(senders: dict[str, Any], kind: str):
    sender = senders.get(kind)
    if sender is None:
        raise TargetNotSupported(kind)
    return sender
