"""Hypothesis strategies for CodePipeline pipeline declarations, and what AWS answers for them.

Two families:

- `model_create_input()` / `model_declaration()`: values botocore's service model allows
  (required members, lengths, patterns, enums, list and map sizes, integer ranges), nothing more:
  drawn member by member from the model, or a declaration AWS accepts with a few members redrawn
  from the model. AWS may refuse such a declaration (a provider that does not exist, an input
  artifact nobody produces), but only with one of the operation's modeled errors.
- `aws_declarations()`: declarations AWS accepts: a first stage of Source actions, later stages
  of real action types with their documented configuration, artifacts flowing forward, and the V2
  members (stage conditions and rules, retry, triggers, variables, execution modes, environment
  variables, namespaces, timeouts) where AWS allows them, drawn from the model's shapes.
  `changed_copy()` changes one the ways UpdatePipeline accepts.

`as_answered()` states in one place what AWS adds to a declaration in the `pipeline` of
CreatePipeline's, UpdatePipeline's and GetPipeline's answers.

Strategies are built once (module constants, caches) and drawn from plain functions: building
hypothesis strategies on every draw made each example, and so shrinking, several times slower.
"""

from __future__ import annotations

import copy
import functools
import json
import operator
import re
import string
from typing import Callable, Sequence

import botocore.model
from hypothesis import strategies as st

from emulator.api.shapes import service_model

MODEL = service_model()
REGION = "us-east-1"  # the pipeline's Region: the client's
ACCOUNT = "123456789012"

# --------------------------------------------------------------------------- the model's values

# Java's `.` matches no line terminator, Python's only excludes \n: text generated for a pattern
# leaves them all out, so that it fits the pattern as AWS (Java) reads it too.
LINE_TERMINATORS = "\n\r\x85\u2028\u2029"
# One UTF-16 unit per character (Java's length), no surrogates (JSON as UTF-8).
ANY_CHAR = st.characters(codec="utf-8", max_codepoint=0xFFFF)
PATTERN_CHAR = st.characters(codec="utf-8", max_codepoint=0xFFFF, exclude_characters=LINE_TERMINATORS)
# Java constructs Python's `re` lacks or reads differently: no value is generated from such a
# pattern (an optional member is left out; a required one makes its structure ungeneratable).
_JAVA_ONLY = re.compile(r"\\[pPQEhHRXzGvVkK]|&&|\(\?<[A-Za-z]")
# A pattern that is one character class repeated (`[a-z0-9-]+`, `.*`), as most of the model's.
_REPEATED_CLASS = re.compile(r"(\[(?:\\.|[^\]\\])+\]|\.)([+*])")
# Unbounded (or huge) lists and maps get at most this many members more than their minimum.
MAX_EXTRA_MEMBERS = 3


def java_pattern(pattern: str) -> re.Pattern | None:
    """`pattern` (Java syntax, as botocore's model writes it) as a Python regex with Java's
    meaning, or None when Python cannot read it so."""
    if _JAVA_ONLY.search(pattern):
        return None
    try:
        return re.compile(pattern, re.ASCII)  # Java's \w, \d and \s are ASCII classes
    except re.error:
        return None


@functools.lru_cache(maxsize=None)
def _class_alphabet(char_class: str) -> str:
    """Every character (one UTF-16 unit, no line terminator) that `char_class` matches."""
    regex = re.compile(char_class, re.ASCII)
    return "".join(c for c in map(chr, range(0x10000))
                   if not 0xD800 <= ord(c) <= 0xDFFF and c not in LINE_TERMINATORS and regex.fullmatch(c))


def model_string(shape_: botocore.model.StringShape) -> st.SearchStrategy[str]:
    if shape_.enum:
        return st.sampled_from(shape_.enum)
    low = shape_.metadata.get("min", 0)
    high = shape_.metadata.get("max", 10_000)
    pattern = shape_.metadata.get("pattern")
    if pattern is None:
        return st.text(ANY_CHAR, min_size=low, max_size=high)
    regex = java_pattern(pattern)
    if regex is None:
        return st.nothing()
    repeated = _REPEATED_CLASS.fullmatch(pattern)
    if repeated:
        plus = int(repeated.group(2) == "+")
        return st.text(_class_alphabet(repeated.group(1)), min_size=max(low, plus), max_size=high)
    return (st.from_regex(regex, fullmatch=True, alphabet=PATTERN_CHAR).map(lambda s: s[:high])
            .filter(lambda s: len(s) >= low and regex.fullmatch(s)))


def model_values(shape_: botocore.model.Shape, plausible: bool = False) -> st.SearchStrategy:
    """Values of `shape_` that botocore's model allows. With `plausible`, values of
    `plausible_model_values()` (model-valid too) are mixed in for some shapes, so that real action
    types and shared names meet often."""
    key = (shape_.name, plausible)
    if key not in _BUILT:
        own = _members(shape_, plausible)
        extra = plausible_model_values().get(shape_.name) if plausible else None
        _BUILT[key] = st.one_of(own, extra) if extra is not None else own
    return _BUILT[key]


