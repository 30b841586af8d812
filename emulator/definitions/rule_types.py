"""AWS's rule types for stage conditions (the CodePipeline user guide's rule reference): their
configuration properties and input artifact counts. The declarations are checked against this
table, and ListRuleTypes answers it (emulator/rules/types.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleProperty:
    name: str
    required: bool
    description: str
    key: bool = False
    type: str = "String"


@dataclass(frozen=True)
class RuleTypeSpec:
    provider: str
    properties: tuple[RuleProperty, ...]
    inputs: tuple[int, int] = (0, 0)
    needs_commands: bool = False

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.properties if p.required)

    @property
    def known(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.properties)


RULE_TYPES: dict[str, RuleTypeSpec] = {spec.provider: spec for spec in (
    RuleTypeSpec("CloudWatchAlarm", (
        RuleProperty("AlarmName", True, "The name of the alarm the rule watches", key=True),
        RuleProperty("AlarmStates", False, "The alarm states that fail the rule (ALARM when not given)"),
        RuleProperty("WaitTime", False, "Minutes to watch the alarm before the rule passes", type="Number"))),
    RuleTypeSpec("CodeBuild", (
        RuleProperty("ProjectName", True, "The CodeBuild project whose build decides the rule", key=True),
        RuleProperty("PrimarySource", False, "The input artifact that is the build's primary source"),
        RuleProperty("BatchEnabled", False, "Whether the build is a batch build", type="Boolean"),
        RuleProperty("CombineArtifacts", False, "Whether a batch build's artifacts are combined", type="Boolean"),
        RuleProperty("EnvironmentVariables", False, "Environment variables of the build, as JSON")), inputs=(0, 5)),
    RuleTypeSpec("Commands", (
        RuleProperty("EnvironmentType", False, "The build environment's kind (LINUX_CONTAINER)"),
        RuleProperty("ComputeType", False, "The build environment's size")),
        inputs=(0, 5), needs_commands=True),  # at most 5: ArtifactDetails caps every count there
    RuleTypeSpec("DeploymentWindow", (
        RuleProperty("Cron", True, "The cron expression of the days and times deployments are allowed", key=True),
        RuleProperty("TimeZone", False, "The time zone of the cron expression (UTC when not given)"))),
    RuleTypeSpec("LambdaInvoke", (
        RuleProperty("FunctionName", True, "The Lambda function that decides the rule", key=True),
        RuleProperty("UserParameters", False, "Input for the function")), inputs=(0, 5)),
    RuleTypeSpec("VariableCheck", (
        RuleProperty("Variable", True, "The variable to check, such as #{SourceVariables.BranchName}", key=True),
        RuleProperty("Value", True, "The value to compare it with"),
        RuleProperty("Operator", True, "EQ, NE, CONTAINS or MATCHES"))),
)}
