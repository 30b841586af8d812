"""Planning a deploy: a template and its parameters, evaluated as CloudFormation would for one
stack, become the resources to make, the outputs and the exports.

What is made for real is the functions: `AWS::Lambda::Function` and the SAM transform's
`AWS::Serverless::Function` (with `Globals.Function`) become `FunctionSpec`s, which the runner
hands to the Lambda service. Every other resource is planned as not emulated: it appears in the
stack's resources (DescribeStackResources) with a physical id CloudFormation would give it, and
the deploy's log names it; nothing stands for it.

Pure: no Docker, no files. The caller resolves ParameterOverrides and TemplateConfiguration
(CodePipeline's business) before calling `plan`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import types
from .evaluate import Stack, TemplateError
from .template import TemplateSyntaxError, is_template, parse

SAM = "AWS::Serverless-2016-10-31"
FUNCTION_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")
# Transforms CloudFormation runs itself; any other is an account's macro we cannot run.
KNOWN_TRANSFORMS = (SAM, "AWS::LanguageExtensions")
FUNCTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")  # Lambda's rule for a function's name
# Lambda's defaults for what a template leaves out (Lambda developer guide, CreateFunction).
DEFAULT_TIMEOUT, DEFAULT_MEMORY = 3, 128
# The properties of a function the local Lambda carries out; any other one set in a template
# is named in a warning (it means something on AWS that does not happen here).
CARRIED_OUT = {"FunctionName", "Runtime", "Handler", "Code", "Environment", "Timeout", "MemorySize",
               "Description", "PackageType", "Role", "Tags", "Architectures",
               # SAM's names for the same
               "CodeUri", "InlineCode", "ImageUri", "Events", "Policies", "AutoPublishAlias", "FunctionUrlConfig",
               "ImageConfig", "Metadata"}


@dataclass(frozen=True)
class FunctionSpec:
    """A function a stack makes, as the Lambda service needs it."""

    name: str
    runtime: str | None  # None for an image function
    handler: str | None
    code: dict  # one of {"ZipFile": text}, {"S3Bucket", "S3Key"}, {"ImageUri"}, {"Path": relative path}
    environment: dict[str, str]
    timeout: int
    memory_size: int
    description: str = ""


@dataclass(frozen=True)
class EndpointSpec:
    """An HTTP address in front of functions: a function URL (one route, `$default`) or an HTTP
    API of SAM's events (a route per event). Served on a port of 127.0.0.1 (lambdas/http.py)."""

    routes: tuple[tuple[str, str, str], ...]  # (method or ANY, path or $default, function name)
    payload: str = "2.0"  # the event format: 2.0 (function URLs, HTTP APIs) or 1.0 (REST APIs)


@dataclass(frozen=True)
class PlannedResource:
    logical_id: str
    type: str
    physical_id: str
    function: FunctionSpec | None = None  # set for the function resources (made for real)
    endpoint: EndpointSpec | None = None  # set for function URLs and SAM's implicit APIs

    @property
    def emulated(self) -> bool:
        return self.function is not None or self.endpoint is not None


@dataclass
class StackPlan:
    description: str | None
    parameters: dict[str, str]  # every declared parameter's value
    no_echo: frozenset[str]  # parameters answered as ****
    resources: list[PlannedResource]
    outputs: list[dict]  # AWS's Output shape: OutputKey, OutputValue, Description, ExportName
    warnings: list[str] = field(default_factory=list)

    @property
    def functions(self) -> list[FunctionSpec]:
        return [r.function for r in self.resources if r.function is not None]

    @property
    def not_emulated(self) -> list[PlannedResource]:
        return [r for r in self.resources if not r.emulated]

    @property
    def endpoints(self) -> list[PlannedResource]:
        return [r for r in self.resources if r.endpoint is not None]

    @property
    def exports(self) -> dict[str, str]:
        return {o["ExportName"]: o["OutputValue"] for o in self.outputs if o.get("ExportName")}


