"""Importing a CloudFormation template as pipemu definitions (`pipemu import`, and templates put
in the pipelines folder).

The template is evaluated as CloudFormation would for one stack (emulator.cfn.evaluate.Stack: parameters,
pseudo parameters, conditions, mappings, intrinsic functions), then each resource we emulate is
translated into the definition's own shape: a pipeline into `pipeline:` (AWS's API camelCase),
CodeBuild projects, Lambda functions, CodeCommit repositories, CloudWatch alarms, SNS topics (with their
subscriptions) and schedule rules into the local sections. Resources that only matter on AWS (roles,
buckets, keys, topic policies, log groups) are listed
as ignored; any other resource, or a property we cannot honour, raises a TemplateError naming the
resource and the property (and the template's line). A resource's `Metadata.pipemu` (written by
cfn_export) restores local settings AWS has no property for.

One definition per pipeline: `ImportResult.definitions[i]` holds the i-th pipeline (and the
schedules that target it); the first also holds every resource section, since a resource may be
declared once per folder. `ImportResult.definition` is that first one, the whole import for the
common one-pipeline template.

Local stand-ins come from `maps` (CLI `--map KIND:NAME=VALUE`):
  `image:PATTERN=IMAGE`  a CodeBuild image (fnmatch pattern) -> a local image; by default every
                         `aws/codebuild/*` image -> `pipemu/busybox:latest`, any other image is used as is
  `repo:NAME=FOLDER`     a repository's git folder (default `repos/NAME`, beside the definition)
  `bucket:NAME=FOLDER`   an S3 source's bucket folder (default `buckets/NAME`)
  `code:FUNCTION=FOLDER` the code of a Lambda whose code is in S3 (required for those)
  `import:EXPORT=VALUE`  the value of an `Fn::ImportValue` (another stack's export); templates in the
                         pipelines folder see each other's exports (`exports`); else the export's name
  `ssm:NAME=VALUE`       the value of the Systems Manager parameter NAME, for parameters typed
                         `AWS::SSM::Parameter::Value<...>` (by default the name itself, with a warning)
Inline Lambda code (`Code.ZipFile`) is returned in `files` as `code_dir/NAME/index.js` (or
`index.py`), `code_dir` defaulting to `functions`, relative to the written definition.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from emulator.cfn import template as cfn_template, types as cfn_types
from emulator.cfn.evaluate import Stack, TemplateError, dotted_path
from emulator.cfn.template import is_template
from . import cfn_ecs
from .coverage import GITHUB_V1
from .custom_types import CustomActionType
from .models import PipelineDeclaration, check_pipeline, resource_keys, resource_name
from .topic_models import valid_topic_name

__all__ = ["ImportResult", "TemplateError", "import_template", "is_template", "local_image", "nearest_runtime",
           "parse_assignments"]

DEFAULT_IMAGE = "pipemu/busybox:latest"
DEFAULT_IMAGE_MAP = {"aws/codebuild/*": DEFAULT_IMAGE}
MAP_KINDS = ("image", "repo", "bucket", "code", "import", "ssm")

# Accepted and listed as ignored without a warning: they only matter on AWS (permissions, keys,
# storage and connections pipemu stands in for by itself). Every other resource type pipemu does
# not emulate is ignored too, with a warning that names it (it may matter to the pipeline).
IGNORED_PREFIXES = ("AWS::IAM::", "AWS::SNS::TopicPolicy", "AWS::SNS::TopicInlinePolicy", "AWS::KMS::", "AWS::S3::Bucket", "AWS::Lambda::Permission",
                    "AWS::Logs::LogGroup", "AWS::CodeStarConnections::Connection")
# Transforms CloudFormation runs itself (not macros of an account): accepted, their resources ignored.
KNOWN_TRANSFORMS = {"AWS::Serverless-2016-10-31": "AWS::Serverless::*",
                    "AWS::LanguageExtensions": "Fn::ForEach and the other extensions"}
PIPELINE_ARN = re.compile(r"arn:aws[\w-]*:codepipeline:[^:]*:[^:]*:([A-Za-z0-9.@\-_]+)")


@dataclass
class ImportResult:
    definitions: list[dict]  # one per pipeline; the first also holds every resource section
    files: dict[Path, str] = field(default_factory=dict)  # inline Lambda code to write
    ignored: list[str] = field(default_factory=list)  # "AppRole (AWS::IAM::Role)"
    warnings: list[str] = field(default_factory=list)
    exports: dict[str, str] = field(default_factory=dict)  # Outputs' Export.Name -> value

    @property
    def definition(self) -> dict:
        return self.definitions[0]


def parse_assignments(items: list[str]) -> dict[str, str]:
    """`["K=V", ...]` (CLI `--parameter`/`--map`) -> a dict; the first `=` splits."""
    result = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{item!r}: expected KEY=VALUE")
        result[key] = value
    return result


def local_image(aws_image: str, maps: dict[str, str], hint: str | None = None) -> str:
    """The local image for a CodeBuild image: an `image:` map (exact, then patterns), else the
    template's own hint (`Metadata.pipemu.image`, written by export), else the defaults; an image
    nothing matches is used as it is (a public image pulls or builds locally as well)."""
    images = {key[6:]: value for key, value in maps.items() if key.startswith("image:")}
    if aws_image in images:
        return images[aws_image]
    for pattern, image in [*images.items(), *([("*", hint)] if hint else []), *DEFAULT_IMAGE_MAP.items()]:
        if fnmatch.fnmatchcase(aws_image, pattern):
            return image
    return aws_image


def nearest_runtime(runtime: str) -> str | None:
    """The runtime a function runs on here (None when we run neither its language nor a near one)."""
    if m := re.fullmatch(r"nodejs(\d+)?(\.\d+|\.x)?", runtime):
        return runtime if m.group(1) and int(m.group(1)) >= 18 and m.group(2) == ".x" else "nodejs18.x"
    if m := re.fullmatch(r"python(\d)\.(\d+)", runtime):
        return runtime if (int(m.group(1)), int(m.group(2))) >= (3, 8) else "python3.12"
    return None


def import_template(text_or_path: str | Path, parameters: dict[str, str] = {}, maps: dict[str, str] = {},
                    stack_name: str = "pipemu", region: str = "us-east-1", account: str = "123456789012",
                    code_dir: Path | None = None, exports: dict[str, str] | None = None) -> ImportResult:
    """Evaluate a template as one stack and translate it into definitions (see the module's doc)."""
    file = None
    # One line naming a file (or ending like one) is a path: a missing file says so, rather than
    # being read as a one-line template that is not one. JSON on one line is text.
    if isinstance(text_or_path, Path) or ("\n" not in text_or_path and not text_or_path.lstrip().startswith("{")):
        file = str(text_or_path)
        text_or_path = Path(text_or_path).read_text(encoding="utf-8")
    try:
        document = cfn_template.parse(text_or_path)
    except cfn_template.TemplateSyntaxError as exc:
        raise TemplateError((), exc.message, exc.line, exc.column, file) from exc
    if not cfn_template.is_template(document.data):
        raise TemplateError((), "not a CloudFormation template (no AWSTemplateFormatVersion nor typed Resources)", 1, 1, file)
    for key in maps:
        if key.partition(":")[0] not in MAP_KINDS or ":" not in key:
            raise TemplateError(("maps", key), f"unknown map; expected one of {', '.join(k + ':NAME' for k in MAP_KINDS)}")
    stack = Stack(document, dict(parameters), dict(maps), stack_name, region, account, file, exports)
    transforms = stack.template.get("Transform")
    for transform in transforms if isinstance(transforms, list) else [transforms] if transforms else []:
        if transform not in KNOWN_TRANSFORMS:
            raise stack.error(("Transform",), f"the transform {transform} is a macro pipemu cannot run; give the processed "
                                              "template (aws cloudformation get-template --template-stage Processed)")
        stack.warnings.append(f"Transform: {transform} is not carried out: its resources ({KNOWN_TRANSFORMS[transform]}) "
                              "are ignored like other resources pipemu does not emulate")
    return _Translation(stack, Path(code_dir) if code_dir is not None else Path("functions")).run()


# Properties each emulated resource may have: translated ones, then ones accepted without
# effect here (they only matter on AWS), then ones ignored with a warning (they change how the
# resource behaves on AWS, so the user should know we do not honour them).
_PIPELINE = ("Name", "RoleArn", "Stages", "ArtifactStore", "ArtifactStores", "PipelineType", "ExecutionMode",
             "Variables", "Triggers")
_STAGE = ("Name", "Actions", "Blockers", "OnFailure", "OnSuccess", "BeforeEntry")
_ACTION = ("Name", "ActionTypeId", "Configuration", "InputArtifacts", "OutputArtifacts", "RunOrder", "Namespace",
           "Region", "RoleArn", "TimeoutInMinutes", "Commands", "OutputVariables", "EnvironmentVariables")


def _camel(value: Any) -> Any:
    """CloudFormation's PascalCase properties -> the API's camelCase, except inside Configuration
    (the action's own keys, kept as written; values become strings as the API keeps them)."""
    if isinstance(value, list):
        return [_camel(v) for v in value]
    if not isinstance(value, dict):
        return value
    return {k[:1].lower() + k[1:]: ({ck: _config_text(cv) for ck, cv in v.items()} if k == "Configuration" and isinstance(v, dict)
                                    else _camel(v)) for k, v in value.items()}


def _config_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":")) if isinstance(value, (list, dict)) else value


