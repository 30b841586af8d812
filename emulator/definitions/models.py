"""Typed models of a definition file: CodePipeline's pipeline declaration under AWS's own
field names (as `get-pipeline` prints it), plus our local stand-ins for the resources it names.

Field names are AWS's camelCase on purpose: `model_dump(mode="json", exclude_none=True)` is the
`get-pipeline` form, and validation errors name the key the user wrote. Rules that span fields
(stage order, artifacts, supported action types) live in `check_pipeline`, which returns every
problem with its path instead of stopping at the first.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)
from .custom_types import CustomActionType
from pydantic_core import PydanticCustomError

from .action_types import ACTION_TYPES, ActionTypeSpec
from .event_rules import EventRule
from .topic_models import Topic, TopicName

DEFAULT_ROLE_ARN = "arn:aws:iam::123456789012:role/pipemu-local"
# AWS always answers get-pipeline with an artifact store; ours is a local folder, named like one.
DEFAULT_ARTIFACT_STORE = {"type": "S3", "location": "pipemu-local-artifacts"}

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]  # (path relative to the checked object, message)


def _text(pattern: str, lo: int, hi: int) -> Any:
    """A string AWS constrains by length and pattern, with one short message for both."""
    regex = re.compile(pattern)

    def check(value: str) -> str:
        if not lo <= len(value) <= hi or not regex.fullmatch(value):
            raise PydanticCustomError(
                "aws_text", "must be {lo}..{hi} characters matching {pattern}", {"lo": lo, "hi": hi, "pattern": pattern}
            )
        return value

    return Annotated[str, Strict(), AfterValidator(check)]


def _int_range(lo: int, hi: int) -> Any:
    def check(value: int) -> int:
        if not lo <= value <= hi:
            raise PydanticCustomError("aws_range", "must be {lo}..{hi}", {"lo": lo, "hi": hi})
        return value

    return Annotated[int, Strict(), AfterValidator(check)]


def _scalar_to_string(value: Any) -> Any:
    # AWS keeps configuration values as strings; YAML reads `false` and `5` as bool and int.
    # Booleans are written the way AWS writes them.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, datetime.date)):
        return str(value) if not isinstance(value, datetime.date) else value.isoformat()
    return value


def _scalars_to_strings(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _scalar_to_string(item) for key, item in value.items()}
    return value


def _role_arn(value: str) -> str:
    if len(value) > 1024 or not re.fullmatch(r"arn:aws(-[\w]+)*:iam::[0-9]{12}:role/.*", value):
        raise PydanticCustomError("aws_role_arn", "must be an IAM role ARN (arn:aws:iam::123456789012:role/NAME)")
    return value


PipelineName = _text(r"[A-Za-z0-9.@\-_]+", 1, 100)
StageName = PipelineName
ActionName = PipelineName
ArtifactName = _text(r"[a-zA-Z0-9_\-]+", 1, 100)
RoleArn = Annotated[str, Strict(), AfterValidator(_role_arn)]
ScalarString = Annotated[str, BeforeValidator(_scalar_to_string)]
Configuration = Annotated[dict[str, str], BeforeValidator(_scalars_to_strings)]


class AwsModel(BaseModel):
    """Base of every model: keys AWS does not have are errors; definitions never change once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ActionTypeId(AwsModel):
    category: Literal["Source", "Build", "Deploy", "Test", "Invoke", "Approval", "Compute"]
    owner: Literal["AWS", "ThirdParty", "Custom"]
    provider: _text(r"[0-9A-Za-z_-]+", 1, 35)  # type: ignore[valid-type]
    version: _text(r"[0-9A-Za-z_-]+", 1, 9)  # type: ignore[valid-type]

    @property
    def key(self) -> tuple[str, str, str]:
        """The key of SUPPORTED_ACTION_TYPES."""
        return (self.category, self.owner, self.provider)


class InputArtifact(AwsModel):
    name: ArtifactName  # type: ignore[valid-type]


class OutputArtifact(AwsModel):
    name: ArtifactName  # type: ignore[valid-type]
    files: list[str] | None = None


class EnvironmentVariable(AwsModel):
    """An action's environment variable (CodePipeline's shape)."""

    name: _text(r"[A-Za-z0-9_]+", 1, 128)  # type: ignore[valid-type]
    value: ScalarString
    type: Literal["PLAINTEXT", "SECRETS_MANAGER"] | None = None