def read(text: str, file: str | None = None):
    """The template's positioned document, or TemplateError saying where it is not one."""
    try:
        document = parse(text)
    except TemplateSyntaxError as exc:
        raise TemplateError((), exc.message, exc.line, exc.column, file) from exc
    if not is_template(document.data):
        raise TemplateError((), "not a CloudFormation template (no AWSTemplateFormatVersion nor typed Resources)", 1, 1, file)
    return document


def plan(document, parameters: dict[str, str], stack_name: str, region: str, account: str,
         exports: dict[str, str] | None = None, file: str | None = None,
         known: dict[str, dict[str, str]] | None = None) -> StackPlan:
    """Evaluate the template for the stack `stack_name` (TemplateError when CloudFormation would
    refuse it: an undeclared parameter, a missing value, a broken intrinsic function). `known`
    gives attributes only the deploy knows (an endpoint's URL: {logical id: {FunctionUrl: ...}})."""
    stack = Stack(document, dict(parameters), {}, stack_name, region, account, file, exports, cli_hints=False)
    stack.known = dict(known or {})
    transforms = stack.template.get("Transform")
    transforms = transforms if isinstance(transforms, list) else [transforms] if transforms else []
    for transform in transforms:
        if transform not in KNOWN_TRANSFORMS:
            raise stack.error(("Transform",), f"the transform {transform} is a macro pipemu cannot run; deploy the "
                                              "processed template (aws cloudformation get-template --template-stage Processed)")
    if "AWS::LanguageExtensions" in transforms:
        stack.warnings.append("Transform: AWS::LanguageExtensions is not carried out (Fn::ForEach and the other "
                              "extensions are read as written)")
    globals_ = ((stack.template.get("Globals") or {}).get("Function") or {}) if SAM in transforms else {}
    if SAM in transforms:
        _sam_implicit(stack, globals_)
    resources, routes = [], {}
    for logical, resource in list(stack.resources.items()):
        kind = str((resource or {}).get("Type", ""))
        if (resource or {}).get("pipemu-implicit"):
            continue  # SAM's implicit APIs: planned below, with their routes
        condition = (resource or {}).get("Condition")
        if condition is not None and not stack.condition(condition, ("Resources", logical, "Condition")):
            continue
        function = endpoint = None
        if kind == "AWS::Lambda::Function" or (kind == "AWS::Serverless::Function" and SAM in transforms):
            function = _function(stack, logical, kind, globals_)
            for api, route in (resource.get("pipemu-routes") or []):
                routes.setdefault(api, []).append((*route, function.name))
        elif kind == "AWS::Lambda::Url":
            at = ("Resources", logical, "Properties")
            props = stack.eval(resource.get("Properties") or {}, at)
            target = stack.text(props.get("TargetFunctionArn", ""), at + ("TargetFunctionArn",)).rsplit(":", 1)[-1]
            ignored = sorted(set(props) - {"TargetFunctionArn", "AuthType"})
            if ignored:
                stack.warnings.append(f"Resources.{logical}: {', '.join(ignored)} not carried out by the local URL")
            if props.get("AuthType") == "AWS_IAM":
                stack.warnings.append(f"Resources.{logical}: AuthType AWS_IAM is not checked: the local URL answers anyone")
            endpoint = EndpointSpec((("ANY", "$default", target),))
        physical = stack.physical_name(logical)
        if kind in ("AWS::SNS::Topic",):  # Ref of a topic is its ARN: DescribeStackResources shows that
            physical = stack.ref(logical, ())
        resources.append(PlannedResource(logical, kind, physical, function, endpoint))
    for api, found in routes.items():  # SAM's implicit APIs, once their functions are known
        payload = "1.0" if api == "ServerlessRestApi" else "2.0"
        resources.append(PlannedResource(api, "AWS::ApiGatewayV2::Api" if payload == "2.0" else "AWS::ApiGateway::RestApi",
                                         stack.physical_name(api), endpoint=EndpointSpec(tuple(found), payload)))
    outputs = []
    for key, output in (stack.template.get("Outputs") or {}).items():
        output = output or {}
        if "Condition" in output and not stack.condition(output["Condition"], ("Outputs", key, "Condition")):
            continue
        at = ("Outputs", key, "Value")
        value = stack.eval(output.get("Value"), at)
        if isinstance(value, list):
            value = ",".join(stack.text(v, at) for v in value)  # CloudFormation joins a list output
        entry = {"OutputKey": key, "OutputValue": stack.text(value, at)}
        if output.get("Description"):
            entry["Description"] = stack.text(stack.eval(output["Description"], ("Outputs", key, "Description")), at)
        if isinstance(output.get("Export"), dict) and "Name" in output["Export"]:
            name_at = ("Outputs", key, "Export", "Name")
            entry["ExportName"] = stack.text(stack.eval(output["Export"]["Name"], name_at), name_at)
        outputs.append(entry)
    declared = stack.template.get("Parameters") or {}
    values = {name: ",".join(v) if isinstance(v, list) else str(v) for name, v in stack.params.items()}
    no_echo = frozenset(n for n, spec in declared.items() if str((spec or {}).get("NoEcho", "")).lower() == "true")
    description = stack.template.get("Description")
    return StackPlan(str(description) if description is not None else None, values, no_echo, resources, outputs,
                     stack.warnings)