_BUILT: dict[tuple[str, bool], st.SearchStrategy] = {}  # shapes are named: one strategy per name


def _size(shape_) -> tuple[int, int]:
    low = shape_.metadata.get("min", 0)
    return low, min(shape_.metadata.get("max", low + MAX_EXTRA_MEMBERS), low + MAX_EXTRA_MEMBERS)


def _members(shape_, plausible: bool) -> st.SearchStrategy:
    kind = shape_.type_name
    if kind == "structure":
        required, optional = {}, {}
        for name, member in shape_.members.items():
            (required if name in shape_.required_members else optional)[name] = model_values(member, plausible)
        return st.fixed_dictionaries(required, optional=optional)
    if kind == "list":
        low, high = _size(shape_)
        return st.lists(model_values(shape_.member, plausible), min_size=low, max_size=high)
    if kind == "map":
        low, high = _size(shape_)
        return st.dictionaries(model_values(shape_.key, plausible), model_values(shape_.value, plausible),
                               min_size=low, max_size=high)
    if kind == "string":
        return model_string(shape_)
    if kind in ("integer", "long"):
        bits = 31 if kind == "integer" else 63
        return st.integers(shape_.metadata.get("min", -(2**bits)), shape_.metadata.get("max", 2**bits - 1))
    if kind == "boolean":
        return st.booleans()
    raise NotImplementedError(f"no values for {shape_.name} ({kind})")  # none under a declaration


def shape(name: str) -> botocore.model.Shape:
    return MODEL.shape_for(name)


def of_shape(name: str) -> st.SearchStrategy:
    """Model values of the named shape."""
    return model_values(shape(name))


# --------------------------------------------------------------------------- drawing helpers

@functools.lru_cache(maxsize=None)
def _index(n: int) -> st.SearchStrategy[int]:
    return st.integers(0, n - 1)


@functools.lru_cache(maxsize=None)
def _indices(n: int, low: int, high: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, n - 1), min_size=low, max_size=high, unique=True)


def pick(draw, items: Sequence):
    """One of `items` (shrinks towards the first)."""
    return items[draw(_index(len(items)))]


def some(draw, items: Sequence, low: int, high: int) -> list:
    """`low`..`high` distinct members of `items`, in a drawn order."""
    high = min(high, len(items))
    return [items[i] for i in draw(_indices(len(items), low, high))] if high else []


def one_in(draw, n: int) -> bool:
    """True once in `n` (shrinks towards False: the simplest example goes without)."""
    return draw(_index(n)) == n - 1


LOWER, LETTERS, DIGITS = string.ascii_lowercase, string.ascii_letters, string.digits


def word(first: str, rest: str, low: int, high: int) -> st.SearchStrategy[str]:
    """One character of `first`, then `low`..`high` characters of `rest`."""
    return st.builds(operator.add, st.sampled_from(first), st.text(rest, min_size=low, max_size=high))


def _optional(**members: st.SearchStrategy) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({}, optional=members)


# Configuration values: names, ARNs and paths in the forms AWS documents.
LOWER_NAME = word(LOWER, LOWER + DIGITS + "-", 2, 20)
NAME = word(LETTERS, LETTERS + DIGITS + "_-", 0, 30)
BRANCH = st.sampled_from(["main", "master", "develop", "release/1.0", "feature/x-1"]) | LOWER_NAME


