"""Exporting a pipeline as AWS takes it (`pipemu export PIPELINE --format cloudformation|json`).

`export_cloudformation` writes a CloudFormation template: the pipeline (CloudFormation's
PascalCase properties), the CodeBuild projects and Lambda functions its actions name, the SNS
topics its approvals notify (with their subscriptions, and the permission SNS needs to invoke a
subscribed function), and its schedules as EventBridge rules (EventBridge Scheduler schedules when they keep a time zone),
and the event rules whose pattern names the pipeline (AWS::Events::Rule with EventPattern).
What only exists locally becomes a parameter whose default is the local value: the pipeline's
role, the artifact bucket, repository names, the build images (default
`aws/codebuild/standard:7.0`), the roles of projects, functions and schedules, and the S3
location of a function's code when it cannot be inline. Settings AWS has no property for (a
project's network or local image, a function's image, or its runtime when AWS no longer takes it) are kept in the resource's
`Metadata.pipemu`, which CloudFormation ignores and `import_template` reads back, so importing
the export gives the same definitions.

`export_json` writes the `get-pipeline` form, `{"pipeline": ..., "metadata": ...}`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from .cfn_import import local_image
from .custom_types import CustomActionType
from .event_rules import EventRule
from .models import SUPPORTED_ACTION_TYPES, Function, PipelineDeclaration, Project, Schedule, Webhook
from .topic_models import Topic, function_name_of, topic_name_of

AWS_BUILD_IMAGE = "aws/codebuild/standard:7.0"
INLINE_CODE_LIMIT = 4096  # CloudFormation's limit on Code.ZipFile
# The oldest runtimes AWS still lets one create (late 2026; cfn-lint's E2533 tracks the dates). A
# function on an older one locally is exported on these, its local runtime kept in Metadata.
OLDEST_AWS_RUNTIMES = {"nodejs": 22, "python3.": 12}
_ACCOUNT = re.compile(r"arn:[\w-]+:iam::(\d{12}):")


class _Short:
    """A short-form intrinsic (`!Ref X`) in the written YAML."""

    def __init__(self, tag: str, value: str) -> None:
        self.tag, self.value = tag, value


class _Dumper(yaml.SafeDumper):
    pass


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    # Code and buildspecs read as they were written: multi-line text as a literal block.
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(_Short, lambda dumper, short: dumper.represent_scalar(short.tag, short.value))
_Dumper.add_representer(str, _text)


def _ref(name: str) -> _Short:
    return _Short("!Ref", name)


def _logical(name: str, suffix: str = "") -> str:
    """A resource or parameter logical id from a name (`my-service-build` -> `MyServiceBuild`)."""
    text = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)
    return ("R" + text if not text[:1].isalpha() else text) + suffix


def _pascal(value: Any) -> Any:
    """The API's camelCase -> CloudFormation's PascalCase, except inside a configuration."""
    if isinstance(value, list):
        return [_pascal(v) for v in value]
    if not isinstance(value, dict):
        return value
    return {k[:1].upper() + k[1:]: (dict(v) if k == "configuration" else _pascal(v)) for k, v in value.items()}


def _declaration(pipeline: Any) -> dict:
    model = pipeline if isinstance(pipeline, PipelineDeclaration) else PipelineDeclaration.model_validate(pipeline)
    return model.model_dump(mode="json", exclude_none=True)


def _model(cls: type[BaseModel], value: Any) -> Any:
    return value if isinstance(value, cls) else cls.model_validate(value)


def export_json(pipeline_declaration: Any, region: str = "us-east-1") -> str:
    """The `aws codepipeline get-pipeline` output for the declaration."""
    declaration = _declaration(pipeline_declaration)
    account = _ACCOUNT.match(declaration["roleArn"])
    arn = f"arn:aws:codepipeline:{region}:{account.group(1) if account else '123456789012'}:{declaration['name']}"
    return json.dumps({"pipeline": declaration, "metadata": {"pipelineArn": arn}}, indent=4) + "\n"


class _Template:
    def __init__(self, account: str) -> None:
        self.account = account
        self.parameters: dict[str, dict] = {}
        self.resources: dict[str, dict] = {}

    def parameter(self, name: str, default: str, description: str) -> _Short:
        self.parameters.setdefault(name, {"Type": "String", "Default": default, "Description": description})
        return _ref(name)

    def role(self, name: str, role: str, who: str) -> _Short:
        return self.parameter(name, f"arn:aws:iam::{self.account}:role/{role}", f"the IAM role {who} assume on AWS")


def export_cloudformation(pipeline_declaration: Any, projects: dict | None = None, functions: dict | None = None,
                          schedules: list | None = None, repositories: dict | None = None,
                          topics: dict | None = None, custom_action_types: list | None = None,
                          event_rules: list | None = None, webhooks: dict | None = None) -> str:
    """A template of the pipeline, the projects and functions its actions name, and its schedules
    (those that target it), as YAML text. Resources the pipeline does not name are left out.
    Repositories become name parameters only: their folders are local (import maps them back)."""
    projects, functions, repositories, topics = projects or {}, functions or {}, repositories or {}, topics or {}
    declaration = _declaration(pipeline_declaration)
    account = _ACCOUNT.match(declaration["roleArn"])
    template = _Template(account.group(1) if account else "123456789012")
    properties: dict[str, Any] = {"Name": declaration["name"],
                                  "RoleArn": template.parameter("PipelineRoleArn", declaration["roleArn"], "the pipeline's IAM role")}
    if "artifactStore" in declaration:
        store = _pascal(declaration["artifactStore"])
        store["Location"] = template.parameter("ArtifactBucket", store["Location"], "the S3 bucket of the pipeline's artifacts")
        properties["ArtifactStore"] = store
    if "artifactStores" in declaration:  # a map in the API, a list in CloudFormation
        properties["ArtifactStores"] = [{"Region": region, "ArtifactStore": _pascal(store)}
                                        for region, store in declaration["artifactStores"].items()]
    properties["PipelineType"] = declaration["pipelineType"]
    properties["ExecutionMode"] = declaration["executionMode"]
    for key in ("variables", "triggers"):
        if declaration.get(key):
            properties[key[:1].upper() + key[1:]] = _pascal(declaration[key])
    stages = []
    for stage in declaration["stages"]:
        actions = []
        for action in stage["actions"]:
            converted = _pascal({k: v for k, v in action.items() if v != []})
            spec = SUPPORTED_ACTION_TYPES.get(tuple(action["actionTypeId"][k] for k in ("category", "owner", "provider")))
            configuration = converted.get("Configuration") or {}
            for key, section in (spec.resources.items() if spec else ()):
                name = configuration.get(key)
                if name is None:
                    continue
                if section == "projects" and name in projects:
                    configuration[key] = _ref(_project(template, name, _model(Project, projects[name])))
                elif section == "functions" and name in functions:
                    configuration[key] = _ref(_function(template, name, _model(Function, functions[name])))
                elif section in ("repositories", "buckets"):
                    kind = "CodeCommit repository" if key == "RepositoryName" else "repository" if section == "repositories" else "S3 bucket"
                    configuration[key] = template.parameter(_logical(name, "Repository" if section == "repositories" else "Bucket"),
                                                            name, f"the {kind} {name}")
            topic = topic_name_of(configuration.get("NotificationArn") or "") if action["actionTypeId"]["category"] == "Approval" else None
            if topic in topics:
                configuration["NotificationArn"] = _ref(_topic(template, topic, _model(Topic, topics[topic]), functions))
            actions.append(converted)
        stages.append({**_pascal({k: v for k, v in stage.items() if k != "actions"}), "Actions": actions})
    properties["Stages"] = stages
    template.resources = {"Pipeline": {"Type": "AWS::CodePipeline::Pipeline", "Properties": properties}, **template.resources}
    used = {(a["actionTypeId"]["category"], a["actionTypeId"]["provider"], str(a["actionTypeId"]["version"]))
            for stage in declaration["stages"] for a in stage["actions"] if a["actionTypeId"]["owner"] == "Custom"}
    for declared in (_model(CustomActionType, t) for t in custom_action_types or ()):
        if (declared.category, declared.provider, declared.version) in used:  # the ones its actions name
            body = declared.model_dump(exclude_none=True)
            if not body.get("settings"):
                body.pop("settings", None)
            template.resources[_logical(f"{declared.provider}-{declared.category}-{declared.version}", "ActionType")] = {
                "Type": "AWS::CodePipeline::CustomActionType", "Properties": _pascal(body)}
    for index, schedule in enumerate(_model(Schedule, s) for s in schedules or ()):
        if schedule.pipeline in (None, declaration["name"]):
            _schedule(template, index, schedule)
    for rule in (_model(EventRule, r) for r in event_rules or ()):
        _event_rule(template, rule, functions, declaration["name"])
    for name, webhook in sorted((webhooks or {}).items()):
        webhook = _model(Webhook, webhook)
        if webhook.targetPipeline == declaration["name"]:
            _webhook(template, name, webhook)
    document = {"AWSTemplateFormatVersion": "2010-09-09",
                "Description": f"The pipeline {declaration['name']}, exported by pipemu",
                "Parameters": template.parameters, "Resources": template.resources}
    header = ("# Exported by pipemu. Parameters stand for what only exists locally (their defaults are the\n"
              "# local values); Metadata.pipemu keeps local settings that AWS ignores.\n")
    return header + yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)


def _project(template: _Template, name: str, project: Project) -> str:
    logical = _logical(name, "Project")
    if logical in template.resources:
        return logical
    source: dict[str, Any] = {"Type": "CODEPIPELINE"}
    if isinstance(project.buildspec, dict):
        source["BuildSpec"] = yaml.safe_dump(project.buildspec, sort_keys=False)
    elif project.buildspec is not None:
        source["BuildSpec"] = project.buildspec
    environment: dict[str, Any] = {
        "Type": "LINUX_CONTAINER", "ComputeType": "BUILD_GENERAL1_SMALL",
        "Image": template.parameter(f"{logical}Image", AWS_BUILD_IMAGE, f"the build image of {name} on AWS"),
        "PrivilegedMode": project.privilegedMode}
    if project.environmentVariables:
        environment["EnvironmentVariables"] = [{"Name": v.name, "Value": v.value, "Type": v.type} for v in project.environmentVariables]
    resource: dict[str, Any] = {"Type": "AWS::CodeBuild::Project", "Properties": {
        "Name": name, "ServiceRole": template.role("BuildRoleArn", "pipemu-codebuild", "the CodeBuild projects"),
        "Source": source, "Artifacts": {"Type": "CODEPIPELINE"}, "Environment": environment}}
    if project.cache is not None and project.cache.type != "NO_CACHE":
        cache = project.cache
        resource["Properties"]["Cache"] = {"Type": cache.type, **({"Modes": list(cache.modes)} if cache.modes else {}),
                                           **({"Location": cache.location} if cache.location else {})}
    local = {"image": project.image} if local_image(AWS_BUILD_IMAGE, {}) != project.image else {}
    local.update({"network": project.network} if project.network else {})
    if local:
        resource["Metadata"] = {"pipemu": local}
    template.resources[logical] = resource
    return logical


def _inline_code(function: Function) -> str | None:
    """The code as CloudFormation's ZipFile when it can be: one small index.py / index.js."""
    files = [p for p in function.code.rglob("*") if p.is_file() and "__pycache__" not in p.parts] if function.code.is_dir() else []
    expected = "index.js" if function.runtime.startswith("nodejs") else "index.py"
    if len(files) != 1 or files[0] != function.code / expected or not function.handler.startswith("index."):
        return None
    text = files[0].read_text(encoding="utf-8", errors="replace")
    return text if len(text) <= INLINE_CODE_LIMIT else None


