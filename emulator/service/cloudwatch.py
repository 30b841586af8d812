"""The CloudWatch API over the local alarm stand-ins (emulator/alarms.py): one method per
operation, answering AWS's shapes; the wire is api/query.py (the query protocol) or
api/awsjson.py (JSON 1.0, what boto3 and the AWS CLI send today).

The stand-ins are metric alarms that nobody evaluates: they have a state and a description, no
metric, no threshold and no actions, and DescribeAlarms answers them so (empty action lists).
Errors are CloudWatch's codes as its query protocol names them (`ResourceNotFound`,
`InvalidFormat`, `InvalidNextToken`): the JSON wire adds the shape names.
"""

from __future__ import annotations

import json

from emulator.alarms import AlarmNotFound, Alarms

from .errors import ServiceError
from .views import ACCOUNT_ID

OPERATIONS = ("SetAlarmState", "DescribeAlarms")
DEFAULT_PAGE = 50  # DescribeAlarms' MaxRecords when not given (at most 100, as the model says)


class CloudWatch:
    def __init__(self, alarms: Alarms, region: str = "us-east-1") -> None:
        self.alarms = alarms
        self.region = region

    def arn(self, name: str) -> str:
        return f"arn:aws:cloudwatch:{self.region}:{ACCOUNT_ID}:alarm:{name}"

    def set_alarm_state(self, params: dict) -> dict:
        name = params["AlarmName"]
        data = params.get("StateReasonData")
        if data is not None:
            try:
                json.loads(data)
            except ValueError as error:
                raise ServiceError("InvalidFormat", f"StateReasonData is not valid JSON: {error}") from None
        try:
            self.alarms.set(name, params["StateValue"], params.get("StateReason", ""), data)
        except AlarmNotFound:
            raise ServiceError("ResourceNotFound", f"Alarm {name} not found", 404) from None
        return {}

    def metric_alarm(self, name: str) -> dict | None:
        """One alarm as DescribeAlarms' MetricAlarm (None when it is not declared)."""
        state = self.alarms.state(name)
        declared = self.alarms.declaration(name)
        if state is None or declared is None:
            return None
        alarm = {"AlarmName": name, "AlarmArn": self.arn(name), "ActionsEnabled": False,
                 "OKActions": [], "AlarmActions": [], "InsufficientDataActions": [], "Dimensions": [],
                 "StateValue": state.value, "StateReason": state.reason, "StateUpdatedTimestamp": state.updated,
                 "StateTransitionedTimestamp": state.updated}
        if getattr(declared, "description", None) is not None:
            alarm["AlarmDescription"] = declared.description
        if state.reason_data is not None:
            alarm["StateReasonData"] = state.reason_data
        return alarm

    def describe_alarms(self, params: dict) -> dict:
        if params.get("AlarmNames") and params.get("AlarmNamePrefix"):
            raise ServiceError("InvalidParameterCombination", "AlarmNamePrefix and AlarmNames cannot be specified "
                                                              "together")
        names = self.alarms.names()
        if params.get("AlarmNames"):
            wanted = set(params["AlarmNames"])
            names = [n for n in names if n in wanted]
        if params.get("AlarmNamePrefix"):
            names = [n for n in names if n.startswith(params["AlarmNamePrefix"])]
        # Nothing here is a composite alarm, has a parent, or has actions: those filters find none.
        metric_alarms_asked = "MetricAlarm" in (params.get("AlarmTypes") or ["MetricAlarm"])
        if params.get("ChildrenOfAlarmName") or params.get("ParentsOfAlarmName") or params.get("ActionPrefix") \
                or not metric_alarms_asked:
            names = []
        alarms = [a for n in names if (a := self.metric_alarm(n)) is not None]
        if params.get("StateValue"):
            alarms = [a for a in alarms if a["StateValue"] == params["StateValue"]]
        token = params.get("NextToken")
        if token is not None and not token.isdigit():
            raise ServiceError("InvalidNextToken", "The service cannot return the next page: the NextToken is invalid")
        start, size = int(token or 0), params.get("MaxRecords") or DEFAULT_PAGE
        answer: dict = {"MetricAlarms": alarms[start:start + size], "CompositeAlarms": []}
        if len(alarms) > start + size:
            answer["NextToken"] = str(start + size)
        return answer