def role_arn(path: str, name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{path}{name}"


ROLE_ARN = st.builds(role_arn, st.sampled_from(["", "service-role/", "team/ci/"]),
                     st.text(LETTERS + DIGITS + "_+=,.@-", min_size=1, max_size=40))
TEXT = st.text(st.characters(codec="ascii", min_codepoint=32, max_codepoint=126, exclude_characters="#"),
               min_size=1, max_size=60)  # no `#{...}`: that would be a variable reference
BOOL_TEXT = st.sampled_from(["true", "false"])
ARTIFACT_FORMAT = st.sampled_from(["CODE_ZIP", "CODEBUILD_CLONE_REF"])
CONNECTION_ARN = st.builds(lambda service, uuid: f"arn:aws:{service}:{REGION}:{ACCOUNT}:connection/{uuid}",
                           st.sampled_from(["codestar-connections", "codeconnections"]), st.uuids().map(str))
PROJECT_NAME = word(LETTERS + DIGITS, LETTERS + DIGITS + "_-", 1, 40)
CODEBUILD_OPTIONAL = _optional(BatchEnabled=st.just("false"), EnvironmentVariables=st.lists(
    st.fixed_dictionaries({"name": NAME, "value": TEXT, "type": st.just("PLAINTEXT")}),
    min_size=1, max_size=2).map(json.dumps))
CLOUDFORMATION_OPTIONAL = _optional(
    Capabilities=st.sampled_from(["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM,CAPABILITY_AUTO_EXPAND"]),
    ParameterOverrides=st.dictionaries(NAME, TEXT, min_size=1, max_size=2).map(json.dumps))
TEMPLATE_FILE = st.sampled_from(["template.yml", "infra/stack.json"])
COMMAND = st.sampled_from(["echo hello", "ls -la", "make test", "npm ci && npm test", "env"]) | st.text(
    st.characters(codec="utf-8", max_codepoint=0xFFFF, exclude_characters=LINE_TERMINATORS + "#"),
    min_size=1, max_size=200)  # one line each: AWS takes no multi-line commands
COMMANDS = st.lists(COMMAND, min_size=1, max_size=5)
OUTPUT_FILES = st.lists(st.sampled_from(["**/*", "dist/**/*", "report.xml", "out/app.zip"]),
                        min_size=1, max_size=3, unique=True)
OUTPUT_VARIABLES = st.lists(word(LETTERS + "_", LETTERS + DIGITS + "_", 0, 20), min_size=1, max_size=5, unique=True)
STORE_LOCATION = st.builds(operator.add, word(LOWER + DIGITS, LOWER + DIGITS + ".-", 1, 60),
                           st.sampled_from(LOWER + DIGITS)).filter(lambda s: not re.search(r"\.[.-]|-\.", s))
KEY_ID = st.uuids().map(str) | NAME.map("alias/{}".format) | st.uuids().map(
    lambda uuid: f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{uuid}")
OTHER_REGIONS = ["us-west-2", "eu-west-1", "ap-southeast-2"]


@st.composite
def _environment_variable(draw) -> dict:
    kind = pick(draw, ["PLAINTEXT", "SECRETS_MANAGER"])
    value = (f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{draw(NAME)}" if kind == "SECRETS_MANAGER"
             else draw(of_shape("EnvironmentVariableValue")))
    return {"name": draw(of_shape("EnvironmentVariableName")), "value": value, "type": kind}


ENVIRONMENT_VARIABLES = st.lists(_environment_variable(), min_size=1, max_size=4, unique_by=lambda v: v["name"].lower())
PIPELINE_VARIABLES = st.lists(st.fixed_dictionaries(
    {"name": of_shape("PipelineVariableName")},
    optional={"defaultValue": of_shape("PipelineVariableValue"),
              "description": of_shape("PipelineVariableDescription").filter(bool)}),
    min_size=1, max_size=4, unique_by=lambda v: v["name"].lower())

# --------------------------------------------------------------------------- AWS's action types

Config = Callable[..., "dict | None"]  # (draw, input names, output names) -> configuration


def _id(category: str, owner: str, provider: str) -> dict:
    return {"category": category, "owner": owner, "provider": provider, "version": "1"}


class ActionKind:
    """One AWS action type: its id, how to draw its configuration, how many artifacts it takes
    and gives, and which optional members AWS allows on it."""

    def __init__(self, type_id: dict, config: Config, inputs=(0, 0), outputs=(0, 0), *, v2_only=False,
                 variables=True, cross_region=False, role=True):
        self.type_id, self.config = type_id, config
        self.inputs, self.outputs = inputs, outputs
        self.v2_only, self.variables, self.cross_region, self.role = v2_only, variables, cross_region, role

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.type_id["category"], self.type_id["owner"], self.type_id["provider"])


def _fixed(required: dict, optional: dict | None = None) -> Config:
    """A configuration of fixed keys: each required, and each optional one or not."""
    strategy = st.fixed_dictionaries(required, optional=optional or {})
    return lambda draw, inputs, outputs: draw(strategy)


def _codebuild(draw, inputs, outputs) -> dict:
    config = {"ProjectName": draw(PROJECT_NAME)}
    if len(inputs) > 1:  # required with several inputs: which one is the primary source
        config["PrimarySource"] = pick(draw, inputs)
    return config | draw(CODEBUILD_OPTIONAL)


def _cloudformation(draw, inputs, outputs) -> dict:
    with_template = ["CREATE_UPDATE", "REPLACE_ON_FAILURE", "CHANGE_SET_REPLACE"]
    mode = pick(draw, ["DELETE_ONLY", "CHANGE_SET_EXECUTE"] + (with_template if inputs else []))
    config = {"ActionMode": mode, "StackName": draw(NAME)}
    if mode != "CHANGE_SET_EXECUTE":
        config["RoleArn"] = draw(ROLE_ARN)
    if mode in with_template:
        config["TemplatePath"] = f"{pick(draw, inputs)}::{draw(TEMPLATE_FILE)}"
        config |= draw(CLOUDFORMATION_OPTIONAL)
    if mode.startswith("CHANGE_SET"):
        config["ChangeSetName"] = draw(NAME)
    if outputs and mode != "DELETE_ONLY" and one_in(draw, 2):
        config["OutputFileName"] = "outputs.json"
    return config


def _step_functions(draw, inputs, outputs) -> dict:
    config = {"StateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{draw(NAME)}"}
    if inputs:
        config |= {"InputType": "FilePath", "Input": "input.json"}
    elif one_in(draw, 2):
        config |= {"InputType": "Literal", "Input": '{"key": "value"}'}
    if one_in(draw, 2):
        config["ExecutionNamePrefix"] = draw(NAME)
    return config


def _s3_deploy(draw, inputs, outputs) -> dict:
    config = {"BucketName": draw(LOWER_NAME), "Extract": draw(BOOL_TEXT)}
    if config["Extract"] == "false":
        config["ObjectKey"] = pick(draw, ["site.zip", "releases/app.zip"])
    if one_in(draw, 2):
        config["CacheControl"] = "max-age=60"
    return config


SOURCE_KINDS = [
    ActionKind(_id("Source", "AWS", "CodeCommit"), _fixed(
        {"RepositoryName": st.text(LETTERS + DIGITS + "_.-", min_size=1, max_size=40), "BranchName": BRANCH},
        {"PollForSourceChanges": BOOL_TEXT, "OutputArtifactFormat": ARTIFACT_FORMAT}), outputs=(1, 1)),
    ActionKind(_id("Source", "AWS", "S3"), _fixed(
        {"S3Bucket": LOWER_NAME, "S3ObjectKey": st.sampled_from(["source.zip", "app/source.zip"])},
        {"PollForSourceChanges": BOOL_TEXT}), outputs=(1, 1)),
    ActionKind(_id("Source", "AWS", "ECR"), _fixed(
        {"RepositoryName": st.builds(str.join, st.sampled_from("._-"), st.lists(
            st.text(LOWER + DIGITS, min_size=1, max_size=10), min_size=1, max_size=3))},
        {"ImageTag": st.sampled_from(["latest", "v1.2.3"])}), outputs=(1, 1)),
    ActionKind(_id("Source", "AWS", "CodeStarSourceConnection"), _fixed(
        {"ConnectionArn": CONNECTION_ARN, "FullRepositoryId": st.builds("{}/{}".format, LOWER_NAME, LOWER_NAME),
         "BranchName": BRANCH},
        {"OutputArtifactFormat": ARTIFACT_FORMAT, "DetectChanges": BOOL_TEXT}), outputs=(1, 1)),
    # GitHub version 1 (OAuth app): in V1 pipelines only, here.
    ActionKind(_id("Source", "ThirdParty", "GitHub"), _fixed(
        {"Owner": LOWER_NAME, "Repo": LOWER_NAME, "Branch": BRANCH,
         "OAuthToken": st.text("0123456789abcdef", min_size=40, max_size=40)},
        {"PollForSourceChanges": BOOL_TEXT}), outputs=(1, 1), role=False),
]

LATER_KINDS = [
    ActionKind(_id("Build", "AWS", "CodeBuild"), _codebuild, (1, 5), (0, 5), cross_region=True),
    ActionKind(_id("Test", "AWS", "CodeBuild"), _codebuild, (1, 5), (0, 5), cross_region=True),
    ActionKind(_id("Deploy", "AWS", "CloudFormation"), _cloudformation, (0, 10), (0, 1), cross_region=True),
    ActionKind(_id("Deploy", "AWS", "ECS"), _fixed(
        {"ClusterName": NAME, "ServiceName": NAME},
        {"FileName": st.just("imagedefinitions.json"), "DeploymentTimeout": st.integers(1, 60).map(str)}),
        (1, 1), variables=False),
    ActionKind(_id("Deploy", "AWS", "CodeDeploy"), _fixed({"ApplicationName": NAME, "DeploymentGroupName": NAME}),
               (1, 1), variables=False),
    ActionKind(_id("Deploy", "AWS", "S3"), _s3_deploy, (1, 1), variables=False),
    ActionKind(_id("Invoke", "AWS", "Lambda"), _fixed({"FunctionName": NAME}, {"UserParameters": TEXT}),
               (0, 5), (0, 5), cross_region=True),
    ActionKind(_id("Invoke", "AWS", "StepFunctions"), _step_functions, (0, 1), (0, 1)),
    ActionKind(_id("Approval", "AWS", "Manual"), _fixed({}, {
        "CustomData": TEXT, "ExternalEntityLink": st.just("https://example.com/review"),
        "NotificationArn": NAME.map(lambda n: f"arn:aws:sns:{REGION}:{ACCOUNT}:{n}")}), variables=False),
    # V2's Commands: `commands` (and the like) on the action itself, no configuration.
    ActionKind(_id("Compute", "AWS", "Commands"), lambda draw, inputs, outputs: None, (1, 10), (0, 1), v2_only=True),
]

# Configuration keys AWS keeps secret: its answers show them masked.
SECRET_KEYS = {("Source", "ThirdParty", "GitHub"): {"OAuthToken"}}
MASK = "****"

REAL_ACTION_TYPES = [kind.type_id for kind in SOURCE_KINDS + LATER_KINDS]
RULE_PROVIDERS = ["LambdaInvoke", "CloudWatchAlarm", "VariableCheck", "DeploymentWindow", "Commands"]
CONFIGURATION_KEYS = ["RepositoryName", "BranchName", "PollForSourceChanges", "S3Bucket", "S3ObjectKey",
                      "ConnectionArn", "FullRepositoryId", "DetectChanges", "Owner", "Repo", "Branch", "OAuthToken",
                      "ProjectName", "PrimarySource", "ActionMode", "StackName", "TemplatePath", "RoleArn",
                      "FunctionName", "UserParameters", "CustomData", "ClusterName", "ServiceName", "BucketName",
                      "Extract", "ApplicationName", "DeploymentGroupName", "StateMachineArn", "ImageTag"]


@functools.lru_cache(maxsize=1)
def plausible_model_values() -> dict:
    """Model-valid values mixed into `model_values(..., plausible=True)` by shape name: real
    action and rule types, real configuration keys, a few shared names (so that references meet)."""
    return {
        "ActionTypeId": st.sampled_from(REAL_ACTION_TYPES),
        "RuleTypeId": st.sampled_from([{"category": "Rule", "owner": "AWS", "provider": p, "version": "1"}
                                       for p in RULE_PROVIDERS]),
        "ActionConfigurationMap": st.dictionaries(
            st.sampled_from(CONFIGURATION_KEYS), of_shape("ActionConfigurationValue") | BRANCH | BOOL_TEXT, max_size=4),
        "ArtifactName": st.sampled_from(["src", "build", "out"]),
        "StageName": st.sampled_from(["Source", "Build", "Deploy"]),
        "ActionName": st.sampled_from(["source", "build", "deploy"]),
        "ActionNamespace": st.sampled_from(["SourceVariables", "BuildVariables"]),
        "PipelineType": st.just("V2"),
    }


# --------------------------------------------------------------------------- AWS-valid declarations

class Names:
    """Fresh names (case-insensitively unique per shape) within one declaration: a drawn name
    already taken gets a number at its end (every name pattern here allows digits)."""

    def __init__(self, draw):
        self.draw, self.used = draw, set()

    def __call__(self, shape_name: str) -> str:
        name = self.draw(of_shape(shape_name))
        high = shape(shape_name).metadata.get("max", 100)
        number = 0
        while (shape_name, name.lower()) in self.used:
            number += 1
            name = name[: high - len(str(number))] + str(number)
        self.used.add((shape_name, name.lower()))
        return name


def _action(draw, names: Names, kind: ActionKind, available: list[str], v2: bool, regions: list[str] | None) -> dict:
    """One action of `kind`, its inputs among `available` (made earlier)."""
    inputs = some(draw, available, *kind.inputs)
    outputs = [names("ArtifactName") for _ in range(draw(_index(kind.outputs[1] + 1)))] if kind.outputs[1] else []
    if kind.outputs[0] and not outputs:
        outputs = [names("ArtifactName")]
    action = {"name": names("ActionName"), "actionTypeId": dict(kind.type_id)}
    configuration = kind.config(draw, inputs, outputs)
    if configuration is not None and (configuration or one_in(draw, 2)):
        action["configuration"] = configuration
    # Absent or empty artifact lists mean the same to AWS: both forms are sent.
    if inputs or one_in(draw, 2):
        action["inputArtifacts"] = [{"name": n} for n in inputs]
    if outputs or one_in(draw, 2):
        action["outputArtifacts"] = [{"name": n} for n in outputs]
    if kind.key == ("Compute", "AWS", "Commands"):
        action["commands"] = draw(COMMANDS)
        for artifact in action.get("outputArtifacts", []):
            artifact["files"] = draw(OUTPUT_FILES)
        if one_in(draw, 2):
            action["outputVariables"] = draw(OUTPUT_VARIABLES)
        if one_in(draw, 2):
            action["environmentVariables"] = draw(ENVIRONMENT_VARIABLES)
    if kind.role and one_in(draw, 5):
        action["roleArn"] = draw(ROLE_ARN)
    if kind.variables and one_in(draw, 4):
        action["namespace"] = names("ActionNamespace")
    if v2 and kind.key == ("Approval", "AWS", "Manual") and one_in(draw, 2):
        action["timeoutInMinutes"] = draw(of_shape("ActionTimeout"))
    if regions is not None and kind.cross_region and one_in(draw, 3):
        action["region"] = pick(draw, OTHER_REGIONS)
        regions.append(action["region"])
    return action


def _stage_actions(draw, names: Names, kinds: list[ActionKind], available: list[str], v2: bool,
                   regions: list[str] | None) -> list[dict]:
    """A stage's 1..3 actions in runOrder (1, 2, ... without gaps); an action takes artifacts
    made in earlier stages or by this stage's actions of a lower runOrder."""
    actions, made_here, run_order = [], [], 1
    for i in range(1 + draw(_index(3))):
        if i and one_in(draw, 2):
            run_order += 1
            available, made_here = available + made_here, []
        kind = pick(draw, [k for k in kinds if k.inputs[0] <= len(available)])
        action = _action(draw, names, kind, available, v2, regions)
        if run_order > 1 or one_in(draw, 2):
            action["runOrder"] = run_order
        made_here += [a["name"] for a in action.get("outputArtifacts", [])]
        actions.append(action)
    return actions


RULE_CONFIGURATION = {
    "LambdaInvoke": st.fixed_dictionaries({"FunctionName": NAME}, optional={"UserParameters": TEXT}),
    "CloudWatchAlarm": st.fixed_dictionaries({"AlarmName": NAME, "AlarmStates": st.just("ALARM")},
                                             optional={"WaitTime": st.integers(1, 60).map(str)}),
    "DeploymentWindow": st.fixed_dictionaries(
        {"Cron": st.sampled_from(["* * 9-17 ? * MON-FRI", "* 0-59 0-23 ? * *", "* * 22-23 ? * SAT,SUN *"])},
        optional={"TimeZone": st.sampled_from(["UTC", "Europe/Paris", "America/New_York"])}),
    "VariableCheck": st.one_of(
        st.fixed_dictionaries({"Operator": st.sampled_from(["EQ", "NE", "CONTAINS"]), "Value": TEXT}),
        st.fixed_dictionaries({"Operator": st.just("MATCHES"),
                               "Value": st.sampled_from(["^[0-9a-f-]+$", "release-.*", "v[0-9]+"])})),
}
RULE_NAMES = st.lists(of_shape("RuleName"), min_size=1, max_size=3, unique_by=str.lower)


def _condition(draw, result: str, providers: list[str], variables: list[str]) -> dict:
    rules = []
    for name in draw(RULE_NAMES):
        provider = pick(draw, providers)
        configuration = draw(RULE_CONFIGURATION[provider])
        if provider == "VariableCheck":  # a variable that exists: the execution's, or the pipeline's
            configuration["Variable"] = pick(draw, ["#{codepipeline.PipelineExecutionId}"]
                                             + [f"#{{variables.{v}}}" for v in variables])
        rules.append({"name": name, "ruleTypeId": {"category": "Rule", "owner": "AWS", "provider": provider,
                                                   "version": "1"}, "configuration": configuration})
    return {"result": result, "rules": rules}


def _stage_conditions(draw, variables: list[str], rollback: bool) -> dict:
    """V2 stage conditions (never on the Source stage), with the results AWS allows for each:
    on entry FAIL or SKIP; on success ROLLBACK or FAIL; on failure ROLLBACK, RETRY (with a retry
    mode) or a condition whose result is ROLLBACK."""
    members = {}
    checks = ["LambdaInvoke", "CloudWatchAlarm", "VariableCheck"]
    if one_in(draw, 3):
        members["beforeEntry"] = {"conditions": [
            _condition(draw, pick(draw, ["FAIL", "SKIP"]), checks + ["DeploymentWindow"], variables)]}
    if one_in(draw, 3):
        members["onSuccess"] = {"conditions": [
            _condition(draw, pick(draw, ["FAIL", "ROLLBACK"] if rollback else ["FAIL"]), checks, variables)]}
    if one_in(draw, 3):
        choice = pick(draw, ["RETRY", "ROLLBACK", "CONDITION"] if rollback else ["RETRY"])
        if choice == "RETRY":
            failure = {"result": "RETRY", "retryConfiguration": {"retryMode": draw(of_shape("StageRetryMode"))}}
        elif choice == "ROLLBACK":
            failure = {"result": "ROLLBACK"}
        else:
            failure = {"conditions": [_condition(draw, "ROLLBACK", checks, variables)]}
        members["onFailure"] = failure
    return members


FILTER_PATTERN = st.sampled_from(["main", "release/**", "feature-*", "v*", "**/*.py", "src/**"]) | st.text(
    LETTERS + DIGITS + "._/*-", min_size=1, max_size=40)
_PATTERNS = st.lists(FILTER_PATTERN, min_size=1, max_size=3, unique=True)


def _one_or_both(first: str, second: str, values: st.SearchStrategy, other: st.SearchStrategy) -> st.SearchStrategy:
    """{first}, {second} or both: a structure whose members are optional, but not all of them."""
    return st.fixed_dictionaries({first: values}, optional={second: other}) | st.fixed_dictionaries({second: other})


CRITERIA = _one_or_both("includes", "excludes", _PATTERNS, _PATTERNS)
PUSH_FILTER = st.fixed_dictionaries({"tags": CRITERIA}) | st.fixed_dictionaries(
    {"branches": CRITERIA}, optional={"filePaths": CRITERIA})
PULL_REQUEST_FILTER = st.fixed_dictionaries({
    "events": st.lists(of_shape("GitPullRequestEventType"), min_size=1, max_size=3, unique=True),
    "branches": CRITERIA}, optional={"filePaths": CRITERIA})
GIT_FILTERS = _one_or_both("push", "pullRequest", st.lists(PUSH_FILTER, min_size=1, max_size=3),
                           st.lists(PULL_REQUEST_FILTER, min_size=1, max_size=3))


def _store(draw) -> dict:
    store = {"type": "S3", "location": draw(STORE_LOCATION)}
    if one_in(draw, 4):
        store["encryptionKey"] = {"id": draw(KEY_ID), "type": "KMS"}
    return store


@st.composite
def aws_declarations(draw) -> dict:
    """A pipeline declaration AWS accepts (the resources it names need not exist)."""
    names = Names(draw)
    pipeline_type = pick(draw, [None, "V1", "V2", "V2"])
    v2 = pipeline_type == "V2"
    declaration: dict = {"name": draw(of_shape("PipelineName")), "roleArn": draw(ROLE_ARN)}
    if pipeline_type:
        declaration["pipelineType"] = pipeline_type
    mode = pick(draw, [None, "SUPERSEDED", "QUEUED", "PARALLEL"] if v2 else [None, "SUPERSEDED"])
    if mode:
        declaration["executionMode"] = mode
    rollback = mode != "PARALLEL"  # no rollback in PARALLEL mode
    regions: list[str] | None = [] if one_in(draw, 4) else None  # cross-region actions: artifactStores

    sources = [k for k in SOURCE_KINDS if not (v2 and k.type_id["owner"] == "ThirdParty")]
    if v2:  # connections more often: V2's triggers are theirs
        sources += [k for k in sources if k.key == ("Source", "AWS", "CodeStarSourceConnection")] * 2
    source_actions = [_action(draw, names, pick(draw, sources), [], v2, None) for _ in range(1 + draw(_index(3)))]
    stages = [{"name": names("StageName"), "actions": source_actions}]
    available = [a["name"] for action in source_actions for a in action["outputArtifacts"]]

    variables = draw(PIPELINE_VARIABLES) if v2 and one_in(draw, 2) else []
    if variables:
        declaration["variables"] = variables
    later = [k for k in LATER_KINDS if v2 or not k.v2_only]
    for _ in range(1 + draw(_index(3))):
        actions = _stage_actions(draw, names, later, available, v2, regions)
        stage = {"name": names("StageName"), "actions": actions}
        if v2:
            stage |= _stage_conditions(draw, [v["name"] for v in variables], rollback)
        stages.append(stage)
        available = available + [a["name"] for action in actions for a in action.get("outputArtifacts", [])]
    declaration["stages"] = stages

    if regions:
        declaration["artifactStores"] = {region: _store(draw) for region in [REGION, *regions]}
    else:
        declaration["artifactStore"] = _store(draw)

    connections = [a["name"] for a in source_actions if a["actionTypeId"]["provider"] == "CodeStarSourceConnection"]
    if v2 and connections and one_in(draw, 2):  # at most one trigger per source action
        declaration["triggers"] = [
            {"providerType": "CodeStarSourceConnection",
             "gitConfiguration": {"sourceActionName": name, **draw(GIT_FILTERS)}}
            for name in some(draw, connections, 1, len(connections))]
    return declaration


def uses_rollback(declaration: dict) -> bool:
    return '"ROLLBACK"' in json.dumps(declaration)


def _key(action: dict) -> tuple[str, str, str]:
    t = action["actionTypeId"]
    return (t["category"], t["owner"], t["provider"])


@st.composite
def changed_copy(draw, declaration: dict) -> dict:
    """`declaration` changed in one to three ways UpdatePipeline accepts."""
    changed = copy.deepcopy(declaration)
    names = Names(draw)
    for stage in changed["stages"]:
        names.used.add(("StageName", stage["name"].lower()))
        names.used |= {("ActionName", action["name"].lower()) for action in stage["actions"]}
    v2 = changed.get("pipelineType") == "V2"
    github = any(_key(a) in SECRET_KEYS for s in changed["stages"] for a in s["actions"])
    changes = ["append approval stage", "rename action", "execution mode", "drop last stage", "version"]
    if not v2 and not github:
        changes.append("upgrade to V2")
    if github:
        changes.append("keep secret")
    for change in some(draw, changes, 1, 3):
        if change == "append approval stage":
            changed["stages"].append({"name": names("StageName"), "actions": [
                {"name": names("ActionName"), "actionTypeId": _id("Approval", "AWS", "Manual")}]})
        elif change == "rename action":
            pick(draw, pick(draw, changed["stages"][1:])["actions"])["name"] = names("ActionName")
        elif change == "execution mode":
            modes = ["SUPERSEDED"]
            if v2:
                modes += ["QUEUED"] + ([] if uses_rollback(changed) else ["PARALLEL"])  # no rollback in PARALLEL
            changed["executionMode"] = pick(draw, modes)
        elif change == "drop last stage" and len(changed["stages"]) > 2:
            changed["stages"].pop()
        elif change == "version":  # as a get-pipeline, edit, update-pipeline round trip sends it
            changed["version"] = 1
        elif change == "upgrade to V2":
            changed["pipelineType"] = "V2"
            v2 = True
        elif change == "keep secret":  # sending back the mask AWS answered keeps the secret
            for stage in changed["stages"]:
                for action in stage["actions"]:
                    for key in SECRET_KEYS.get(_key(action), ()) & action.get("configuration", {}).keys():
                        action["configuration"][key] = MASK
    return changed


# --------------------------------------------------------------------------- model-valid inputs

def _slots(value, shape_, path=()):
    """(path, shape, operation) for each change `perturbed` may make to `value` (of `shape_`):
    redraw a present member, drop an optional one, add an absent one or one more list item."""
    if path:
        yield path, shape_, "redraw"
    if shape_.type_name == "structure" and isinstance(value, dict):
        for name, member in shape_.members.items():
            if name in value:
                yield from _slots(value[name], member, path + (name,))
                if name not in shape_.required_members:
                    yield path + (name,), member, "drop"
            else:
                yield path + (name,), member, "add"
    elif shape_.type_name == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            yield from _slots(item, shape_.member, path + (i,))
        if len(value) < shape_.metadata.get("max", len(value) + 1):
            yield path + (len(value),), shape_.member, "add"
    elif shape_.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            yield from _slots(item, shape_.value, path + (key,))


@st.composite
def perturbed(draw, declarations: st.SearchStrategy[dict]) -> dict:
    """A declaration of `declarations` with one to three members redrawn, dropped or added, each
    as botocore's model allows: model-valid, often not what AWS accepts."""
    declaration = copy.deepcopy(draw(declarations))
    for _ in range(1 + draw(_index(3))):
        path, member, operation = pick(draw, list(_slots(declaration, shape("PipelineDeclaration"))))
        parent = declaration
        for step in path[:-1]:
            parent = parent[step]
        if operation == "drop":
            del parent[path[-1]]
        elif isinstance(parent, list) and path[-1] == len(parent):
            parent.append(draw(model_values(member, plausible=True)))
        else:
            parent[path[-1]] = draw(model_values(member, plausible=True))
    return declaration


def model_create_input() -> st.SearchStrategy[dict]:
    """CreatePipeline's input (pipeline, tags) as botocore's model allows it."""
    pipeline = model_values(shape("PipelineDeclaration"), plausible=True) | perturbed(aws_declarations())
    tags = model_values(MODEL.operation_model("CreatePipeline").input_shape.members["tags"])
    return st.fixed_dictionaries({"pipeline": pipeline}, optional={"tags": tags})


def model_declaration(previous: dict) -> st.SearchStrategy[dict]:
    """A model-valid declaration of the pipeline `previous` declared (for UpdatePipeline): drawn
    from the model, or `previous` with a few members redrawn."""
    drawn = model_values(shape("PipelineDeclaration"), plausible=True) | perturbed(st.just(previous))
    return drawn.map(lambda d: {**d, "name": previous["name"]})


# --------------------------------------------------------------------------- what AWS answers

# What AWS adds to the declaration it was sent, in the `pipeline` of CreatePipeline's,
# UpdatePipeline's and GetPipeline's answers (besides `version`: 1 once created, +1 per update).
# It adds no roleArn (the model requires one) and no artifact store (a declaration needs
# artifactStore or artifactStores), no configuration, triggers, variables or conditions; it
# keeps stages and actions in the order sent; and it masks secret configuration values.
# (Members whose default in AWS's answers is not documented are always sent by
# `aws_declarations`: a condition's result, a rule's owner and version, a RETRY's retry mode, an
# environment variable's type, a pull request filter's events.)
PIPELINE_DEFAULTS = {"executionMode": "SUPERSEDED", "pipelineType": "V1"}
ACTION_DEFAULTS = {"runOrder": 1, "inputArtifacts": [], "outputArtifacts": []}


def as_answered(declaration: dict, version: int) -> dict:
    """`declaration` as AWS shows it once it is the pipeline's version `version`."""
    answer = copy.deepcopy(declaration)
    answer["version"] = version
    for key, value in PIPELINE_DEFAULTS.items():
        answer.setdefault(key, value)
    for stage in answer["stages"]:
        for action in stage["actions"]:
            for key, value in ACTION_DEFAULTS.items():
                action.setdefault(key, copy.deepcopy(value))
            for key in SECRET_KEYS.get(_key(action), ()) & action.get("configuration", {}).keys():
                action["configuration"][key] = MASK
    return answer