def _aws_runtime(runtime: str) -> str:
    match = re.fullmatch(r"(nodejs|python3\.)(\d+)(\.x)?", runtime)
    if match and int(match.group(2)) < OLDEST_AWS_RUNTIMES[match.group(1)]:
        return f"{match.group(1)}{OLDEST_AWS_RUNTIMES[match.group(1)]}{match.group(3) or ''}"
    return runtime


def _function(template: _Template, name: str, function: Function) -> str:
    logical = _logical(name, "Function")
    if logical in template.resources:
        return logical
    code = _inline_code(function)
    if code is not None:
        location: dict[str, Any] = {"ZipFile": code}
    else:
        location = {"S3Bucket": template.parameter(f"{logical}CodeBucket", "pipemu-lambda-code", f"the S3 bucket of {name}'s code zip"),
                    "S3Key": template.parameter(f"{logical}CodeKey", f"{name}.zip", f"the S3 key of {name}'s code zip "
                                                f"(made from {Path(function.code).name}/)")}
    properties: dict[str, Any] = {"FunctionName": name, "Runtime": _aws_runtime(function.runtime), "Handler": function.handler,
                                  "Role": template.role("FunctionRoleArn", "pipemu-lambda", "the Lambda functions"), "Code": location,
                                  "Timeout": function.timeout, "MemorySize": function.memorySize}
    if function.environment:
        properties["Environment"] = {"Variables": dict(function.environment)}
    template.resources[logical] = {"Type": "AWS::Lambda::Function", "Properties": properties}
    local = {"image": function.image} if function.image else {}
    local.update({"runtime": function.runtime} if properties["Runtime"] != function.runtime else {})
    if local:
        template.resources[logical]["Metadata"] = {"pipemu": local}
    return logical


