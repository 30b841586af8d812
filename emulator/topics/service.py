"""The local SNS: `publish` hands a message to each subscription of a declared topic (the
`topics:` stand-ins), in the background.

Who publishes: a manual approval with a NotificationArn (service/core.py), and EventBridge rules
with an SNS target. A publish never waits for a subscriber and never fails because of one: each
delivery runs on a thread of its own, its result is logged and kept in a bounded recent list
(`recent()`), and the publisher may listen to the results (`publish_watched`).

Deliveries, as SNS makes them:
  lambda      the function is invoked with SNS's event (Records[0].Sns), as an Event invocation
  http(s)     a POST of the notification JSON with the x-amz-sns-* headers (or the message alone
              with rawMessageDelivery); a 2xx answer is delivered, anything else failed
  email       appended to `<state>/mail/<topic>.mbox` (one mbox per topic: any mail client reads
  email-json  it), with one log line; nothing leaves the machine

Differences from AWS, on purpose: an http(s) subscription is confirmed already (it is declared
in the pipelines folder by whoever owns the endpoint), so no SubscriptionConfirmation is sent
first; a failed delivery is not retried (SNS retries http(s) and Lambda deliveries with backoff).
"""

from __future__ import annotations

import json
import logging
import mailbox
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from pathlib import Path
from typing import Any, Callable, Mapping

from emulator.definitions.topic_models import DELIVERED, function_name_of, topic_name_of

from . import messages

log = logging.getLogger(__name__)

RECENT = 200  # deliveries kept for recent(): enough to see what happened to the last approvals
HTTP_TIMEOUT = 15  # seconds an http(s) subscriber may take to answer (SNS waits 15 s as well)
MAX_MESSAGE_BYTES = 262_144  # SNS's Publish: a message of up to 256 KiB


class TopicNotFound(KeyError):
    """No topic of this name or ARN is declared (SNS's NotFound)."""

    def __str__(self) -> str:
        return f"Topic does not exist: {self.args[0]} is not declared under topics: in the pipelines folder"