def _pascal(loc: tuple) -> tuple:
    """A path in the camelCase declaration -> the template's path (for error messages)."""
    out, raw = [], False
    for part in loc:
        out.append(part if raw or not isinstance(part, str) else part[:1].upper() + part[1:])
        raw = raw or part == "configuration"
    return tuple(out)


class _Translation:
    """The emulated resources of one evaluated stack -> definitions."""

    def __init__(self, stack: Stack, code_dir: Path) -> None:
        self.s, self.code_dir = stack, code_dir
        self.result = ImportResult([])
        self.sections: dict[str, dict] = {"repositories": {}, "buckets": {}, "projects": {}, "functions": {},
                                          "alarms": {}, "topics": {}, "clusters": {}, "webhooks": {}}
        self.subscriptions: list[tuple[str, dict, tuple]] = []  # AWS::SNS::Subscription: (topic ARN, subscription, path)
        self.pipelines: list[dict] = []
        self.schedules: list[dict] = []
        self.custom_types: list[dict] = []  # AWS::CodePipeline::CustomActionType, in the API's shape
        self.event_rules: list[dict] = []
        self.not_emulated: list[str] = []  # "Logical (AWS::Type)" of resources ignored with a warning

    def run(self) -> ImportResult:
        handlers = {"AWS::CodePipeline::Pipeline": self.pipeline, "AWS::CodeBuild::Project": self.project,
                    "AWS::Lambda::Function": self.function, "AWS::Events::Rule": self.rule,
                    "AWS::Scheduler::Schedule": self.rule, "AWS::CodeCommit::Repository": self.repository,
                    "AWS::CloudWatch::Alarm": self.alarm, "AWS::SNS::Topic": self.topic,
                    "AWS::SNS::Subscription": self.subscription,
                    "AWS::CodePipeline::CustomActionType": self.custom_action_type,
                    "AWS::CodePipeline::Webhook": self.webhook,
                    # ECS services: `clusters:` stand-ins for the ECS deploy action (cfn_ecs.py).
                    "AWS::ECS::Cluster": lambda *a: cfn_ecs.cluster(self, *a),
                    "AWS::ECS::Service": lambda *a: cfn_ecs.service(self, *a),
                    "AWS::ECS::TaskDefinition": lambda *a: None,  # read with its service
                    "AWS::Events::ApiDestination": self.read_elsewhere,
                    "AWS::Events::Connection": self.connection}
        for logical, resource in self.s.resources.items():
            at = ("Resources", logical)
            kind = resource.get("Type") if isinstance(resource, dict) else None
            if not isinstance(kind, str):
                raise self.s.error(at, "a resource needs a Type")
            if "Condition" in resource and not self.s.condition(resource["Condition"], at + ("Condition",)):
                continue
            if kind.startswith(IGNORED_PREFIXES):
                self.result.ignored.append(f"{logical} ({kind})")
            elif kind not in handlers:
                self.result.ignored.append(f"{logical} ({kind})")
                self.not_emulated.append(f"{logical} ({kind})")
            else:
                for key in (resource.get("Properties") or {}) if isinstance(resource.get("Properties"), dict) else ():
                    if not cfn_types.has_property(kind, key):  # CloudFormation refuses it: so do we
                        raise self.s.error(at + ("Properties", key), f"CloudFormation's {kind} has no property {key}")
                props = cfn_types.convert(kind, self.s.eval(resource.get("Properties") or {}, at + ("Properties",)))
                handlers[kind](logical, props, at + ("Properties",), (resource.get("Metadata") or {}).get("pipemu") or {})
        self.attach_subscriptions()
        resources = {k: v for k, v in self.sections.items() if v}
        if self.custom_types:
            resources["customActionTypes"] = self.custom_types
        names = [p["name"] for p in self.pipelines]
        definitions = [{"pipeline": p, **(resources if i == 0 else {})} for i, p in enumerate(self.pipelines)] or [resources]
        for schedule in self.schedules:  # with its pipeline's definition, else with the resources
            index = names.index(schedule["pipeline"]) if schedule["pipeline"] in names else 0
            definitions[index].setdefault("schedules", []).append(schedule)
        if self.event_rules:  # one bus for the whole folder: beside the resources
            definitions[0]["eventRules"] = self.event_rules
        self.result.definitions = definitions
        self.result.exports = self.exports()
        if self.not_emulated:
            self.result.warnings.append(f"not emulated, ignored: {', '.join(self.not_emulated)}; what the pipeline "
                                        "takes from them by Ref or Fn::GetAtt is a name or ARN of the right form")
        self.result.warnings.extend(self.s.warnings)
        return self.result

    def exports(self) -> dict[str, str]:
        """What the stack exports (Outputs with an Export), for the other stacks' Fn::ImportValue."""
        found = {}
        for name, output in (self.s.template.get("Outputs") or {}).items():
            at = ("Outputs", name)
            if not isinstance(output, dict) or "Export" not in output:
                continue
            if "Condition" in output and not self.s.condition(output["Condition"], at + ("Condition",)):
                continue
            export = self.s.eval(output["Export"], at + ("Export",))
            if isinstance(export, dict) and "Name" in export:
                value = self.s.eval(output.get("Value"), at + ("Value",))
                found[self.s.text(export["Name"], at + ("Export", "Name"))] = (
                    value if isinstance(value, str) else json.dumps(value) if isinstance(value, (list, dict)) else self.s.text(value, at))
        return found

    # --- helpers ---

    def warn(self, path: tuple, text: str) -> None:
        self.result.warnings.append(f"{dotted_path(path)}: {text}")

    def keys(self, props: Any, path: tuple, used: tuple, accepted: tuple = (), warned: tuple = ()) -> None:
        if not isinstance(props, dict):
            raise self.s.error(path, "a mapping was expected")
        for key in props:
            if key in warned:
                self.warn(path + (key,), "has no local effect here; ignored")
            elif key not in used and key not in accepted:
                # CloudFormation accepts it (cfn-lint checks templates against its schemas): a
                # property pipemu does not know yet is said and ignored, never refused.
                self.warn(path + (key,), f"{key} is not carried out by pipemu; ignored (it knows: {', '.join(used)})")

    def need(self, props: dict, key: str, path: tuple) -> Any:
        if props.get(key) is None:
            raise self.s.error(path + (key,), "required property is missing")
        return props[key]

    def number(self, value: Any, path: tuple) -> int:
        try:
            return int(self.s.text(value, path))
        except ValueError:
            raise self.s.error(path, f"an integer was expected, got {value!r}") from None

    def flag(self, value: Any, path: tuple) -> bool:
        if isinstance(value, bool) or str(value).lower() in ("true", "false"):
            return value if isinstance(value, bool) else str(value).lower() == "true"
        raise self.s.error(path, f"true or false was expected, got {value!r}")

    def local(self, section: str, name: str) -> None:
        """A repository (or bucket) named in the template, stood in for by a local folder."""
        kind, default = ("repo", "repos") if section == "repositories" else ("bucket", "buckets")
        if name not in self.sections[section]:
            folder = self.s.maps.get(f"{kind}:{name}")
            if folder is None:
                folder = f"{default}/{name}"
                self.result.warnings.append(f"{section[:-1].replace('ie', 'y')} {name}: no --map {kind}:{name}=FOLDER; "
                                            f"its folder is {folder}, relative to the written definition")
            self.sections[section][name] = {"path": folder}

    # --- resources ---

    def pipeline(self, logical: str, props: dict, path: tuple, pipemu: dict) -> None:
        self.keys(props, path, _PIPELINE, ("Tags",), ("RestartExecutionOnUpdate", "DisableInboundStageTransitions"))
        declaration = {"name": self.s.physical_name(logical),
                       **{k[:1].lower() + k[1:]: _camel(v) for k, v in props.items() if k in _PIPELINE and k != "Name"}}
        if isinstance(props.get("ArtifactStores"), list):  # a list of {Region, ArtifactStore} in CloudFormation, a map in the API
            declaration["artifactStores"] = {s.get("Region"): _camel(s.get("ArtifactStore")) for s in props["ArtifactStores"]}
        for s, stage in enumerate(props.get("Stages") or []):
            self.keys(stage, path + ("Stages", s), _STAGE)
            for a, action in enumerate(stage.get("Actions") or []):
                self.keys(action, path + ("Stages", s, "Actions", a), _ACTION)
                converted = declaration["stages"][s]["actions"][a]
                for key in ("runOrder", "timeoutInMinutes"):  # a Ref to a Number parameter is text
                    if key in converted:
                        converted[key] = self.number(converted[key], path + ("Stages", s, "Actions", a, key[:1].upper() + key[1:]))
        try:
            model = PipelineDeclaration.model_validate(declaration)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            message = ("CloudFormation has no such property" if first["type"] == "extra_forbidden" else first["msg"])
            raise self.s.error(path + _pascal(tuple(first["loc"])), message) from None
        for loc, message in check_pipeline(model)[:1]:
            raise self.s.error(path + _pascal(loc), message)
        for s, stage in enumerate(model.stages):
            for a, action in enumerate(stage.actions):
                for key, section in resource_keys(action).items():
                    name = resource_name(action, key)
                    if section in ("repositories", "buckets") and name:
                        self.local(section, name)
                if action.actionTypeId.key == GITHUB_V1 and "OAuthToken" in (action.configuration or {}):
                    # As AWS's GetPipeline shows it: the token is a secret, never written down here.
                    declaration["stages"][s]["actions"][a]["configuration"]["OAuthToken"] = "****"
        self.pipelines.append(declaration)

    def project(self, logical: str, props: dict, path: tuple, pipemu: dict) -> None:
        self.keys(props, path, ("Name", "Source", "Artifacts", "Environment"),
                  ("Description", "ServiceRole", "Tags", "EncryptionKey", "LogsConfig", "QueuedTimeoutInMinutes",
                   "BadgeEnabled", "ConcurrentBuildLimit", "Visibility", "SourceVersion", "ResourceAccessRole", "Cache"),
                  ("TimeoutInMinutes", "VpcConfig", "SecondarySources", "SecondaryArtifacts",
                   "SecondarySourceVersions", "BuildBatchConfig", "FileSystemLocations", "Triggers", "AutoRetryLimit"))
        source = self.need(props, "Source", path)
        kind = str(source.get("Type", "")).upper()
        if kind not in ("CODEPIPELINE", "NO_SOURCE"):
            # When CodePipeline runs a project, its input artifact is the build's source whatever
            # the project declares (CodePipeline overrides it).
            self.warn(path + ("Source", "Type"), f"{source.get('Type')}: when a pipeline runs this project, its source is "
                                                 "the action's input artifact (as CodePipeline overrides it)")
        self.keys(source, path + ("Source",), ("Type", "BuildSpec"), ("Location", "SourceIdentifier"),
                  ("InsecureSsl", "ReportBuildStatus", "GitCloneDepth", "GitSubmodulesConfig", "Auth", "BuildStatusConfig"))
        artifacts = props.get("Artifacts") or {}
        self.keys(artifacts, path + ("Artifacts",), ("Type",), ("Name", "Packaging", "EncryptionDisabled", "Location",
                                                                 "NamespaceType", "Path", "OverrideArtifactName", "ArtifactIdentifier"))
        if str(artifacts.get("Type", "CODEPIPELINE")).upper() not in ("CODEPIPELINE", "NO_ARTIFACTS"):
            self.warn(path + ("Artifacts", "Type"), f"{artifacts.get('Type')}: when a pipeline runs this project, its "
                                                    "artifacts are the action's output artifacts")
        at = path + ("Environment",)
        env = self.need(props, "Environment", path)
        self.keys(env, at, ("Type", "ComputeType", "Image", "PrivilegedMode", "EnvironmentVariables", "ImagePullCredentialsType"),
                  (), ("Certificate", "RegistryCredential", "Fleet"))
        if str(env.get("Type", "")).startswith(("WINDOWS", "MAC", "ARM")):
            self.warn(at + ("Type",), f"{env['Type']}: builds run in Linux containers of this machine here")
        image = self.s.text(self.need(env, "Image", at), at + ("Image",))
        project: dict[str, Any] = {"image": local_image(image, self.s.maps, pipemu.get("image"))}
        if source.get("BuildSpec") is not None:
            text = self.s.text(source["BuildSpec"], path + ("Source", "BuildSpec"))
            try:  # inline YAML (or JSON on one line) becomes the mapping; anything else is a path
                parsed = yaml.safe_load(text)
            except yaml.YAMLError:
                parsed = None
            project["buildspec"] = parsed if isinstance(parsed, dict) else text
        variables = []
        for i, var in enumerate(env.get("EnvironmentVariables") or []):
            self.keys(var, at + ("EnvironmentVariables", i), ("Name", "Value", "Type"))
            variables.append({"name": self.s.text(self.need(var, "Name", at + ("EnvironmentVariables", i)), at),
                              "value": self.s.text(var.get("Value", ""), at), "type": var.get("Type", "PLAINTEXT")})
        if variables:
            project["environmentVariables"] = variables
        if "PrivilegedMode" in env:
            project["privilegedMode"] = self.flag(env["PrivilegedMode"], at + ("PrivilegedMode",))
        if props.get("Cache") is not None:  # checked, and its unused modes warned about, as a project's cache
            cache = props["Cache"]
            self.keys(cache, path + ("Cache",), ("Type",), ("Modes", "Location", "CacheNamespace"))
            project["cache"] = {"type": self.s.text(self.need(cache, "Type", path + ("Cache",)), path + ("Cache", "Type")),
                                **({"modes": [self.s.text(m, path + ("Cache", "Modes")) for m in cache["Modes"]]}
                                   if cache.get("Modes") else {}),
                                **{field: self.s.text(cache[key], path + ("Cache", key))
                                   for key, field in (("Location", "location"), ("CacheNamespace", "cacheNamespace"))
                                   if cache.get(key) is not None}}
        if pipemu.get("network"):
            project["network"] = pipemu["network"]
        self.sections["projects"][self.s.physical_name(logical)] = project

    def function(self, logical: str, props: dict, path: tuple, pipemu: dict) -> None:
        self.keys(props, path, ("FunctionName", "Runtime", "Handler", "Code", "Timeout", "MemorySize", "Environment"),
                  ("Role", "Description", "Tags", "Architectures", "LoggingConfig", "ReservedConcurrentExecutions",
                   "KmsKeyArn", "PackageType"), ("VpcConfig", "TracingConfig", "DeadLetterConfig", "EphemeralStorage"))
        name = self.s.physical_name(logical)
        if props.get("PackageType", "Zip") != "Zip":
            self.warn(path + ("PackageType",), f"{props['PackageType']} functions are not emulated yet; {name} is not declared "
                                              "(an action invoking it fails when it runs)")
            return
        runtime = self.s.text(self.need(props, "Runtime", path), path + ("Runtime",))
        local = nearest_runtime(runtime)
        if local is None:
            self.warn(path + ("Runtime",), f"{runtime} is not a runtime pipemu runs (python3.x and nodejs); {name} is not "
                                          "declared (an action invoking it fails when it runs)")
            return
        if local != runtime:
            self.warn(path + ("Runtime",), f"{runtime} is not supported any more; {name} runs on {local}")
        code = self.need(props, "Code", path)
        self.keys(code, path + ("Code",), ("ZipFile", "S3Bucket", "S3Key", "S3ObjectVersion"), ("ImageUri", "SourceKMSKeyArn"))
        folder = self.s.maps.get(f"code:{name}")
        if folder is None and "ZipFile" in code:  # CloudFormation writes inline code as index.js / index.py
            folder = str(self.code_dir / name)
            filename = "index.js" if local.startswith("nodejs") else "index.py"
            self.result.files[self.code_dir / name / filename] = self.s.text(code["ZipFile"], path + ("Code", "ZipFile"))
        elif folder is None:
            folder = str(self.code_dir / name)
            where = f"s3://{code.get('S3Bucket')}/{code.get('S3Key')}" if "S3Bucket" in code else "not in the template"
            self.warn(path + ("Code",), f"the code of {name} is {where}: put it in {folder} (relative to the written "
                                        f"definition) or give --map code:{name}=FOLDER")
        # An export keeps the local runtime in Metadata when it wrote a newer one for AWS.
        function: dict[str, Any] = {"runtime": pipemu.get("runtime") or local, "handler": self.s.text(self.need(props, "Handler", path), path), "code": folder}
        environment = props.get("Environment") or {}
        self.keys(environment, path + ("Environment",), ("Variables",))
        if environment.get("Variables"):
            function["environment"] = {k: self.s.text(v, path + ("Environment", "Variables", k)) for k, v in environment["Variables"].items()}
        if "Timeout" in props:  # absent: our generous default, not AWS's 3 s (containers start cold)
            function["timeout"] = min(900, self.number(props["Timeout"], path + ("Timeout",)))
        if "MemorySize" in props:
            function["memorySize"] = max(128, min(10240, self.number(props["MemorySize"], path + ("MemorySize",))))
        if pipemu.get("image"):
            function["image"] = pipemu["image"]
        self.sections["functions"][name] = function

    def rule(self, logical: str, props: dict, path: tuple, pipemu: dict) -> None:
        """An EventBridge rule: on a schedule (or an EventBridge Scheduler schedule) whose target is
        a pipeline, and/or on events (`EventPattern`: see event_rule)."""
        scheduler = "Target" in props or "ScheduleExpressionTimezone" in props or "FlexibleTimeWindow" in props
        self.keys(props, path, ("ScheduleExpression", "ScheduleExpressionTimezone", "State", "Name", "EventPattern")
                  + (("Target", "FlexibleTimeWindow") if scheduler else ("Targets",)),
                  ("Description", "RoleArn", "EventBusName", "GroupName", "KmsKeyArn"), ("StartDate", "EndDate"))
        if "EventPattern" in props and not scheduler:
            self.event_rule(logical, props, path)
        if "ScheduleExpression" not in props:
            return
        expression = self.s.text(props["ScheduleExpression"], path + ("ScheduleExpression",))
        enabled = self.s.text(props.get("State", "ENABLED"), path + ("State",)) != "DISABLED"
        targets = [("Target",)] if scheduler else [("Targets", i) for i in range(len(props.get("Targets") or []))]
        for at in targets:
            target = props[at[0]] if scheduler else props["Targets"][at[1]]
            self.keys(target, path + at, ("Arn",), ("Id", "RoleArn"))
            arn = self.s.text(self.need(target, "Arn", path + at), path + at + ("Arn",))
            match = PIPELINE_ARN.fullmatch(arn)
            if not match:
                self.warn(path + at + ("Arn",), f"{arn} is not a pipeline: only schedules that start pipelines are emulated; "
                                                "this target is ignored")
                continue
            schedule: dict[str, Any] = {"expression": expression, "pipeline": match.group(1)}
            if props.get("ScheduleExpressionTimezone") not in (None, "UTC"):
                schedule["timezone"] = props["ScheduleExpressionTimezone"]
            if not enabled:
                schedule["enabled"] = False
            if props.get("Name"):
                schedule["name"] = props["Name"]
            self.schedules.append(schedule)

    def event_rule(self, logical: str, props: dict, path: tuple) -> None:
        """An AWS::Events::Rule with an EventPattern -> an `eventRules` entry: its targets are
        Lambda functions, pipelines, SNS topics, or API destinations (their InvocationEndpoint)."""
        pattern = props["EventPattern"]
        if isinstance(pattern, str):  # CloudFormation takes the JSON text too
            try:
                pattern = json.loads(pattern)
            except json.JSONDecodeError as error:
                raise self.s.error(path + ("EventPattern",), f"Event pattern is not valid. Reason: Filter is not "
                                                             f"valid JSON ({error.msg})") from None
        sources = pattern.get("source") if isinstance(pattern, dict) else None
        if isinstance(sources, list) and all(isinstance(x, str) for x in sources) and "aws.codepipeline" not in sources:
            # Only CodePipeline's own events are emitted here (a CodeCommit change rule's work is
            # done by pipemu's commit watchers): said, and left out.
            self.result.ignored.append(f"{logical} (AWS::Events::Rule)")
            self.warn(path + ("EventPattern", "source"), f"{', '.join(sources)}: pipemu emits only aws.codepipeline "
                                                         "events; its own watchers start pipelines on commits")
            return
        rule: dict[str, Any] = {"name": self.s.text(props["Name"], path + ("Name",)) if props.get("Name")
                                else self.s.physical_name(logical), "eventPattern": pattern}
        if self.s.text(props.get("State", "ENABLED"), path + ("State",)) == "DISABLED":
            rule["state"] = "DISABLED"
        if props.get("Description") is not None:
            rule["description"] = self.s.text(props["Description"], path + ("Description",))
        destinations = self.api_destinations(path)
        targets = []
        for i, target in enumerate(props.get("Targets") or []):
            at = path + ("Targets", i)
            self.keys(target, at, ("Arn", "Id", "Input", "InputPath", "InputTransformer"), ("RoleArn",),
                      ("DeadLetterConfig", "RetryPolicy", "HttpParameters"))
            arn = self.s.text(self.need(target, "Arn", at), at + ("Arn",))
            declared: dict[str, Any] = {"url": destinations[arn]} if arn in destinations else {"arn": arn}
            if target.get("Id") is not None:
                declared["id"] = self.s.text(target["Id"], at + ("Id",))
            for key, field_name in (("Input", "input"), ("InputPath", "inputPath")):
                if target.get(key) is not None:
                    declared[field_name] = self.s.text(target[key], at + (key,))
            if target.get("InputTransformer") is not None:
                declared["inputTransformer"] = target["InputTransformer"]
            targets.append(declared)
        if targets:
            rule["targets"] = targets
        self.event_rules.append(rule)

    def read_elsewhere(self, logical: str, props: dict, path: tuple, pipemu: dict) -> None:
        """An API destination is read by the rules that target it (its endpoint is their `url`)."""

    def connection(self, logical: str, props: dict, path: tuple, pipemu: dict) -> None:
        """An API destination's connection: its authorization is not sent here (README)."""
        self.result.ignored.append(f"{logical} (AWS::Events::Connection)")

    def api_destinations(self, path: tuple) -> dict[str, str]:
        """ARN -> InvocationEndpoint of the template's AWS::Events::ApiDestination resources."""
        found = {}
        for logical, resource in self.s.resources.items():
            if not isinstance(resource, dict) or resource.get("Type") != "AWS::Events::ApiDestination":
                continue
            props = self.s.eval(resource.get("Properties") or {}, ("Resources", logical, "Properties"))
            if isinstance(props, dict) and props.get("InvocationEndpoint"):
                arn = self.s.getatt(logical, "Arn", path)
                found[arn] = self.s.text(props["InvocationEndpoint"], ("Resources", logical, "Properties",
                                                                       "InvocationEndpoint"))
        return found

    def repository(self, logical: str, props: dict, path: tuple, pipemu: dict) -> None:
        self.keys(props, path, ("RepositoryName",), ("RepositoryDescription", "Tags", "KmsKeyId"), ("Code", "Triggers"))
        self.local("repositories", self.s.physical_name(logical))

    def alarm(self, logical: str, props: dict, path: tuple, pipemu: dict) -> None:
        """A metric alarm, stood in for by a state users set: what it watches is accepted and said
        once as not evaluated (nothing here produces CloudWatch metrics)."""
        self.keys(props, path, ("AlarmName", "AlarmDescription"), _ALARM_EVALUATION + _ALARM_ACTIONS + ("Tags",))
        name = self.s.physical_name(logical)
        ignored = [key for key in _ALARM_EVALUATION + _ALARM_ACTIONS[1:] if key in props]
        if ignored:
            self.warn(path, f"alarm {name} is not evaluated locally and runs no actions ({', '.join(ignored)} ignored): "
                            f"its state is set with `pipemu alarm set {name} ALARM|OK`, SetAlarmState or the dashboard")
        alarm: dict[str, Any] = {}
        if pipemu.get("state"):  # a local initial state, kept by an export
            alarm["state"] = pipemu["state"]
        if props.get("AlarmDescription") is not None:
            alarm["description"] = self.s.text(props["AlarmDescription"], path + ("AlarmDescription",))
        self.sections["alarms"][name] = alarm

    def topic(self, logical: str, props: dict, path: tuple, pipemu: dict) -> None:
        """An SNS topic and its inline subscriptions (AWS::SNS::Topic's Subscription list)."""
        self.keys(props, path, ("TopicName", "Subscription", "DisplayName", "KmsMasterKeyId", "FifoTopic"),
                  ("Tags", "ContentBasedDeduplication", "SignatureVersion", "TracingConfig", "DeliveryStatusLogging",
                   "DataProtectionPolicy", "ArchivePolicy", "FifoThroughputScope"))
        topic: dict[str, Any] = {"subscriptions": []}
        for key, field_name in (("DisplayName", "displayName"), ("KmsMasterKeyId", "kmsMasterKeyId")):
            if props.get(key) is not None:
                topic[field_name] = self.s.text(props[key], path + (key,))
        if props.get("FifoTopic") is not None:
            topic["fifoTopic"] = self.flag(props["FifoTopic"], path + ("FifoTopic",))
        for i, item in enumerate(props.get("Subscription") or []):
            at = path + ("Subscription", i)
            self.keys(item, at, ("Protocol", "Endpoint"))
            topic["subscriptions"].append({"protocol": self.s.text(self.need(item, "Protocol", at), at + ("Protocol",)),
                                           "endpoint": self.s.text(self.need(item, "Endpoint", at), at + ("Endpoint",))})
        name = self.s.physical_name(logical)
        if props.get("TopicName") is None and not valid_topic_name(name):
            # The generated STACK-Logical name: a stack name here is a file's name, which may hold
            # characters CloudFormation's stack names cannot (a dot); a topic name cannot either.
            self.warn(path, f"the generated topic name {name} is not a valid SNS topic name (the stack name comes "
                            "from the file's name): give the topic a TopicName; not declared")
            return
        self.sections["topics"][name] = topic

    def subscription(self, logical: str, props: dict, path: tuple, pipemu: dict) -> None:
        """An AWS::SNS::Subscription: joins its topic once every resource is read (the topic may come later)."""
        self.keys(props, path, ("TopicArn", "Protocol", "Endpoint", "RawMessageDelivery", "FilterPolicy",
                                "FilterPolicyScope", "DeliveryPolicy", "RedrivePolicy"),
                  ("Region", "SubscriptionRoleArn", "ReplayPolicy"))
        subscription: dict[str, Any] = {
            "protocol": self.s.text(self.need(props, "Protocol", path), path + ("Protocol",)),
            "endpoint": self.s.text(self.need(props, "Endpoint", path), path + ("Endpoint",))}
        if props.get("RawMessageDelivery") is not None:
            subscription["rawMessageDelivery"] = self.flag(props["RawMessageDelivery"], path + ("RawMessageDelivery",))
        for key in ("FilterPolicy", "FilterPolicyScope", "DeliveryPolicy", "RedrivePolicy"):
            if props.get(key) is not None:  # kept, so that the definition's warning names them
                subscription[key[:1].lower() + key[1:]] = props[key]
        topic = self.s.text(self.need(props, "TopicArn", path), path + ("TopicArn",))
        self.subscriptions.append((topic, subscription, path))

    def attach_subscriptions(self) -> None:
        for arn, subscription, path in self.subscriptions:
            name = arn.rsplit(":", 1)[-1]
            if name not in self.sections["topics"]:
                self.warn(path + ("TopicArn",), f"topic {arn} is not declared in this template: declare the "
                                                "subscription beside its topic; ignored")
                continue
            self.sections["topics"][name]["subscriptions"].append(subscription)

    def custom_action_type(self, logical: str, props: dict, path: tuple, pipemu: dict) -> None:
        """A custom action type: a stand-in of the account's (customActionTypes:), so that the
        template's pipelines may name it; its jobs wait for a job worker (PollForJobs)."""
        self.keys(props, path, ("Category", "Provider", "Version", "ConfigurationProperties", "InputArtifactDetails",
                                "OutputArtifactDetails", "Settings"), ("Tags",))
        declared = {k[:1].lower() + k[1:]: _camel(v) for k, v in props.items() if k != "Tags"}
        try:
            CustomActionType.model_validate(declared)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            raise self.s.error(path + _pascal(tuple(first["loc"])), first["msg"]) from None
        self.custom_types.append(declared)


    def webhook(self, logical: str, props: dict, path: tuple, pipemu: dict) -> None:
        """A webhook: its URL is the daemon's (service/webhooks.py). `TargetPipelineVersion` is
        accepted (AWS requires it on old stacks; the webhook starts whatever version is current),
        `RegisterWithThirdParty` said as having no local effect (there is no GitHub to call)."""
        self.keys(props, path, ("Name", "TargetPipeline", "TargetAction", "Filters", "Authentication",
                                "AuthenticationConfiguration"), ("TargetPipelineVersion",), ("RegisterWithThirdParty",))
        name = self.s.physical_name(logical)
        configuration = self.need(props, "AuthenticationConfiguration", path)
        self.keys(configuration, path + ("AuthenticationConfiguration",), ("SecretToken", "AllowedIPRange"))
        filters = []
        for f, rule in enumerate(self.need(props, "Filters", path)):
            at = path + ("Filters", f)
            self.keys(rule, at, ("JsonPath", "MatchEquals"))
            filters.append({"jsonPath": self.s.text(self.need(rule, "JsonPath", at), at + ("JsonPath",)),
                            **({"matchEquals": self.s.text(rule["MatchEquals"], at + ("MatchEquals",))}
                               if rule.get("MatchEquals") is not None else {})})
        self.sections["webhooks"][name] = {
            "targetPipeline": self.s.text(self.need(props, "TargetPipeline", path), path + ("TargetPipeline",)),
            "targetAction": self.s.text(self.need(props, "TargetAction", path), path + ("TargetAction",)),
            "filters": filters,
            "authentication": self.s.text(self.need(props, "Authentication", path), path + ("Authentication",)),
            "authenticationConfiguration": {key: self.s.text(value, path + ("AuthenticationConfiguration", key))
                                            for key, value in configuration.items() if value is not None},
        }


# What a metric alarm evaluates, and what it does on a change: accepted (AWS needs them), not
# carried out here. Actions (SNS topics, Auto Scaling policies) have no stand-ins.
_ALARM_EVALUATION = ("MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit",
                     "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
                     "EvaluateLowSampleCountPercentile", "Metrics", "ThresholdMetricId")
_ALARM_ACTIONS = ("ActionsEnabled", "AlarmActions", "OKActions", "InsufficientDataActions")