def _topic(template: _Template, name: str, topic: Topic, functions: dict) -> str:
    """An approval's topic: plain subscriptions inline (the Topic's Subscription), those with
    attributes as AWS::SNS::Subscription resources; a subscribed function of the folder is
    exported too, with the AWS::Lambda::Permission that lets SNS invoke it."""
    logical = _logical(name, "Topic")
    if logical in template.resources:
        return logical
    properties: dict[str, Any] = {"TopicName": name}
    for key in ("displayName", "kmsMasterKeyId", "fifoTopic"):
        if getattr(topic, key) not in (None, False):
            properties[key[:1].upper() + key[1:]] = getattr(topic, key)
    template.resources[logical] = {"Type": "AWS::SNS::Topic", "Properties": properties}
    inline = []
    for index, subscription in enumerate(topic.subscriptions):
        endpoint: Any = subscription.endpoint
        function = function_name_of(endpoint) if subscription.protocol == "lambda" else None
        if function is not None and function in functions:
            target = _function(template, function, _model(Function, functions[function]))
            endpoint = _Short("!GetAtt", f"{target}.Arn")
            template.resources[f"{target}{logical}Permission"] = {"Type": "AWS::Lambda::Permission", "Properties": {
                "Action": "lambda:InvokeFunction", "FunctionName": _ref(target), "Principal": "sns.amazonaws.com",
                "SourceArn": _ref(logical)}}
        elif function is not None and not endpoint.startswith("arn:"):
            endpoint = _Short("!Sub", f"arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{function}")
        attributes = {key[:1].upper() + key[1:]: getattr(subscription, key)
                      for key in ("rawMessageDelivery", "filterPolicy", "filterPolicyScope", "deliveryPolicy", "redrivePolicy")
                      if getattr(subscription, key) not in (None, False)}
        if attributes:
            template.resources[f"{logical}Subscription{index + 1}"] = {"Type": "AWS::SNS::Subscription", "Properties": {
                "TopicArn": _ref(logical), "Protocol": subscription.protocol, "Endpoint": endpoint, **attributes}}
        else:
            inline.append({"Protocol": subscription.protocol, "Endpoint": endpoint})
    if inline:
        properties["Subscription"] = inline
    return logical