class Topics:
    def __init__(self, state_dir: Path, declared: Callable[[], Mapping[str, Any]], lambdas: Any,
                 region: str, clock: Callable[[], float] = time.time) -> None:
        self.mail_dir = Path(state_dir) / "mail"
        self._declared = declared  # name -> definitions' Topic
        self._lambdas = lambdas  # emulator.lambdas.service.Lambdas: find() and call()
        self.region = region
        self._clock = clock
        # Where the daemon is reached from this machine (serve() sets it): the dashboard's links
        # in approval messages, and the SigningCertURL / UnsubscribeURL of notifications.
        self.base_url = "http://127.0.0.1:8080"
        self._recent: deque[dict] = deque(maxlen=RECENT)
        self._lock = threading.Lock()
        self._mail_lock = threading.Lock()  # one writer per mbox at a time
        self._running = 0
        self._idle = threading.Condition(self._lock)

    # -- the interface ----------------------------------------------------------------------

    def publish(self, topic_arn: str, message: str, subject: str | None = None) -> str:
        """Publish to the topic named by `topic_arn` (`arn:aws:sns:REGION:ACCOUNT:NAME`, or the
        name); the MessageId. TopicNotFound for an undeclared topic. Deliveries happen in the
        background: none of them raises here."""
        return self.publish_watched(topic_arn, message, subject)

    def publish_watched(self, topic_arn: str, message: str, subject: str | None = None,
                        on_result: Callable[[dict], None] | None = None) -> str:
        """publish(), and `on_result(delivery)` after each subscriber's delivery (from its thread).
        ValueError, as SNS's InvalidParameter, for a message over 256 KiB or a subject SNS refuses
        (over 100 characters, or a line break in it)."""
        if len(message.encode()) > MAX_MESSAGE_BYTES:
            raise ValueError(f"Invalid parameter: Message too long ({len(message.encode())} bytes, at most "
                             f"{MAX_MESSAGE_BYTES})")
        if subject is not None and (not subject or len(subject) > 100 or "\n" in subject or "\r" in subject):
            raise ValueError("Invalid parameter: Subject must be 1..100 characters on one line")
        name = topic_name_of(topic_arn)
        topic = (self._declared() or {}).get(name) if name else None
        message_id = str(uuid.uuid4())
        if topic is None:
            self._keep({"MessageId": message_id, "TopicArn": topic_arn, "Protocol": None, "Endpoint": None,
                        "Status": "Failed", "Detail": str(TopicNotFound(topic_arn)), "Timestamp": self._clock()})
            raise TopicNotFound(topic_arn)
        arn = messages.topic_arn(self.region, name)
        at = self._clock()
        subscribers = [s for s in topic.subscriptions if s.protocol in DELIVERED]
        log.info("published %s to %s: %d subscriber(s)", message_id, arn, len(subscribers))
        for index, subscription in enumerate(subscribers):
            with self._lock:
                self._running += 1
            threading.Thread(target=self._deliver, name=f"sns-{name}-{index}", daemon=True,
                             args=(name, arn, index, subscription, message_id, message, subject, at, on_result)).start()
        return message_id

    def recent(self, topic: str | None = None) -> list[dict]:
        """The latest deliveries, oldest first (of one topic, by name or ARN, when given)."""
        with self._lock:
            found = list(self._recent)
        if topic is not None:
            name = topic_name_of(topic)
            found = [d for d in found if topic_name_of(d["TopicArn"]) == name]
        return found

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no delivery runs (a stop, or a test); False when some still ran at the timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._running == 0, timeout)

    # -- delivering -------------------------------------------------------------------------

    def _deliver(self, name: str, arn: str, index: int, subscription, message_id: str, message: str,
                 subject: str | None, at: float, on_result) -> None:
        subscription_arn = f"{arn}:{uuid.uuid5(uuid.NAMESPACE_URL, f'{arn}/{index}/{subscription.endpoint}')}"
        delivery = {"MessageId": message_id, "TopicArn": arn, "Protocol": subscription.protocol,
                    "Endpoint": subscription.endpoint, "SubscriptionArn": subscription_arn}
        try:
            if subscription.protocol == "lambda":
                detail = self._to_lambda(arn, subscription, message_id, message, subject, at, subscription_arn)
            elif subscription.protocol in ("http", "https"):
                detail = self._to_http(arn, subscription, message_id, message, subject, at, subscription_arn)
            else:
                detail = self._to_mail(name, arn, subscription, message_id, message, subject, at, subscription_arn)
            delivery.update(Status="Delivered", Detail=detail)
            log.info("SNS %s: delivered %s to %s %s (%s)", name, message_id, subscription.protocol,
                     subscription.endpoint, detail)
        except Exception as error:  # a delivery never raises into anyone: it is a result
            delivery.update(Status="Failed", Detail=str(error) or type(error).__name__)
            log.warning("SNS %s: delivery of %s to %s %s failed: %s", name, message_id, subscription.protocol,
                        subscription.endpoint, delivery["Detail"])
        delivery["Timestamp"] = self._clock()
        self._keep(delivery)
        try:
            if on_result is not None:
                on_result(delivery)
        except Exception:
            log.exception("a delivery listener failed")
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def _keep(self, delivery: dict) -> None:
        with self._lock:
            self._recent.append(delivery)

    def _to_lambda(self, arn, subscription, message_id, message, subject, at, subscription_arn) -> str:
        from emulator.lambdas.service import FunctionNotFound

        name = function_name_of(subscription.endpoint)
        try:
            fn = self._lambdas.find(name)
        except FunctionNotFound:
            raise RuntimeError(f"function {name} is not declared under functions: in the pipelines folder") from None
        event = messages.lambda_event(arn, message_id, message, subject, at, subscription_arn, self.base_url)
        answer = self._lambdas.call(fn, event)
        if answer.function_error:
            error = json.loads(answer.payload)
            raise RuntimeError(f"{fn.name} failed: {error.get('errorType')}: {error.get('errorMessage')}")
        return f"{fn.name} returned {answer.payload.decode(errors='replace')[:200]}"

    def _to_http(self, arn, subscription, message_id, message, subject, at, subscription_arn) -> str:
        headers, body = messages.http_request(arn, message_id, message, subject, at, subscription_arn, self.base_url,
                                              raw=subscription.rawMessageDelivery)
        request = urllib.request.Request(subscription.endpoint, data=body, headers=headers, method="POST")
        try:
            # urllib (the standard library) is enough for one POST; no redirects are followed
            # by SNS either, which urllib does for a POST only on 307/308 (then re-posting).
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as answer:
                return f"HTTP {answer.status}"
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"{subscription.endpoint} answered HTTP {error.code}") from None
        except (urllib.error.URLError, OSError) as error:
            raise RuntimeError(f"{subscription.endpoint} could not be reached: "
                               f"{getattr(error, 'reason', None) or error}") from None

    def _to_mail(self, name, arn, subscription, message_id, message, subject, at, subscription_arn) -> str:
        mail = messages.email(name, arn, message_id, message, subject, at, subscription.endpoint, subscription_arn,
                              self.base_url, as_json=subscription.protocol == "email-json")
        path = self.mail_dir / f"{name}.mbox"
        with self._mail_lock:
            self.mail_dir.mkdir(parents=True, exist_ok=True)
            box = mailbox.mbox(str(path))  # the standard library's mbox: locks and escapes "From " lines
            try:
                box.lock()
                box.add(mail)
                box.flush()
            finally:
                box.unlock()
                box.close()
        return f"written to {path}"