def _sam_implicit(stack: Stack, globals_: dict) -> None:
    """The resources SAM adds to a function: `<Function>Url` for FunctionUrlConfig, and the
    implicit APIs (ServerlessHttpApi, ServerlessRestApi) its HttpApi and Api events join, so that
    outputs referring to them evaluate."""
    for logical, resource in list(stack.resources.items()):
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties") or {}
        condition = {"Condition": resource["Condition"]} if "Condition" in resource else {}
        if props.get("FunctionUrlConfig") or globals_.get("FunctionUrlConfig"):
            config = props.get("FunctionUrlConfig") or globals_.get("FunctionUrlConfig") or {}
            stack.resources[f"{logical}Url"] = {"Type": "AWS::Lambda::Url", **condition, "Properties": {
                **{k: v for k, v in config.items() if k != "AuthType"},  # Cors, InvokeMode: warned about
                "TargetFunctionArn": {"Ref": logical}, "AuthType": config.get("AuthType", "NONE")}}
        routes = []
        for name, event in (props.get("Events") or {}).items():
            if not isinstance(event, dict) or event.get("Type") not in ("HttpApi", "Api"):
                kind = event.get("Type") if isinstance(event, dict) else event
                stack.warnings.append(f"Resources.{logical}.Properties.Events.{name}: {kind} events are not carried out "
                                      "(nothing invokes the function on them here)")
                continue
            api = "ServerlessHttpApi" if event["Type"] == "HttpApi" else "ServerlessRestApi"
            if isinstance((event.get("Properties") or {}).get("ApiId" if api == "ServerlessHttpApi" else "RestApiId"), dict):
                stack.warnings.append(f"Resources.{logical}.Events.{name}: an explicit API is served as SAM's implicit one")
            event_props = stack.eval(event.get("Properties") or {}, ("Resources", logical, "Properties", "Events", name))
            method = str(event_props.get("Method", "ANY")).upper()
            path = str(event_props.get("Path", "$default"))
            routes.append((api, ("ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method, path)))
            stack.resources.setdefault(api, {"Type": "AWS::ApiGatewayV2::Api" if api == "ServerlessHttpApi"
                                             else "AWS::ApiGateway::RestApi", "pipemu-implicit": True})
        if routes:
            resource["pipemu-routes"] = routes


def _function(stack: Stack, logical: str, kind: str, globals_: dict) -> FunctionSpec:
    at = ("Resources", logical, "Properties")
    raw = (stack.resources[logical].get("Properties") or {})
    if kind == "AWS::Serverless::Function":
        raw = {**globals_, **raw}
        if isinstance(globals_.get("Environment"), dict) and isinstance(raw.get("Environment"), dict):
            merged = {**(globals_["Environment"].get("Variables") or {}), **(raw["Environment"].get("Variables") or {})}
            raw["Environment"] = {"Variables": merged}
    props = stack.eval(raw, at)
    if kind == "AWS::Lambda::Function":
        props = types.convert(kind, props)
    unknown = sorted(set(props) - CARRIED_OUT)
    if unknown:
        stack.warnings.append(f"Resources.{logical}: {', '.join(unknown)} not carried out by the local Lambda")
    name = stack.physical_name(logical)
    if not FUNCTION_NAME.fullmatch(name):  # Lambda refuses it; it also names a folder and containers here
        raise stack.error(at + ("FunctionName",), f"1 validation error detected: Value '{name}' at 'functionName' "
                                                  "failed to satisfy constraint: Member must satisfy regular "
                                                  "expression pattern: [a-zA-Z0-9-_]{1,64}")
    code = _code(stack, logical, kind, props, at)
    runtime = props.get("Runtime")
    if runtime is None and "ImageUri" not in code:
        raise stack.error(at, f"function {logical} has no Runtime (Lambda requires one for a .zip function)")
    handler = props.get("Handler")
    command = (props.get("ImageConfig") or {}).get("Command") if "ImageUri" in code else None
    if command:  # an image function's handler is its ImageConfig.Command (else the image's CMD)
        handler = command[0] if isinstance(command, list) else command
    if handler is None and "ImageUri" not in code:
        raise stack.error(at, f"function {logical} has no Handler (Lambda requires one for a .zip function)")
    variables = ((props.get("Environment") or {}).get("Variables") or {})
    return FunctionSpec(
        name=name, runtime=str(runtime) if runtime else None, handler=str(handler) if handler else None, code=code,
        environment={str(k): stack.text(v, at + ("Environment", "Variables", k)) for k, v in variables.items()},
        timeout=_number(stack, props.get("Timeout", DEFAULT_TIMEOUT), at + ("Timeout",)),
        memory_size=_number(stack, props.get("MemorySize", DEFAULT_MEMORY), at + ("MemorySize",)),
        description=str(props.get("Description") or ""),
    )


def _number(stack: Stack, value: Any, path: tuple) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise stack.error(path, f"{value!r} is not an integer") from None


def _code(stack: Stack, logical: str, kind: str, props: dict, at: tuple) -> dict:
    """Where a function's code is, in one of the forms FunctionSpec.code lists."""
    if kind == "AWS::Lambda::Function":
        code = props.get("Code")
        if not isinstance(code, dict):
            raise stack.error(at + ("Code",), f"function {logical} has no Code")
        if "ZipFile" in code:
            return {"ZipFile": stack.text(code["ZipFile"], at + ("Code", "ZipFile"))}
        if "ImageUri" in code:
            return {"ImageUri": stack.text(code["ImageUri"], at + ("Code", "ImageUri"))}
        if "S3Bucket" in code and "S3Key" in code:
            return {"S3Bucket": stack.text(code["S3Bucket"], at), "S3Key": stack.text(code["S3Key"], at)}
        raise stack.error(at + ("Code",), "Code needs ZipFile, ImageUri, or S3Bucket and S3Key")
    if "InlineCode" in props:
        return {"ZipFile": stack.text(props["InlineCode"], at + ("InlineCode",))}
    if "ImageUri" in props:
        return {"ImageUri": stack.text(props["ImageUri"], at + ("ImageUri",))}
    uri = props.get("CodeUri")
    if isinstance(uri, dict) and "Bucket" in uri and "Key" in uri:
        return {"S3Bucket": stack.text(uri["Bucket"], at), "S3Key": stack.text(uri["Key"], at)}
    if isinstance(uri, str) and (match := re.fullmatch(r"s3://([^/]+)/(.+)", uri)):
        return {"S3Bucket": match.group(1), "S3Key": match.group(2)}
    if isinstance(uri, str):  # a path as `sam build` reads it: beside the template
        return {"Path": uri}
    raise stack.error(at, f"function {logical} has no CodeUri, InlineCode nor ImageUri")


__all__ = ["EndpointSpec", "FunctionSpec", "PlannedResource", "StackPlan", "TemplateError", "plan", "read"]
