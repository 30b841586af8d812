"""The `topics:` stand-ins: SNS topics whose subscribers are local (functions of the pipelines
folder, HTTP endpoints, a mail file), and the warnings for what of SNS is accepted but not
carried out here.

Kept apart from models.py, which is long already; it depends on nothing of the definitions, so
models.py can import it (`DefinitionFile.topics`).

    topics:
      release-approvals:                     # TopicName; its ARN is arn:aws:sns:REGION:123456789012:NAME
        subscriptions:
          - {protocol: lambda, endpoint: approve-bot}          # a function's name or ARN
          - {protocol: http, endpoint: "http://127.0.0.1:9000/hook"}
          - {protocol: email, endpoint: releases@example.com}  # written to <state>/mail/
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict
from pydantic_core import PydanticCustomError

Loc = tuple[str | int, ...]

# What SNS delivers to and pipemu carries out; the other protocols SNS has are accepted (AWS
# takes them) and each subscription to one is a warning that names it.
DELIVERED = ("lambda", "http", "https", "email", "email-json")
NOT_DELIVERED = ("sqs", "sms", "application", "firehose")

_TOPIC_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}(\.fifo)?")


def _topic_name(value: str) -> str:
    # CreateTopic: up to 256 letters, digits, hyphens, underscores; a FIFO topic ends in .fifo.
    if not valid_topic_name(value):
        raise PydanticCustomError("topic_name", "must be 1..256 letters, digits, hyphens or underscores "
                                                "(a FIFO topic's ending in .fifo)")
    return value


TopicName = Annotated[str, Strict(), AfterValidator(_topic_name)]


def valid_topic_name(name: str) -> bool:
    return bool(_TOPIC_NAME.fullmatch(name)) and len(name) <= 256


class _Model(BaseModel):
    # As models.AwsModel: unknown keys are errors, a loaded definition never changes.
    model_config = ConfigDict(extra="forbid", frozen=True)


class TopicSubscription(_Model):
    """AWS::SNS::Subscription's Protocol and Endpoint (Subscribe's), and the attributes SNS has."""

    protocol: Literal["lambda", "http", "https", "email", "email-json", "sqs", "sms", "application", "firehose"]
    endpoint: Annotated[str, Field(min_length=1)]
    rawMessageDelivery: bool = False  # http(s): the message alone as the body, as SNS's attribute
    filterPolicy: Any = None
    filterPolicyScope: Literal["MessageAttributes", "MessageBody"] | None = None
    deliveryPolicy: Any = None
    redrivePolicy: Any = None


class Topic(_Model):
    """An SNS topic: messages published to it (an approval's NotificationArn, a rule's target)
    go to each subscription."""

    subscriptions: list[TopicSubscription] = []
    displayName: str | None = None
    kmsMasterKeyId: str | None = None
    fifoTopic: bool = False


def topic_warnings(topics: dict[str, Topic]) -> list[tuple[Loc, str]]:
    """(path, message) of what a `topics:` section asks for that is not carried out here."""
    found: list[tuple[Loc, str]] = []
    for name, topic in topics.items():
        at: Loc = ("topics", name)
        if topic.kmsMasterKeyId is not None:
            found.append((at + ("kmsMasterKeyId",), "messages are not encrypted locally; ignored"))
        if topic.fifoTopic:
            found.append((at + ("fifoTopic",), "no ordering or deduplication locally: delivered as a standard topic"))
        for i, subscription in enumerate(topic.subscriptions):
            where = at + ("subscriptions", i)
            if subscription.protocol in NOT_DELIVERED:
                found.append((where + ("protocol",), f"{subscription.protocol} subscriptions are not delivered locally "
                                                     f"(pipemu delivers {', '.join(DELIVERED)}); ignored"))
            for key in ("filterPolicy", "filterPolicyScope", "deliveryPolicy", "redrivePolicy"):
                if getattr(subscription, key) is not None:
                    found.append((where + (key,), f"{key} is not carried out locally: every message is delivered "
                                                  "once, without retries; ignored"))
            if subscription.rawMessageDelivery and subscription.protocol not in ("http", "https"):
                found.append((where + ("rawMessageDelivery",), "only http(s) subscriptions deliver raw messages "
                                                               "locally; ignored"))
    return found


def topic_name_of(arn_or_name: str) -> str | None:
    """The topic's name in `arn:aws:sns:REGION:ACCOUNT:NAME` (any partition, region or account:
    everything is local), or the text itself when it is a name; None for another ARN."""
    if arn_or_name.startswith("arn:"):
        parts = arn_or_name.split(":")
        if len(parts) != 6 or parts[2] != "sns":
            return None
        return parts[5]
    return arn_or_name


def function_name_of(endpoint: str) -> str:
    """A lambda subscription's endpoint (a function ARN, maybe with a qualifier, or a name) -> its name."""
    if endpoint.startswith("arn:"):
        parts = endpoint.split(":")
        return parts[6] if len(parts) >= 7 else endpoint
    return endpoint
