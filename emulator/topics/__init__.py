"""The SNS topic stand-ins (`topics:` of the pipelines folder, AWS::SNS::Topic in templates): a
room of its own, like alarms.py, used by the runner (`runner.topics`) for approval
notifications and rule targets."""

from .messages import approval_message, approval_subject, lambda_event, topic_arn
from .service import TopicNotFound, Topics

__all__ = ["TopicNotFound", "Topics", "approval_message", "approval_subject", "lambda_event", "topic_arn"]