class ActionDeclaration(AwsModel):
    name: ActionName  # type: ignore[valid-type]
    actionTypeId: ActionTypeId
    runOrder: _int_range(1, 999) = 1  # type: ignore[valid-type]
    configuration: Configuration | None = None
    commands: _sized(_text(r"[\s\S]*", 1, 1000), 1, 50) | None = None  # type: ignore[valid-type]
    # get-pipeline always prints both artifact lists, empty ones included.
    outputArtifacts: list[OutputArtifact] = []
    inputArtifacts: list[InputArtifact] = []
    outputVariables: list[str] | None = None
    roleArn: RoleArn | None = None
    region: _text(r"[\s\S]*", 4, 30) | None = None  # type: ignore[valid-type]
    namespace: _text(r"[A-Za-z0-9@\-_]+", 1, 100) | None = None  # type: ignore[valid-type]
    timeoutInMinutes: _int_range(5, 86400) | None = None  # type: ignore[valid-type]
    environmentVariables: list[EnvironmentVariable] | None = None


# --- V2: stage conditions and rules, retries, triggers (AWS's shapes; carried out or warned
# about by name: see coverage.py) ---

_RESULT = Literal["ROLLBACK", "FAIL", "RETRY", "SKIP"]


def _sized(item: Any, lo: int, hi: int) -> Any:
    return Annotated[list[item], Field(min_length=lo, max_length=hi)]


class RuleTypeId(AwsModel):
    category: Literal["Rule"]
    owner: Literal["AWS"] | None = None
    provider: _text(r"[0-9A-Za-z_-]+", 1, 35)  # type: ignore[valid-type]
    version: _text(r"[0-9A-Za-z_-]+", 1, 9) | None = None  # type: ignore[valid-type]


class RuleDeclaration(AwsModel):
    name: _text(r"[A-Za-z0-9.@\-_]+", 1, 100)  # type: ignore[valid-type]
    ruleTypeId: RuleTypeId
    configuration: Annotated[Configuration, Field(max_length=200)] | None = None
    commands: _sized(str, 1, 50) | None = None
    inputArtifacts: list[InputArtifact] | None = None
    roleArn: RoleArn | None = None
    region: _text(r"[\s\S]*", 4, 30) | None = None  # type: ignore[valid-type]
    timeoutInMinutes: _int_range(5, 86400) | None = None  # type: ignore[valid-type]


class Condition(AwsModel):
    result: _RESULT | None = None
    rules: _sized(RuleDeclaration, 1, 5) | None = None


class RetryConfiguration(AwsModel):
    retryMode: Literal["FAILED_ACTIONS", "ALL_ACTIONS"] | None = None


class FailureConditions(AwsModel):
    result: _RESULT | None = None
    retryConfiguration: RetryConfiguration | None = None
    conditions: _sized(Condition, 1, 1) | None = None


class SuccessConditions(AwsModel):
    conditions: _sized(Condition, 1, 1)


class BeforeEntryConditions(AwsModel):
    conditions: _sized(Condition, 1, 1)


class BlockerDeclaration(AwsModel):
    name: _text(r"[\s\S]*", 1, 100)  # type: ignore[valid-type]
    type: Literal["Schedule"]


class _GitPatterns(AwsModel):
    includes: _sized(_text(r"[\s\S]*", 1, 255), 1, 8) | None = None  # type: ignore[valid-type]
    excludes: _sized(_text(r"[\s\S]*", 1, 255), 1, 8) | None = None  # type: ignore[valid-type]


class GitPushFilter(AwsModel):
    tags: _GitPatterns | None = None
    branches: _GitPatterns | None = None
    filePaths: _GitPatterns | None = None


class GitPullRequestFilter(AwsModel):
    events: _sized(Literal["OPEN", "UPDATED", "CLOSED"], 1, 3) | None = None
    branches: _GitPatterns | None = None
    filePaths: _GitPatterns | None = None


class GitConfiguration(AwsModel):
    sourceActionName: _text(r"[A-Za-z0-9.@\-_]+", 1, 100)  # type: ignore[valid-type]
    push: _sized(GitPushFilter, 1, 3) | None = None
    pullRequest: _sized(GitPullRequestFilter, 1, 3) | None = None


class PipelineTriggerDeclaration(AwsModel):
    providerType: Literal["CodeStarSourceConnection"]
    gitConfiguration: GitConfiguration


class EncryptionKey(AwsModel):
    id: _text(r"[\s\S]*", 1, 400)  # type: ignore[valid-type]
    type: Literal["KMS"]


class ArtifactStore(AwsModel):
    type: Literal["S3"]
    location: _text(r"[a-zA-Z0-9\-\.]+", 3, 63)  # type: ignore[valid-type]
    encryptionKey: EncryptionKey | None = None


