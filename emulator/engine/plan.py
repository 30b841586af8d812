"""The engine's view of a pipeline: stages, actions grouped by runOrder, execution mode.

Built from an already validated AWS pipeline declaration (a plain dict in AWS's camelCase form),
so the engine needs nothing from the definitions package.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_APPROVAL_TIMEOUT_MINUTES = 7 * 24 * 60  # AWS: a manual approval waits 7 days
DEFAULT_JOB_TIMEOUT_MINUTES = 60  # AWS: a Lambda invoke action times out after 1 hour
# AWS's quotas page: "Custom actions: 24 hours" (a job waits that long for a worker to finish it).
DEFAULT_WORKER_JOB_TIMEOUT_MINUTES = 24 * 60
# ThirdParty providers that pipemu carries out itself (or records): every other ThirdParty
# provider is a partner's action, whose jobs wait for its worker (PollForThirdPartyJobs).
BUILT_IN_THIRD_PARTY = frozenset({"GitHub", "AlexaSkillsKit"})


@dataclass(frozen=True)
class ActionPlan:
    name: str
    category: str
    owner: str
    provider: str
    version: str
    run_order: int = 1
    configuration: tuple[tuple[str, str], ...] = ()
    input_artifacts: tuple[str, ...] = ()
    output_artifacts: tuple[str, ...] = ()
    namespace: str | None = None
    timeout_in_minutes: int | None = None
    output_variables: tuple[str, ...] = ()  # `outputVariables` (V2 Commands actions and the like)
    # V2 Commands actions (and a Commands rule, run as one): `commands`, `environmentVariables`
    # as (name, value, type), and each output artifact's `files` as (artifact, globs).
    commands: tuple[str, ...] = ()
    environment_variables: tuple[tuple[str, str, str], ...] = ()
    output_files: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def is_approval(self) -> bool:
        return self.category == "Approval" and self.provider == "Manual"

    @property
    def is_job(self) -> bool:
        """Its work reports back through PutJobSuccessResult/PutJobFailureResult (or the
        third-party job operations)."""
        return (self.category == "Invoke" and self.provider == "Lambda") or self.is_worker_job

    @property
    def is_worker_job(self) -> bool:
        """A custom action's or a partner's: no container runs it; its job waits for a job
        worker that polls for it (PollForJobs / PollForThirdPartyJobs), as on AWS."""
        return self.owner == "Custom" or (self.owner == "ThirdParty" and self.provider not in BUILT_IN_THIRD_PARTY)

    @property
    def default_timeout_minutes(self) -> int:
        return DEFAULT_WORKER_JOB_TIMEOUT_MINUTES if self.is_worker_job else DEFAULT_JOB_TIMEOUT_MINUTES

    @property
    def config(self) -> dict[str, str]:
        return dict(self.configuration)


@dataclass(frozen=True)
class RulePlan:
    """One rule of a stage condition (RuleDeclaration): run as a command, judged as an event."""

    name: str
    provider: str  # VariableCheck, DeploymentWindow, LambdaInvoke, Commands, CodeBuild, CloudWatchAlarm
    version: str = "1"
    configuration: tuple[tuple[str, str], ...] = ()
    commands: tuple[str, ...] = ()
    input_artifacts: tuple[str, ...] = ()
    timeout_in_minutes: int | None = None
    region: str | None = None
    role_arn: str | None = None

    @property
    def config(self) -> dict[str, str]:
        return dict(self.configuration)


@dataclass(frozen=True)
class ConditionPlan:
    """A stage's `beforeEntry`, `onSuccess` or `onFailure`: its result and the rules it checks
    (in order). `retry_mode` is onFailure's automatic retry (result RETRY)."""

    kind: str  # BEFORE_ENTRY | ON_SUCCESS | ON_FAILURE (the names OverrideStageCondition uses)
    result: str | None
    rules: tuple[RulePlan, ...] = ()
    retry_mode: str | None = None


@dataclass(frozen=True)
class StagePlan:
    name: str
    actions: tuple[ActionPlan, ...]
    before_entry: ConditionPlan | None = None
    on_success: ConditionPlan | None = None
    on_failure: ConditionPlan | None = None

    def condition(self, kind: str) -> ConditionPlan | None:
        return {"BEFORE_ENTRY": self.before_entry, "ON_SUCCESS": self.on_success,
                "ON_FAILURE": self.on_failure}.get(kind)

    def run_orders(self) -> list[int]:
        return sorted({a.run_order for a in self.actions})

    def group(self, run_order: int) -> list[ActionPlan]:
        return [a for a in self.actions if a.run_order == run_order]

    def action(self, name: str) -> ActionPlan | None:
        return next((a for a in self.actions if a.name == name), None)


