"""EventBridge rules on events (`eventRules:` of a definition file): an event pattern and the
targets that matched events go to. Schedules (`schedules:`) are the other kind of rule.

    eventRules:
      - name: notify-on-release
        eventPattern:
          source: [aws.codepipeline]
          detail-type: [CodePipeline Pipeline Execution State Change]
          detail: {pipeline: [release], state: [SUCCEEDED]}
        targets:
          - function: record-release           # or arn: arn:aws:lambda:...:function:record-release
          - pipeline: smoke-tests              # StartPipelineExecution
          - topic: arn:aws:sns:us-east-1:123456789012:releases
          - url: http://localhost:9000/hook    # an HTTP endpoint (API destination)
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from emulator.events.patterns import InvalidEventPattern, check
from emulator.events.targets import TARGET_FIELDS, resolve_target


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)  # as models.AwsModel (which imports this module)


class EventTarget(_Model):
    """One target (PutTargets' Target): give `arn` as AWS does, or name the local thing."""

    id: Annotated[str, Field(pattern=r"^[\.\-_A-Za-z0-9]+$", min_length=1, max_length=64)] | None = None
    arn: str | None = None
    function: str | None = None  # a Lambda function of the pipelines folder (or a stack's)
    pipeline: str | None = None  # started with StartPipelineExecution
    topic: str | None = None  # an SNS topic's ARN or name
    url: str | None = None  # an HTTP(S) endpoint: the event is POSTed as JSON
    input: str | None = None  # constant JSON text sent instead of the event
    inputPath: str | None = None  # a JSONPath ($.detail.state) into the event: that part is sent
    inputTransformer: dict[str, Any] | None = None  # accepted, not carried out (a warning says)

    @model_validator(mode="after")
    def _one_kind(self) -> "EventTarget":
        given = [name for name in TARGET_FIELDS if getattr(self, name) is not None]
        if len(given) != 1:
            raise PydanticCustomError("event_target", "give exactly one of " + ", ".join(TARGET_FIELDS))
        if self.input is not None and self.inputPath is not None:
            raise PydanticCustomError("event_target", "give input or inputPath, not both (as PutTargets)")
        if self.input is not None:
            try:
                json.loads(self.input)
            except json.JSONDecodeError as error:
                raise PydanticCustomError("event_target", "input must be valid JSON text: {reason}",
                                          {"reason": error.msg}) from None
        if self.inputPath is not None and not self.inputPath.startswith("$"):
            raise PydanticCustomError("event_target", "inputPath must be a JSONPath such as $.detail")
        return self

    @property
    def kind_and_name(self) -> tuple[str, str]:
        """("function" | "pipeline" | "topic" | "url" | another service, what it names)."""
        return resolve_target(**{name: getattr(self, name) for name in TARGET_FIELDS})


class EventRule(_Model):
    name: Annotated[str, Field(pattern=r"^[\.\-_A-Za-z0-9]+$", min_length=1, max_length=64)]
    eventPattern: dict[str, Any] | str  # a mapping, or its JSON text (as PutRule's EventPattern)
    targets: Annotated[list[EventTarget], Field(max_length=5)] = []  # AWS: 5 targets per rule
    state: Literal["ENABLED", "DISABLED"] = "ENABLED"
    description: Annotated[str, Field(max_length=512)] | None = None

    @field_validator("eventPattern")
    @classmethod
    def _pattern(cls, value: dict | str) -> dict:
        """JSON text is read here; the pattern's own rules are checked by `check_event_rules`,
        which points at the very place in the file."""
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as error:
                raise PydanticCustomError("event_pattern", "Event pattern is not valid. Reason: Filter is not valid "
                                          "JSON ({reason})", {"reason": error.msg}) from None
        return value


def check_event_rules(rules: list[EventRule]) -> list[tuple[tuple, str]]:
    """(path, message) of each pattern EventBridge would refuse (PutRule's InvalidEventPatternException)."""
    problems = []
    for r, rule in enumerate(rules):
        try:
            check(rule.eventPattern)
        except InvalidEventPattern as error:
            problems.append((("eventRules", r, "eventPattern") + error.loc, f"Event pattern is not valid. Reason: "
                                                                           f"{error.reason}"))
    return problems


def event_rule_warnings(rules: list[EventRule]) -> list[tuple[tuple, str]]:
    """(path, message) of what a rule says that is not carried out here."""
    found = []
    for r, rule in enumerate(rules):
        for t, target in enumerate(rule.targets):
            at = ("eventRules", r, "targets", t)
            if target.inputTransformer is not None:
                found.append((at + ("inputTransformer",), "is not carried out by pipemu: the whole event is sent"))
            kind, name = target.kind_and_name
            if kind not in ("function", "pipeline", "topic", "url"):
                found.append((at + ("arn",), f"{name}: {kind} targets are not emulated; events matched are not "
                                             "delivered to it (each attempt is shown as a failed delivery)"))
    return found