def _schedule(template: _Template, index: int, schedule: Schedule) -> None:
    arn = _Short("!Sub", "arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:${Pipeline}")
    role = template.role("ScheduleRoleArn", "pipemu-schedules", "the schedules")
    state = {"State": "ENABLED" if schedule.enabled else "DISABLED"}
    name = {"Name": schedule.name} if schedule.name else {}
    if schedule.timezone == "UTC":  # EventBridge rules only know UTC
        properties = {**name, "ScheduleExpression": schedule.expression, **state,
                      "Targets": [{"Id": "pipeline", "Arn": arn, "RoleArn": role}]}
        kind = "AWS::Events::Rule"
    else:
        properties = {**name, "ScheduleExpression": schedule.expression, "ScheduleExpressionTimezone": schedule.timezone,
                      **state, "FlexibleTimeWindow": {"Mode": "OFF"}, "Target": {"Arn": arn, "RoleArn": role}}
        kind = "AWS::Scheduler::Schedule"
    template.resources[f"Schedule{index + 1}" if index else "Schedule"] = {"Type": kind, "Properties": properties}


def _webhook(template: _Template, name: str, webhook: Webhook) -> None:
    """An AWS::CodePipeline::Webhook of the pipeline. A SecretToken that is a dynamic reference
    is kept as written; a plain one never goes into the template: a NoEcho parameter stands for it."""
    configuration = {k: v for k, v in webhook.authenticationConfiguration.model_dump(exclude_none=True).items()}
    token = configuration.get("SecretToken")
    if token is not None and not token.startswith("{{resolve:"):
        logical = _logical(name, "SecretToken")
        template.parameters[logical] = {"Type": "String", "NoEcho": True,
                                        "Description": f"the secret token of the webhook {name}"}
        configuration["SecretToken"] = _ref(logical)
    template.resources[_logical(name, "Webhook")] = {"Type": "AWS::CodePipeline::Webhook", "Properties": {
        "Name": name, "TargetPipeline": _ref("Pipeline"), "TargetAction": webhook.targetAction,
        "TargetPipelineVersion": _Short("!GetAtt", "Pipeline.Version"),
        "Filters": [{"JsonPath": f.jsonPath, **({"MatchEquals": f.matchEquals} if f.matchEquals else {})}
                    for f in webhook.filters],
        "Authentication": webhook.authentication, "AuthenticationConfiguration": configuration}}


