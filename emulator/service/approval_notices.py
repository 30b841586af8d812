"""A manual approval's notification: when an approval with a NotificationArn starts waiting,
CodePipeline publishes its approval message (messages.approval_message) to that topic.

Only when the approval opens: a restarted daemon that finds it still waiting does not publish
again (AWS sends one notification per approval). A topic that is not declared, or a subscriber
that fails, never fails the approval: the approval's own log (shown on the dashboard) and the
daemon's log say what happened to each delivery.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from emulator.engine import AwaitApproval
from emulator.topics import TopicNotFound, approval_message, approval_subject

log = logging.getLogger(__name__)


def publish_approval(topics: Any, region: str, command: AwaitApproval,
                     write_log: Callable[[str, str], None]) -> str | None:
    """Publish the approval's message to its NotificationArn, if it has one; the MessageId, or
    None (no NotificationArn, or no such topic). `write_log(action_execution_id, line)` is
    told of the publish and of each delivery, from the delivering threads."""
    configuration = dict(command.configuration)
    arn = configuration.get("NotificationArn")
    if not arn or topics is None:
        return None
    message = approval_message(region, f"{topics.base_url}/ui", command.pipeline, command.stage, command.action,
                               command.token, command.expires_at, configuration)
    subject = approval_subject(command.pipeline, command.action)
    where = command.action_execution_id

    def told(delivery: dict) -> None:
        if delivery["Status"] == "Delivered":
            write_log(where, f"notification {delivery['MessageId']} delivered to {delivery['Protocol']} "
                             f"{delivery['Endpoint']}: {delivery['Detail']}")
        else:
            write_log(where, f"notification {delivery['MessageId']} NOT delivered to {delivery['Protocol']} "
                             f"{delivery['Endpoint']}: {delivery['Detail']}")

    try:
        message_id = topics.publish_watched(arn, message, subject, told)
    except TopicNotFound as missing:
        log.warning("approval %s.%s of %s: notification not published: %s", command.stage, command.action,
                    command.pipeline, missing)
        write_log(where, f"notification NOT published: {missing}")
        return None
    except Exception as error:  # publishing must never fail the approval
        log.exception("approval %s.%s of %s: notification not published", command.stage, command.action,
                      command.pipeline)
        write_log(where, f"notification NOT published: {error}")
        return None
    write_log(where, f"approval notification {message_id} published to {arn}")
    return message_id
