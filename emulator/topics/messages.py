"""What SNS hands each kind of subscriber, and CodePipeline's approval message: pure functions,
so that their shapes are tested without a daemon.

Shapes follow AWS's documentation: the Lambda event (Records[0].EventSource "aws:sns", Sns{...}),
the HTTP/S POST (x-amz-sns-* headers, the notification JSON as a text/plain body), and the
CodePipeline user guide's "JSON data format for manual approval notifications".

Differences from AWS, on purpose: there is no signing key, so `Signature` is empty and
`SigningCertUrl` / `UnsubscribeUrl` point at this daemon (a subscriber that verifies SNS
signatures must skip that locally).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import quote

ACCOUNT = "123456789012"


def topic_arn(region: str, name: str) -> str:
    return f"arn:aws:sns:{region}:{ACCOUNT}:{name}"


def timestamp(at: float) -> str:
    """SNS's Timestamp: ISO 8601 in UTC with milliseconds (2026-11-30T19:00:00.000Z)."""
    moment = datetime.fromtimestamp(at, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def notification(topic: str, message_id: str, message: str, subject: str | None, at: float,
                 subscription: str, base_url: str, *, lambda_style: bool) -> dict:
    """The notification as SNS writes it. Lambda's record spells the URLs `SigningCertUrl` /
    `UnsubscribeUrl` and always carries Subject (null when none) and MessageAttributes; the
    HTTP/S body spells them `SigningCertURL` / `UnsubscribeURL` and leaves Subject out when none."""
    body: dict = {"Type": "Notification", "MessageId": message_id, "TopicArn": topic}
    if subject is not None or lambda_style:
        body["Subject"] = subject
    body.update({"Message": message, "Timestamp": timestamp(at), "SignatureVersion": "1",
                 # No key signs locally: see the module's docstring.
                 "Signature": ""})
    cert = f"{base_url}/pipemu/sns/SimpleNotificationService-local.pem"
    unsubscribe = f"{base_url}/?Action=Unsubscribe&SubscriptionArn={quote(subscription, safe=':')}"
    if lambda_style:
        body.update({"SigningCertUrl": cert, "UnsubscribeUrl": unsubscribe, "MessageAttributes": {}})
    else:
        body.update({"SigningCertURL": cert, "UnsubscribeURL": unsubscribe})
    return body


def lambda_event(topic: str, message_id: str, message: str, subject: str | None, at: float,
                 subscription: str, base_url: str) -> dict:
    """The event a function subscribed to the topic is invoked with (one record per message)."""
    return {"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription,
        "Sns": notification(topic, message_id, message, subject, at, subscription, base_url, lambda_style=True),
    }]}


def http_request(topic: str, message_id: str, message: str, subject: str | None, at: float,
                 subscription: str, base_url: str, raw: bool = False) -> tuple[dict[str, str], bytes]:
    """(headers, body) of the POST to an http(s) subscriber. With raw message delivery the body
    is the message alone (SNS's RawMessageDelivery attribute)."""
    headers = {
        "x-amz-sns-message-type": "Notification",
        "x-amz-sns-message-id": message_id,
        "x-amz-sns-topic-arn": topic,
        "x-amz-sns-subscription-arn": subscription,
        "Content-Type": "text/plain; charset=UTF-8",  # SNS's default, whatever the body
        "User-Agent": "Amazon Simple Notification Service Agent",
    }
    if raw:
        headers["x-amz-sns-rawdelivery"] = "true"
        return headers, message.encode()
    body = notification(topic, message_id, message, subject, at, subscription, base_url, lambda_style=False)
    return headers, json.dumps(body, indent=2).encode()


def email(topic_name: str, topic: str, message_id: str, message: str, subject: str | None, at: float,
          to: str, subscription: str, base_url: str, as_json: bool = False) -> EmailMessage:
    """The mail SNS would send: `email` carries the message as text (with SNS's unsubscribe
    footer), `email-json` the notification JSON. The sender is SNS's no-reply address."""
    mail = EmailMessage()
    mail["From"] = "AWS Notifications <no-reply@sns.amazonaws.com>"
    mail["To"] = to
    mail["Subject"] = subject if subject is not None else "AWS Notification Message"
    mail["Date"] = formatdate(at, usegmt=True)
    mail["Message-ID"] = f"<{message_id}@sns.local>"
    mail["X-Amz-Sns-Topic-Arn"] = topic
    if as_json:
        body = notification(topic, message_id, message, subject, at, subscription, base_url, lambda_style=False)
        mail.set_content(json.dumps(body, indent=2))
    else:
        mail.set_content(f"{message}\n\n--\nIf you wish to stop receiving notifications from this topic "
                         f"({topic_name}), remove this subscription from the pipelines folder.\n")
    return mail


def approval_subject(pipeline: str, action: str) -> str:
    """AWS's subject for an approval notification (SNS caps a subject at 100 characters)."""
    return f"APPROVAL NEEDED: AWS CodePipeline {pipeline} for action {action}"[:100]


def approval_review_link(dashboard: str, pipeline: str, stage: str, action: str, token: str) -> str:
    """Where a reviewer approves: the dashboard opened at this approval, in the same shape as
    AWS's console link (#/view/PIPELINE/STAGE/ACTION/approve/TOKEN, here #/pipeline/...)."""
    parts = "/".join(quote(p, safe="") for p in (pipeline, stage, action))
    return f"{dashboard}#/pipeline/{parts}/approve/{quote(token, safe='')}"


def approval_message(region: str, dashboard: str, pipeline: str, stage: str, action: str, token: str,
                     expires_at: float, configuration: dict[str, str]) -> str:
    """CodePipeline's approval notification JSON (user guide: "JSON data format for manual
    approval notifications"). `expires` is written as AWS writes it, to the minute in UTC;
    externalEntityLink and customData are present only when the action declares them."""
    approval: dict = {
        "pipelineName": pipeline,
        "stageName": stage,
        "actionName": action,
        "token": token,
        "expires": datetime.fromtimestamp(expires_at, timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
    }
    if configuration.get("ExternalEntityLink"):
        approval["externalEntityLink"] = configuration["ExternalEntityLink"]
    approval["approvalReviewLink"] = approval_review_link(dashboard, pipeline, stage, action, token)
    if configuration.get("CustomData"):
        approval["customData"] = configuration["CustomData"]
    return json.dumps({"region": region, "consoleLink": f"{dashboard}#/pipeline/{quote(pipeline, safe='')}",
                       "approval": approval})