def _names_pipeline(pattern: Any, pipeline: str) -> bool:
    return isinstance(pattern, dict) and pipeline in ((pattern.get("detail") or {}).get("pipeline") or [])


def exported_rules(rules: list, pipeline: str) -> list:
    """The event rules that go with a pipeline's template: those whose pattern names it."""
    return [rule for rule in rules if _names_pipeline(_model(EventRule, rule).eventPattern, pipeline)]


def _event_rule(template: _Template, rule: EventRule, functions: dict, pipeline: str) -> None:
    """An `eventRules` entry as AWS::Events::Rule: the pipeline's name in its pattern becomes
    `!Ref Pipeline`; an HTTP endpoint becomes an API destination (with a connection whose key is
    a parameter)."""
    pattern = json.loads(json.dumps(rule.eventPattern))
    if _names_pipeline(pattern, pipeline):
        pattern["detail"]["pipeline"] = [_ref("Pipeline") if name == pipeline else name
                                         for name in pattern["detail"]["pipeline"]]
    account = "arn:${AWS::Partition}:%s:${AWS::Region}:${AWS::AccountId}:%s"
    targets = []
    for index, target in enumerate(rule.targets):
        kind, name = target.kind_and_name
        entry: dict[str, Any] = {"Id": target.id or f"target{index + 1}"}
        if kind == "function" and name in functions:
            entry["Arn"] = _Short("!GetAtt", _function(template, name, _model(Function, functions[name])) + ".Arn")
        elif kind == "function":
            entry["Arn"] = _Short("!Sub", account % ("lambda", f"function:{name}"))
        elif kind == "pipeline":
            entry["Arn"] = _Short("!Sub", account % ("codepipeline", name))
            entry["RoleArn"] = template.role("EventsRoleArn", "pipemu-events", "the event rules")
        elif kind == "topic" and not name.startswith("arn:"):
            entry["Arn"] = _Short("!Sub", account % ("sns", name))
        elif kind == "url":
            logical = _logical(rule.name, f"Destination{index + 1}" if index else "Destination")
            key = template.parameter(f"{logical}ApiKey", "change-me", f"the API key {name} takes")
            template.resources[f"{logical}Connection"] = {"Type": "AWS::Events::Connection", "Properties": {
                "AuthorizationType": "API_KEY",
                "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": key}}}}
            template.resources[logical] = {"Type": "AWS::Events::ApiDestination", "Properties": {
                "ConnectionArn": _Short("!GetAtt", f"{logical}Connection.Arn"), "HttpMethod": "POST",
                "InvocationEndpoint": name}}
            entry["Arn"] = _Short("!GetAtt", f"{logical}.Arn")
            entry["RoleArn"] = template.role("EventsRoleArn", "pipemu-events", "the event rules")
        else:
            entry["Arn"] = name
        for key, value in (("Input", target.input), ("InputPath", target.inputPath),
                           ("InputTransformer", target.inputTransformer)):
            if value is not None:
                entry[key] = value
        targets.append(entry)
    properties: dict[str, Any] = {"Name": rule.name, **({"Description": rule.description} if rule.description else {}),
                                  "EventPattern": pattern, "State": rule.state, "Targets": targets}
    template.resources[_logical(rule.name, "Rule")] = {"Type": "AWS::Events::Rule", "Properties": properties}


__all__ = ["export_cloudformation", "export_json", "exported_rules"]