class StageDeclaration(AwsModel):
    name: StageName  # type: ignore[valid-type]
    actions: list[ActionDeclaration]
    blockers: list[BlockerDeclaration] | None = None
    onFailure: FailureConditions | None = None
    onSuccess: SuccessConditions | None = None
    beforeEntry: BeforeEntryConditions | None = None

    def action(self, name: str) -> ActionDeclaration | None:
        return next((a for a in self.actions if a.name == name), None)


class PipelineVariableDeclaration(AwsModel):
    name: _text(r"[A-Za-z0-9@\-_]+", 1, 128)  # type: ignore[valid-type]
    defaultValue: ScalarString | None = None
    description: str | None = None


class PipelineDeclaration(AwsModel):
    name: PipelineName  # type: ignore[valid-type]
    roleArn: RoleArn = DEFAULT_ROLE_ARN
    artifactStore: ArtifactStore | None = None
    artifactStores: dict[str, ArtifactStore] | None = None
    stages: list[StageDeclaration]
    version: _int_range(1, 2**31 - 1) = 1  # type: ignore[valid-type]
    executionMode: Literal["QUEUED", "SUPERSEDED", "PARALLEL"] = "SUPERSEDED"
    pipelineType: Literal["V1", "V2"] = "V1"
    variables: _sized(PipelineVariableDeclaration, 0, 50) | None = None
    triggers: _sized(PipelineTriggerDeclaration, 0, 50) | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_artifact_store(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("artifactStore") is None and data.get("artifactStores") is None:
            return {**data, "artifactStore": dict(DEFAULT_ARTIFACT_STORE)}
        return data

    def stage(self, name: str) -> StageDeclaration | None:
        return next((s for s in self.stages if s.name == name), None)


# --- local stand-ins for the AWS resources a pipeline names (our keys, not AWS's) ---


class Repository(AwsModel):
    """A CodeCommit repository, stood in for by a local git repository."""

    path: Path  # absolute once loaded: relative paths are resolved against the file's folder

    @field_validator("path")
    @classmethod
    def _resolve(cls, value: Path, info: ValidationInfo) -> Path:
        base = Path((info.context or {}).get("base_dir") or Path.cwd())
        return (base / value.expanduser()).resolve()


class ProjectEnvironmentVariable(AwsModel):
    """A CodeBuild project's environment variable (CodeBuild's shape)."""

    name: str
    value: ScalarString
    type: Literal["PLAINTEXT", "PARAMETER_STORE", "SECRETS_MANAGER"] = "PLAINTEXT"


def _buildspec(value: Any) -> Any:
    if value is None or isinstance(value, (dict, str)):
        return value
    raise PydanticCustomError("buildspec", "must be a mapping, a multi-line string or a path")


class ProjectCache(AwsModel):
    """CodeBuild's ProjectCache. LOCAL with LOCAL_CUSTOM_CACHE (and S3, whose bucket is stood in
    for by the same local volume) keeps the buildspec's `cache.paths` between builds
    (runner/build_cache.py); LOCAL_SOURCE_CACHE has nothing to cache here (sources arrive as
    artifacts, not clones) and LOCAL_DOCKER_LAYER_CACHE is what the machine's own engine does for
    privileged builds anyway."""

    type: Literal["NO_CACHE", "LOCAL", "S3"] = "NO_CACHE"
    modes: list[Literal["LOCAL_SOURCE_CACHE", "LOCAL_DOCKER_LAYER_CACHE", "LOCAL_CUSTOM_CACHE"]] = []
    location: str | None = None
    cacheNamespace: str | None = None

    @property
    def keeps_paths(self) -> bool:
        return self.type == "S3" or (self.type == "LOCAL" and "LOCAL_CUSTOM_CACHE" in self.modes)


class Simulate(AwsModel):
    """pipemu's own (no AWS field): a project, stack or function whose actions are simulated
    (runner/simulate.py): no container, the declared outcome after `duration` seconds, with these
    output variables. `inProcess` (Python functions only) runs the function's handler for real,
    in a Python process of the daemon's machine instead of a container."""

    outcome: Literal["Succeeded", "Failed"] = "Succeeded"
    duration: Annotated[float, Field(ge=0, le=3600)] = 0.2
    outputVariables: dict[str, ScalarString] = {}
    message: str | None = None
    inProcess: bool = False


class Project(AwsModel):
    """A CodeBuild project: the image to run and the buildspec to run in it."""

    image: str
    # A mapping or a multi-line string is the buildspec itself; a one-line string is a path
    # inside the primary input artifact; None means `buildspec.yml` there, as in CodeBuild.
    buildspec: Annotated[Any, AfterValidator(_buildspec)] = None
    environmentVariables: list[ProjectEnvironmentVariable] = []
    privilegedMode: bool = False  # as CodeBuild: privileges and the Docker socket in the container
    # The Docker network (environment) the build joins, to reach the stacks deployed there by
    # name; by default the network of the stage that runs it.
    network: str | None = None
    cache: ProjectCache | None = None
    # pipemu's own (no AWS field): a failed build's workspace is kept for `pipemu shell`.
    keepFailed: bool = False
    simulate: Annotated[Simulate | None, AfterValidator(_no_in_process)] = None  # pipemu's own: simulated builds

    @property
    def inline_buildspec(self) -> dict | str | None:
        """The buildspec written in the definition (a mapping or YAML text), if any."""
        if isinstance(self.buildspec, dict) or (isinstance(self.buildspec, str) and "\n" in self.buildspec.strip()):
            return self.buildspec
        return None

    @property
    def buildspec_path(self) -> str | None:
        """The buildspec's path inside the primary input artifact, when it is not inline."""
        if self.inline_buildspec is not None:
            return None
        return self.buildspec.strip() if self.buildspec else "buildspec.yml"


def _resolved_path(value: Path, info: ValidationInfo) -> Path:
    base = Path((info.context or {}).get("base_dir") or Path.cwd())
    return (base / value.expanduser()).resolve()


class Bucket(AwsModel):
    """An S3 bucket, stood in for by a local folder: an S3ObjectKey is a folder or a zip in it."""

    path: Path

    @field_validator("path")
    @classmethod
    def _resolve(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolved_path(value, info)


_RUNTIME = re.compile(r"(python3\.\d+|nodejs\d+\.x)")


class Function(AwsModel):
    """A Lambda function: its handler runs in a container of its runtime's image."""

    runtime: str
    handler: str  # module.function (python) or file.export (nodejs), as Lambda
    code: Path  # a folder holding the handler's code
    environment: dict[str, ScalarString] = {}  # Lambda's Environment.Variables
    # One invocation's limit in seconds (AWS's default is 3; ours is generous because a container
    # starts cold every time). The action as a whole is bounded by its timeoutInMinutes (1 hour).
    timeout: Annotated[int, Field(ge=1, le=900)] = 900
    memorySize: Annotated[int, Field(ge=128, le=10240)] = 512  # MB: the container's memory limit
    image: str | None = None  # another image for this function than its runtime's
    simulate: Simulate | None = None  # pipemu's own: its invocations simulated, or run in-process

    @field_validator("runtime")
    @classmethod
    def _runtime(cls, value: str) -> str:
        if not _RUNTIME.fullmatch(value):
            raise PydanticCustomError("runtime", "must be a Lambda runtime such as python3.12 or nodejs20.x")
        return value

    @field_validator("code")
    @classmethod
    def _resolve(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolved_path(value, info)

    @model_validator(mode="after")
    def _in_process(self) -> "Function":
        if self.simulate is not None and self.simulate.inProcess and not self.runtime.startswith("python"):
            raise PydanticCustomError("simulate_in_process", "simulate.inProcess runs Python functions only")
        return self


def _no_in_process(value: Simulate | None) -> Simulate | None:
    if value is not None and value.inProcess:
        raise PydanticCustomError("simulate_in_process", "inProcess is for functions: only a handler runs in-process")
    return value


class StackHealthCheck(AwsModel):
    """When a deployed service counts as healthy: a command inside it, or an HTTP path on its port."""

    command: list[str] | str | None = None
    path: str | None = None
    interval: Annotated[float, Field(gt=0)] = 1.0  # seconds between checks
    retries: Annotated[int, Field(ge=1)] = 30
    startPeriod: Annotated[float, Field(ge=0)] = 0.0


class Stack(AwsModel):
    """A CloudFormation stack, stood in for by a long-lived container named after it."""

    image: str | None = None  # run this image with the deploy's input artifact copied to workdir
    dockerfile: str | None = None  # or build the image from this Dockerfile of the input artifact
    command: list[str] | str | None = None
    environment: dict[str, ScalarString] = {}
    port: Annotated[int, Field(ge=1, le=65535)] | None = None  # where the service listens
    hostPort: Annotated[int, Field(ge=1, le=65535)] | None = None  # published on 127.0.0.1
    healthCheck: StackHealthCheck | None = None
    workdir: str = "/app"
    # The network (environment) it joins, reachable there by the stack's name; by default the
    # name of the stage that deploys it, so a stage's tests reach the stage's services.
    network: str | None = None
    simulate: Annotated[Simulate | None, AfterValidator(_no_in_process)] = None  # pipemu's own: simulated deploys

    @model_validator(mode="after")
    def _one_source(self) -> "Stack":
        if (self.image is None) == (self.dockerfile is None):
            raise PydanticCustomError("stack_source", "give exactly one of image or dockerfile")
        return self


class EcsService(AwsModel):
    """An ECS service, stood in for by a long-lived container per deploy (as a stack): the ECS
    deploy action runs the image its imagedefinitions.json names for `container`, reached on its
    network by the service's name."""

    container: str | None = None  # the imagedefinitions.json entry to run; by default the first
    command: list[str] | str | None = None  # the task definition's command; by default the image's
    environment: dict[str, ScalarString] = {}
    port: Annotated[int, Field(ge=1, le=65535)] | None = None  # the containerPort it listens on
    hostPort: Annotated[int, Field(ge=1, le=65535)] | None = None  # published on 127.0.0.1
    healthCheck: StackHealthCheck | None = None
    # The network (environment) it joins; by default the name of the stage that deploys it.
    network: str | None = None


class Cluster(AwsModel):
    """An ECS cluster: the services the ECS deploy action may name (ServiceName)."""

    services: dict[str, EcsService] = {}


class _StoredValue(AwsModel):
    """Where a stand-in's value is read from, when an action needs it: `env` (a variable of the
    daemon's environment) or `file` (relative to the declaring file), so that the value is never
    in the definitions, the answers or the state; or `value` inline (accepted, with a warning:
    the value then sits in the pipelines folder)."""

    env: _text(r"[A-Za-z_][A-Za-z0-9_]*", 1, 255) | None = None  # type: ignore[valid-type]
    file: Path | None = None
    value: ScalarString | None = Field(default=None, repr=False)

    @field_validator("file")
    @classmethod
    def _resolve(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolved_path(value, info)

    @model_validator(mode="after")
    def _one_source(self) -> "_StoredValue":
        if sum(source is not None for source in (self.env, self.file, self.value)) != 1:
            raise PydanticCustomError("stored_value", "give exactly one of env, file or value")
        return self


class Secret(_StoredValue):
    """A Secrets Manager secret (`SecretId`: its name, or its ARN
    `arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-xxxxxx`). A JSON object as its value
    lets a reference pick one key (`NAME:json-key`), as on AWS."""


class Parameter(_StoredValue):
    """A Systems Manager Parameter Store parameter (its name, `/a/b` or `a`, or its ARN)."""

    type: Literal["String", "StringList", "SecureString"] = "String"


# AWS's names: a secret's (Secrets Manager CreateSecret: 1..512 of these) and a parameter's.
SecretName = _text(r"[A-Za-z0-9/_+=.@-]+", 1, 512)
ParameterName = _text(r"[A-Za-z0-9/_.-]+", 1, 1011)


def inline_secret_values(definition: "DefinitionFile") -> list[Problem]:
    """Warnings for values written in a definition file that AWS would keep secret: a secret's,
    a SecureString parameter's (a String's is fine there)."""
    found: list[Problem] = []
    for name, secret in definition.secrets.items():
        if secret.value is not None:
            found.append((("secrets", name, "value"), "the secret's value sits in the pipelines folder: give it by "
                                                      "env: VARIABLE or file: PATH to keep it out"))
    for name, parameter in definition.parameters.items():
        if parameter.value is not None and parameter.type == "SecureString":
            found.append((("parameters", name, "value"), "the SecureString's value sits in the pipelines folder: give "
                                                         "it by env: VARIABLE or file: PATH to keep it out"))
    return found


def cache_warnings(definition: "DefinitionFile") -> list[Problem]:
    """What of a project's cache is not carried out (runner/build_cache.py carries out the rest)."""
    found: list[Problem] = []
    for name, project in definition.projects.items():
        for m, mode in enumerate(project.cache.modes if project.cache else ()):
            if mode == "LOCAL_SOURCE_CACHE":
                found.append((("projects", name, "cache", "modes", m), "LOCAL_SOURCE_CACHE is not carried out: sources "
                                                                       "arrive as the action's artifact, there is no clone to cache"))
        if project.cache is not None and project.cache.type == "S3":
            found.append((("projects", name, "cache", "type"), "S3: cache.paths are kept in a local volume of this "
                                                               "machine, not in the bucket"))
    return found


# CloudWatch's alarm states (its StateValue enum), and the one AWS gives a new alarm before its
# first evaluation: a stand-in starts there too unless its declaration says otherwise.
ALARM_STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
INITIAL_ALARM_STATE = "INSUFFICIENT_DATA"
# AWS's AlarmName: 1..255 UTF-8 characters, no ASCII control characters.
AlarmName = _text(r"[^\x00-\x1f\x7f]+", 1, 255)


class Alarm(AwsModel):
    """A CloudWatch metric alarm (`AlarmName`), stood in for by a state that nobody evaluates: a
    user sets it (`pipemu alarm set`, SetAlarmState, the dashboard), and it stays until set again."""

    state: Literal["OK", "ALARM", "INSUFFICIENT_DATA"] = INITIAL_ALARM_STATE  # before anyone sets it
    description: _text(r"(?s).*", 0, 1024) | None = None  # type: ignore[valid-type]  # AlarmDescription


_SCHEDULE = re.compile(r"cron\(\s*(\S+\s+){5}\S+\s*\)|rate\(\s*\d+\s+(minute|minutes|hour|hours|day|days)\s*\)")


class Schedule(AwsModel):
    """An EventBridge rule whose target is a pipeline."""

    expression: str  # cron(m h dom mon dow year) or rate(N unit), AWS's syntax
    pipeline: str | None = None  # the target; by default the pipeline of the same file
    timezone: str = "UTC"
    enabled: bool = True
    name: str | None = None

    @field_validator("expression")
    @classmethod
    def _expression(cls, value: str) -> str:
        if not _SCHEDULE.fullmatch(value.strip()):
            raise PydanticCustomError(
                "schedule", "must be cron(minutes hours day-of-month month day-of-week year) or rate(N minutes|hours|days)"
            )
        return value.strip()


class WebhookFilterRule(AwsModel):
    jsonPath: _text(r"[\s\S]*", 1, 150)  # type: ignore[valid-type]
    matchEquals: _text(r"[\s\S]*", 1, 150) | None = None  # type: ignore[valid-type]


class WebhookAuthConfiguration(AwsModel):
    AllowedIPRange: _text(r"[\s\S]*", 1, 100) | None = None  # type: ignore[valid-type]
    # As written: a value, or a `{{resolve:secretsmanager:...}}` reference to a `secrets:` stand-in.
    SecretToken: _text(r"[\s\S]*", 1, 200) | None = None  # type: ignore[valid-type]


class Webhook(AwsModel):
    """A webhook (PutWebhook's WebhookDefinition without its name, which is the key), as
    `AWS::CodePipeline::Webhook` declares one: its URL starts `targetPipeline`."""

    targetPipeline: PipelineName  # type: ignore[valid-type]
    targetAction: ActionName  # type: ignore[valid-type]
    filters: _sized(WebhookFilterRule, 0, 5)
    authentication: Literal["GITHUB_HMAC", "IP", "UNAUTHENTICATED"]
    authenticationConfiguration: WebhookAuthConfiguration = WebhookAuthConfiguration()


class DefinitionFile(AwsModel):
    """One file of the pipelines folder: a pipeline, resource sections, or both."""

    pipeline: PipelineDeclaration | None = None
    repositories: dict[str, Repository] = {}
    projects: dict[str, Project] = {}
    functions: dict[str, Function] = {}
    stacks: dict[str, Stack] = {}
    buckets: dict[str, Bucket] = {}
    clusters: dict[str, Cluster] = {}
    secrets: dict[SecretName, Secret] = {}  # type: ignore[valid-type]
    parameters: dict[ParameterName, Parameter] = {}  # type: ignore[valid-type]
    alarms: dict[AlarmName, Alarm] = {}  # type: ignore[valid-type]
    webhooks: dict[PipelineName, Webhook] = {}  # type: ignore[valid-type]  # WebhookName: PipelineName's pattern
    schedules: list[Schedule] = []
    topics: dict[TopicName, Topic] = {}  # type: ignore[valid-type]  # SNS topics (topic_models.py)
    customActionTypes: list[CustomActionType] = []  # stand-ins for the account's (custom_types.py)
    eventRules: list[EventRule] = []  # EventBridge rules on events (event_rules.py)
    # get-pipeline prints it beside the pipeline; it describes AWS's copy, not the declaration.
    metadata: Any = Field(default=None, exclude=True)


# --- rules that span fields ---


# The action types pipemu carries out (AWS's whole list, with the ones only recorded, is in
# action_types.py).
SUPPORTED_ACTION_TYPES: dict[tuple[str, str, str], ActionTypeSpec] = {
    key: spec for key, spec in ACTION_TYPES.items() if spec.emulated
}

RESOURCE_KINDS = {
    "repositories": "repository",
    "projects": "project",
    "functions": "function",
    "stacks": "stack",
    "buckets": "bucket",
    "clusters": "cluster",
    "secrets": "secret",
    "parameters": "parameter",
    "alarms": "alarm",
    "topics": "topic",
    "webhooks": "webhook",
}


# AWS's fixed quotas (CodePipeline user guide, "Quotas"): stages per pipeline, actions per stage,
# the length of one action configuration value.
MAX_STAGES = 50
MAX_ACTIONS = 50
MAX_CONFIGURATION_VALUE = 1000


def _loc_text(loc: Loc) -> str:
    return "".join(f"[{e}]" if isinstance(e, int) else (f".{e}" if i else e) for i, e in enumerate(loc))


def _count(low_high: tuple[int, int], noun: str) -> str:
    low, high = low_high
    if high == 0:
        return f"no {noun}s"
    if low == high:
        return f"exactly {low} {noun}" + ("s" if low != 1 else "")
    return f"{low}..{high} {noun}s"


def check_pipeline(pipeline: PipelineDeclaration) -> list[Problem]:
    """Every rule AWS applies across fields, as (path, message); paths are relative to the pipeline."""
    problems: list[Problem] = []
    if not 2 <= len(pipeline.stages) <= MAX_STAGES:
        problems.append((("stages",), f"a pipeline needs 2..{MAX_STAGES} stages (AWS's quota), not {len(pipeline.stages)}"))
    stage_names: dict[str, int] = {}
    namespaces: dict[str, Loc] = {}
    # artifact name -> (stage index, runOrder, path of the output)
    producers: dict[str, tuple[int, int, Loc]] = {}
    for s, stage in enumerate(pipeline.stages):
        at_stage: Loc = ("stages", s)
        if stage.name in stage_names:
            problems.append((at_stage + ("name",), f"duplicate stage name {stage.name} (also stages[{stage_names[stage.name]}])"))
        stage_names.setdefault(stage.name, s)
        if not 1 <= len(stage.actions) <= MAX_ACTIONS:
            problems.append((at_stage + ("actions",), f"a stage needs 1..{MAX_ACTIONS} actions (AWS's quota)"))
        from .conditions_check import check_conditions  # it reads this module's shapes

        problems.extend(check_conditions(stage, at_stage, pipeline.executionMode or "SUPERSEDED"))
        action_names: dict[str, int] = {}
        for a, action in enumerate(stage.actions):
            at: Loc = at_stage + ("actions", a)
            if action.name in action_names:
                problems.append((at + ("name",), f"duplicate action name {action.name} in stage {stage.name} (also actions[{action_names[action.name]}])"))
            action_names.setdefault(action.name, a)
            if action.namespace is not None:  # AWS: "Namespaces must be unique across the pipeline definition"
                if action.namespace in namespaces:
                    problems.append((at + ("namespace",), f"namespace {action.namespace} is also declared by "
                                                          f"{_loc_text(namespaces[action.namespace])}: namespaces must be "
                                                          "unique across the pipeline"))
                namespaces.setdefault(action.namespace, at)
            category = action.actionTypeId.category
            if s == 0 and category != "Source":
                problems.append((at + ("actionTypeId", "category"), f"the first stage may hold only Source actions, not {category}"))
            if s > 0 and category == "Source":
                problems.append((at + ("actionTypeId", "category"), "Source actions must be in the first stage"))
            problems.extend(_check_action_type(action, at))
            problems.extend(_check_compute(action, at, pipeline.pipelineType))
            for key, value in (action.configuration or {}).items():
                if len(value) > MAX_CONFIGURATION_VALUE:
                    problems.append((at + ("configuration", key), f"is {len(value)} characters; AWS takes at most {MAX_CONFIGURATION_VALUE}"))
            for o, output in enumerate(action.outputArtifacts):
                if output.name in producers:
                    problems.append((at + ("outputArtifacts", o, "name"), f"artifact {output.name} is already produced by {_loc_text(producers[output.name][2][:-3])}"))
                else:
                    producers[output.name] = (s, action.runOrder, at + ("outputArtifacts", o, "name"))
    for s, stage in enumerate(pipeline.stages):
        for a, action in enumerate(stage.actions):
            for i, artifact in enumerate(action.inputArtifacts):
                at = ("stages", s, "actions", a, "inputArtifacts", i, "name")
                producer = producers.get(artifact.name)
                if producer is None:
                    problems.append((at, f"no action produces artifact {artifact.name}"))
                elif not (producer[0] < s or (producer[0] == s and producer[1] < action.runOrder)):
                    problems.append((at, f"artifact {artifact.name} is produced by {_loc_text(producer[2][:-3])}, which does not run before this action"))
    return problems


def _check_action_type(action: ActionDeclaration, at: Loc) -> list[Problem]:
    """AWS's rules for an action type pipemu carries out. Other types are accepted as they are
    (coverage.py warns about them): their rules are AWS's to apply."""
    type_id = action.actionTypeId
    spec = SUPPORTED_ACTION_TYPES.get(type_id.key)
    if spec is None:
        return []
    problems: list[Problem] = []
    configuration = action.configuration or {}
    for key in spec.required:
        if key not in configuration:
            problems.append((at + ("configuration", key), f"required by {type_id.provider} actions"))
    allowed = spec.required + spec.optional
    for key in configuration:
        if key not in allowed:
            problems.append((at + ("configuration", key), f"unknown configuration key for {type_id.provider} (allowed: {', '.join(allowed) or 'none'})"))
    for noun, found, limits in (("input", action.inputArtifacts, spec.inputs), ("output", action.outputArtifacts, spec.outputs)):
        if not limits[0] <= len(found) <= limits[1]:
            problems.append((at + (f"{noun}Artifacts",), f"{type_id.provider} ({type_id.category}) takes {_count(limits, noun + ' artifact')}"))
    return problems


# Java's line terminators: a command holding one is multi-line, which AWS refuses.
_LINE_BREAK = re.compile("[\n\r\x85\u2028\u2029]")


def _check_compute(action: ActionDeclaration, at: Loc, pipeline_type: str) -> list[Problem]:
    """AWS's rules for V2-only action types and the fields of compute actions: `commands` and an
    output's `files` only on a compute action, a Commands action's `commands` present, one line each."""
    type_id = action.actionTypeId
    spec = ACTION_TYPES.get(type_id.key)
    problems: list[Problem] = []
    if spec is not None and spec.v2_only and pipeline_type != "V2":
        problems.append((at + ("actionTypeId",), f"{type_id.provider} ({type_id.category}) actions are only available "
                                                 "in V2 pipelines (pipelineType: V2)"))
    if type_id.category != "Compute":
        # AWS's words, for `files` too (an output's files are the compute action's to select).
        refused = f"The following action cannot contain a commands field: {action.name}. To use the commands field, use a compute action."
        if action.commands is not None:
            problems.append((at + ("commands",), refused))
        problems.extend((at + ("outputArtifacts", o, "files"), refused)
                        for o, output in enumerate(action.outputArtifacts) if output.files is not None)
        return problems
    if type_id.key == ("Compute", "AWS", "Commands") and not action.commands:
        problems.append((at + ("commands",), f"Action {action.name} must have a non-empty commands field"))
    for c, command in enumerate(action.commands or ()):
        if _LINE_BREAK.search(command):
            problems.append((at + ("commands", c), "is multi-line: AWS takes single-line commands only"))
    return problems


def resource_name(action: ActionDeclaration, key: str) -> str | None:
    """The name of the resource an action's configuration `key` names. A GitHub (version 1)
    source names its repository by `Owner` and `Repo`: the stand-in is `Owner/Repo`, as a
    connection's FullRepositoryId."""
    configuration = action.configuration or {}
    if action.actionTypeId.key == ("Source", "ThirdParty", "GitHub"):
        owner, repo = configuration.get("Owner"), configuration.get("Repo")
        return f"{owner}/{repo}" if owner is not None and repo is not None else None
    return configuration.get(key)


def resource_keys(action: ActionDeclaration) -> dict[str, str]:
    """Configuration key -> section of the resources an emulated action names."""
    if action.actionTypeId.key == ("Source", "ThirdParty", "GitHub"):
        return {"Repo": "repositories"}
    spec = SUPPORTED_ACTION_TYPES.get(action.actionTypeId.key)
    return spec.resources if spec else {}


def referenced_resources(pipeline: PipelineDeclaration) -> list[tuple[Loc, str, str]]:
    """(path, section, name) of every resource the pipeline's actions name, e.g.
    `(("stages", 1, "actions", 0, "configuration", "ProjectName"), "projects", "build")`."""
    found = []
    for s, stage in enumerate(pipeline.stages):
        for a, action in enumerate(stage.actions):
            for key, section in resource_keys(action).items():
                name = resource_name(action, key)
                if name is not None:
                    found.append((("stages", s, "actions", a, "configuration", key), section, name))
    return found