@dataclass(frozen=True)
class PipelinePlan:
    name: str
    execution_mode: str = "SUPERSEDED"
    stages: tuple[StagePlan, ...] = ()
    variables: tuple[tuple[str, str], ...] = ()  # pipeline-level variables and their defaults
    declaration: dict = field(default_factory=dict, compare=False, hash=False)

    def stage(self, name: str) -> StagePlan | None:
        return next((s for s in self.stages if s.name == name), None)

    def stage_index(self, name: str) -> int:
        return next(i for i, s in enumerate(self.stages) if s.name == name)


def plan_from_declaration(declaration: dict) -> PipelinePlan:
    """The plan of a validated pipeline declaration (AWS's get-pipeline `pipeline` object)."""
    stages = []
    for stage in declaration["stages"]:
        actions = []
        for action in stage["actions"]:
            type_id = action["actionTypeId"]
            actions.append(
                ActionPlan(
                    name=action["name"],
                    category=type_id["category"],
                    owner=type_id["owner"],
                    provider=type_id["provider"],
                    version=str(type_id["version"]),
                    run_order=int(action.get("runOrder", 1)),
                    configuration=tuple(sorted((action.get("configuration") or {}).items())),
                    input_artifacts=tuple(a["name"] for a in action.get("inputArtifacts") or ()),
                    output_artifacts=tuple(a["name"] for a in action.get("outputArtifacts") or ()),
                    namespace=action.get("namespace"),
                    timeout_in_minutes=action.get("timeoutInMinutes"),
                    output_variables=tuple(action.get("outputVariables") or ()),
                    commands=tuple(action.get("commands") or ()),
                    environment_variables=tuple((v["name"], v["value"], v.get("type") or "PLAINTEXT")
                                                for v in action.get("environmentVariables") or ()),
                    output_files=tuple((a["name"], tuple(a["files"])) for a in action.get("outputArtifacts") or ()
                                       if a.get("files")),
                )
            )
        stages.append(StagePlan(
            name=stage["name"], actions=tuple(actions),
            before_entry=_condition("BEFORE_ENTRY", stage.get("beforeEntry")),
            on_success=_condition("ON_SUCCESS", stage.get("onSuccess")),
            on_failure=_condition("ON_FAILURE", stage.get("onFailure")),
        ))
    variables = tuple((v["name"], v.get("defaultValue", "")) for v in declaration.get("variables") or ())
    return PipelinePlan(
        name=declaration["name"],
        execution_mode=declaration.get("executionMode", "SUPERSEDED"),
        stages=tuple(stages),
        variables=variables,
        declaration=declaration,
    )


def _rule(rule: dict) -> RulePlan:
    type_id = rule["ruleTypeId"]
    return RulePlan(
        name=rule["name"],
        provider=type_id["provider"],
        version=str(type_id.get("version", "1")),
        configuration=tuple(sorted((rule.get("configuration") or {}).items())),
        commands=tuple(rule.get("commands") or ()),
        input_artifacts=tuple(a["name"] for a in rule.get("inputArtifacts") or ()),
        timeout_in_minutes=rule.get("timeoutInMinutes"),
        region=rule.get("region"),
        role_arn=rule.get("roleArn"),
    )


def _condition(kind: str, declared: dict | None) -> ConditionPlan | None:
    """The plan of one of a stage's conditions. A condition's list holds one condition (AWS's
    model); onFailure also has a result of its own (automatic rollback or retry without rules),
    which is the one that engages when both are given."""
    if not declared:
        return None
    conditions = declared.get("conditions") or ()
    condition = conditions[0] if conditions else {}
    retry = declared.get("retryConfiguration") or {}
    return ConditionPlan(
        kind=kind,
        result=declared.get("result") or condition.get("result"),
        rules=tuple(_rule(r) for r in condition.get("rules") or ()),
        retry_mode=retry.get("retryMode") or ("FAILED_ACTIONS" if declared.get("result") == "RETRY" else None),
    )
