"""Evaluating a template as one stack: parameters (defaults, overrides, constraints), pseudo
parameters, conditions, mappings and the intrinsic functions.

`Ref` of a resource gives its physical name and `Fn::GetAtt X.Arn` an ARN of the right service
format. Import (definitions/cfn_import.py), export and deploys (deploy.py) all evaluate with
`Stack`; a deploy hands it the names and attributes of what it really made (`known`).
"""

from __future__ import annotations

import json
import re
from typing import Any


NO_VALUE = object()  # AWS::NoValue: the property it is given to is removed

# type -> the property holding its physical name (what Ref gives; without it, the logical id)
NAME_PROPERTY = {"AWS::CodePipeline::Pipeline": "Name", "AWS::CodeBuild::Project": "Name",
                 "AWS::Lambda::Function": "FunctionName", "AWS::Serverless::Function": "FunctionName",
                 "AWS::CodeCommit::Repository": "RepositoryName",
                 "AWS::IAM::Role": "RoleName", "AWS::S3::Bucket": "BucketName", "AWS::Events::Rule": "Name",
                 "AWS::SNS::Topic": "TopicName", "AWS::Logs::LogGroup": "LogGroupName",
                 "AWS::Scheduler::Schedule": "Name", "AWS::ECR::Repository": "RepositoryName",
                 "AWS::SQS::Queue": "QueueName", "AWS::CodeStarConnections::Connection": "ConnectionName",
                 "AWS::SSM::Parameter": "Name", "AWS::ECS::Cluster": "ClusterName", "AWS::ECS::Service": "ServiceName",
                 "AWS::CodeDeploy::Application": "ApplicationName",
                 "AWS::CodeDeploy::DeploymentGroup": "DeploymentGroupName", "AWS::CloudWatch::Alarm": "AlarmName",
                 "AWS::CodePipeline::Webhook": "Name"}
ARN_FORMAT = {"AWS::CodePipeline::Pipeline": "arn:{p}:codepipeline:{r}:{a}:{n}",
              "AWS::CodeBuild::Project": "arn:{p}:codebuild:{r}:{a}:project/{n}",
              "AWS::Lambda::Function": "arn:{p}:lambda:{r}:{a}:function:{n}",
              "AWS::Serverless::Function": "arn:{p}:lambda:{r}:{a}:function:{n}",
              "AWS::CodeCommit::Repository": "arn:{p}:codecommit:{r}:{a}:{n}",
              "AWS::IAM::Role": "arn:{p}:iam::{a}:role/{n}", "AWS::S3::Bucket": "arn:{p}:s3:::{n}",
              "AWS::Events::Rule": "arn:{p}:events:{r}:{a}:rule/{n}", "AWS::SNS::Topic": "arn:{p}:sns:{r}:{a}:{n}",
              "AWS::Logs::LogGroup": "arn:{p}:logs:{r}:{a}:log-group:{n}:*",
              "AWS::Scheduler::Schedule": "arn:{p}:scheduler:{r}:{a}:schedule/default/{n}",
              "AWS::CodeStarConnections::Connection": "arn:{p}:codestar-connections:{r}:{a}:connection/{n}",
              "AWS::ECR::Repository": "arn:{p}:ecr:{r}:{a}:repository/{n}",
              "AWS::SQS::Queue": "arn:{p}:sqs:{r}:{a}:{n}", "AWS::KMS::Key": "arn:{p}:kms:{r}:{a}:key/{n}",
              "AWS::IAM::ManagedPolicy": "arn:{p}:iam::{a}:policy/{n}",
              "AWS::ECS::Service": "arn:{p}:ecs:{r}:{a}:service/{n}",
              "AWS::CloudWatch::Alarm": "arn:{p}:cloudwatch:{r}:{a}:alarm:{n}",
              "AWS::CloudFormation::Stack": "arn:{p}:cloudformation:{r}:{a}:stack/{n}/pipemu"}
REF_IS_ARN = ("AWS::SNS::Topic", "AWS::CodeStarConnections::Connection", "AWS::IAM::ManagedPolicy",
              "AWS::CloudFormation::Stack", "AWS::ECS::Service")
# Attributes other stacks' templates commonly read, in the form AWS gives them ({n}: the name).
ATTRIBUTE_FORMAT = {
    ("AWS::ECR::Repository", "RepositoryUri"): "{a}.dkr.ecr.{r}.amazonaws.com/{n}",
    ("AWS::S3::Bucket", "DomainName"): "{n}.s3.amazonaws.com",
    ("AWS::S3::Bucket", "RegionalDomainName"): "{n}.s3.{r}.amazonaws.com",
    ("AWS::S3::Bucket", "WebsiteURL"): "http://{n}.s3-website-{r}.amazonaws.com",
    ("AWS::SQS::Queue", "QueueUrl"): "https://sqs.{r}.amazonaws.com/{a}/{n}",
    ("AWS::SQS::Queue", "QueueName"): "{n}",
    ("AWS::SNS::Topic", "TopicName"): "{n}",
    ("AWS::SNS::Topic", "TopicArn"): "arn:{p}:sns:{r}:{a}:{n}",
    ("AWS::KMS::Key", "KeyId"): "{n}",
    ("AWS::CodeCommit::Repository", "CloneUrlSsh"): "ssh://git-codecommit.{r}.amazonaws.com/v1/repos/{n}",
    ("AWS::CodeStarConnections::Connection", "ConnectionArn"): "arn:{p}:codestar-connections:{r}:{a}:connection/{n}",
    ("AWS::CloudFront::Distribution", "DomainName"): "{n}.cloudfront.net",
    ("AWS::SSM::Parameter", "Type"): "String",
    ("AWS::ECS::Service", "Name"): "{n}",
}


class TemplateError(Exception):
    """A template we cannot import; `path` names the resource and the property."""

    def __init__(self, path: tuple, message: str, line: int | None = None, column: int | None = None,
                 file: str | None = None) -> None:
        self.path, self.message, self.line, self.column, self.file = dotted_path(path), message, line, column, file
        where = ":".join(str(x) for x in (file, line, column) if x is not None)
        super().__init__(f"{where + ': ' if where else ''}{self.path}: {message}")


def dotted_path(path: tuple) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<template>"


class Stack:
    """One stack's evaluation: parameters, conditions, mappings, intrinsic functions."""

    def __init__(self, document: Any, parameters: dict[str, str], maps: dict[str, str], stack_name: str,
                 region: str, account: str, file: str | None, exports: dict[str, str] | None = None,
                 cli_hints: bool = True) -> None:
        self.doc, self.template, self.maps, self.file = document, document.data, maps, file
        self.cli_hints = cli_hints  # messages name `pipemu import`'s options (not for a deploy)
        self.exports = exports or {}  # Export.Name -> value, of the other stacks pipemu knows
        partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
        self.pseudo = {"AWS::StackName": stack_name, "AWS::Region": region, "AWS::AccountId": account,
                       "AWS::Partition": partition, "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
                       "AWS::StackId": f"arn:{partition}:cloudformation:{region}:{account}:stack/{stack_name}/pipemu",
                       "AWS::NotificationARNs": [], "AWS::NoValue": NO_VALUE}
        self.resources: dict[str, dict] = self.template.get("Resources") or {}
        self.conditions: dict[str, bool] = {}
        self.names: dict[str, str] = {}
        self.known: dict[str, dict[str, str]] = {}  # logical id -> attribute -> the value a deploy made
        self.warnings: list[str] = []
        self.params = self._parameters(parameters)

    def error(self, path: tuple, message: str) -> TemplateError:
        position = self.doc.locate(path)
        return TemplateError(path, message, position.line, position.column, self.file)

    def _parameters(self, overrides: dict[str, str]) -> dict[str, Any]:
        declared = self.template.get("Parameters") or {}
        unknown = [name for name in overrides if name not in declared]
        if unknown:  # CloudFormation's words, then which parameters there are
            raise self.error(("Parameters", unknown[0]), f"Parameters: [{', '.join(unknown)}] do not exist in the template "
                                                         f"(its parameters: {', '.join(declared) or 'none'})")
        missing = [name for name, spec in declared.items() if name not in overrides and (spec or {}).get("Default") is None]
        if missing:
            hint = f" (--parameter {missing[0]}=VALUE)" if self.cli_hints else ""
            raise self.error(("Parameters", missing[0]), f"Parameters: [{', '.join(missing)}] must have values{hint}")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            value = overrides.get(name, spec.get("Default"))
            value = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            self._check_parameter(name, spec, value)
            kind = str(spec.get("Type", "String"))
            if kind.startswith("AWS::SSM::Parameter::Value<"):
                value = self._ssm(name, value)
                kind = kind[len("AWS::SSM::Parameter::Value<"):-1]
            values[name] = [v.strip() for v in value.split(",")] if kind == "CommaDelimitedList" or kind.startswith("List<") else value
        return values

    def _check_parameter(self, name: str, spec: dict, value: str) -> None:
        """CloudFormation's parameter constraints, refused as it refuses them (naming the parameter)."""
        at = ("Parameters", name)
        said = spec.get("ConstraintDescription")
        def refuse(key: str, why: str) -> TemplateError:
            return self.error(at + (key,), f"parameter {name}: {why}" + (f" ({said})" if said else ""))
        allowed = [str(v) for v in spec.get("AllowedValues") or []]
        if allowed and value not in allowed:
            raise refuse("AllowedValues", f"{value!r} is not one of {allowed}")
        if spec.get("AllowedPattern") and not re.fullmatch(str(spec["AllowedPattern"]), value):
            raise refuse("AllowedPattern", f"{value!r} does not match {spec['AllowedPattern']}")
        for key, fails in (("MinLength", lambda n: len(value) < n), ("MaxLength", lambda n: len(value) > n)):
            if key in spec and fails(int(spec[key])):
                raise refuse(key, f"{value!r} is {len(value)} characters; {key} is {spec[key]}")
        if str(spec.get("Type", "String")) == "Number":
            try:
                number = float(value)
            except ValueError:
                raise refuse("Type", f"{value!r} is not a number") from None
            for key, fails in (("MinValue", lambda n: number < n), ("MaxValue", lambda n: number > n)):
                if key in spec and fails(float(spec[key])):
                    raise refuse(key, f"{value} is outside {key} {spec[key]}")

    def _ssm(self, name: str, parameter: str) -> str:
        """A parameter typed AWS::SSM::Parameter::Value<...>: its value is the named Systems
        Manager parameter's, which only `--map ssm:NAME=VALUE` knows here."""
        if f"ssm:{parameter}" in self.maps:
            return self.maps[f"ssm:{parameter}"]
        self.warnings.append(f"Parameters.{name}: the value of the SSM parameter {parameter} is read from Parameter Store "
                             f"on AWS; here it is {parameter!r} (give --map ssm:{parameter}=VALUE)")
        return parameter

    def condition(self, name: Any, path: tuple) -> bool:
        declared = self.template.get("Conditions") or {}
        if name not in declared:
            raise self.error(path, f"condition {name} is not declared in Conditions")
        if name not in self.conditions:
            self.conditions[name] = False  # a cycle reads False rather than recursing forever
            self.conditions[name] = self._bool(declared[name], ("Conditions", name))
        return self.conditions[name]

    def _bool(self, value: Any, path: tuple) -> bool:
        if isinstance(value, dict) and list(value) == ["Condition"]:
            return self.condition(value["Condition"], path)
        result = self.eval(value, path)
        if isinstance(result, str) and result.lower() in ("true", "false"):
            return result.lower() == "true"
        if not isinstance(result, bool):
            raise self.error(path, "a condition must be Fn::Equals, Fn::And, Fn::Or, Fn::Not or a Condition")
        return result

    def eval(self, value: Any, path: tuple) -> Any:
        """The value with every intrinsic function resolved (NO_VALUE members removed)."""
        if isinstance(value, dict):
            if len(value) == 1:
                (key, arg), = value.items()
                if key == "Ref" or key.startswith("Fn::"):
                    return self._function(key, arg, path)
            out = {k: self.eval(v, path + (k,)) for k, v in value.items()}
            return {k: v for k, v in out.items() if v is not NO_VALUE}
        if isinstance(value, list):
            return [r for r in (self.eval(v, path + (i,)) for i, v in enumerate(value)) if r is not NO_VALUE]
        return value

    def text(self, value: Any, path: tuple) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (str, int, float)):
            return str(value)
        raise self.error(path, f"a string was expected, got {json.dumps(value, default=str)}")

    def _args(self, arg: Any, count: tuple[int, int], name: str, path: tuple) -> list:
        if not isinstance(arg, list) or not count[0] <= len(arg) <= count[1]:
            raise self.error(path, f"{name} takes a list of {count[0]}..{count[1]} arguments")
        return arg

    def _function(self, key: str, arg: Any, path: tuple) -> Any:
        if key == "Ref":
            return self.ref(self.eval(arg, path), path)
        if key == "Fn::GetAtt":
            arg = arg.split(".", 1) if isinstance(arg, str) else self._args(arg, (2, 2), key, path)
            return self.getatt(self.eval(arg[0], path), self.text(self.eval(arg[1], path), path), path)
        if key == "Fn::Sub":
            return self._sub(arg, path)
        if key == "Fn::Join":
            delimiter, items = self._args(arg, (2, 2), key, path)
            items = self.eval(items, path)
            return self.text(delimiter, path).join(self.text(i, path) for i in (items if isinstance(items, list) else [items]))
        if key == "Fn::Select":
            index, items = self._args(arg, (2, 2), key, path)
            index, items = int(self.text(self.eval(index, path), path)), self.eval(items, path)
            if not isinstance(items, list) or not 0 <= index < len(items):
                raise self.error(path, f"Fn::Select index {index} is outside the list {items}")
            return items[index]
        if key == "Fn::Split":
            delimiter, source = self._args(arg, (2, 2), key, path)
            return self.text(self.eval(source, path), path).split(self.text(delimiter, path))
        if key == "Fn::If":
            name, yes, no = self._args(arg, (3, 3), key, path)
            return self.eval(yes if self.condition(name, path) else no, path)
        if key == "Fn::Equals":
            a, b = (self.eval(v, path) for v in self._args(arg, (2, 2), key, path))
            return (self.text(a, path) if not isinstance(a, (list, dict)) else a) == (self.text(b, path) if not isinstance(b, (list, dict)) else b)
        if key == "Fn::Not":
            return not self._bool(self._args(arg, (1, 1), key, path)[0], path)
        if key in ("Fn::And", "Fn::Or"):
            results = [self._bool(v, path) for v in self._args(arg, (2, 10), key, path)]
            return all(results) if key == "Fn::And" else any(results)
        if key == "Fn::FindInMap":
            name, top, second = (self.text(self.eval(v, path), path) for v in self._args(arg, (3, 3), key, path))
            try:
                return (self.template.get("Mappings") or {})[name][top][second]
            except (KeyError, TypeError):
                raise self.error(path, f"Fn::FindInMap: Mappings has no {name}.{top}.{second}") from None
        if key == "Fn::Base64":  # the local Lambda gets the text itself
            return self.eval(arg, path)
        if key == "Fn::GetAZs":
            return [f"{self.pseudo['AWS::Region']}{zone}" for zone in "abc"]
        if key == "Fn::ImportValue":
            name = self.text(self.eval(arg, path), path)
            if f"import:{name}" in self.maps:
                return self.maps[f"import:{name}"]
            if name in self.exports:
                return self.exports[name]
            self.warnings.append(f"{dotted_path(path)}: Fn::ImportValue {name}: no stack pipemu knows exports it; "
                                 f"it reads {name!r} (give --map import:{name}=VALUE)")
            return name
        if key == "Fn::ToJsonString":
            return json.dumps(self.eval(arg, path), separators=(",", ":"))
        if key == "Fn::Length":
            return len(self.eval(arg, path))
        raise self.error(path, f"{key} is not supported")

    def _sub(self, arg: Any, path: tuple) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else self._args(arg, (2, 2), "Fn::Sub", path)
        variables = self.eval(variables, path)

        def replace(match: re.Match) -> str:
            inner = match.group(1)
            if inner.startswith("!"):  # ${!Literal} is written as ${Literal}
                return "${" + inner[1:] + "}"
            name = inner.strip()
            if name in variables:
                return self.text(variables[name], path)
            if "." in name and not name.startswith("AWS::"):
                return self.text(self.getatt(*name.split(".", 1), path), path)
            return self.text(self.ref(name, path), path)

        return re.sub(r"\$\{([^}]*)\}", replace, self.text(text, path))

    def ref(self, name: Any, path: tuple) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        resource = self.resource(name, path)
        if resource.get("Type") in REF_IS_ARN:
            return self.getatt(name, "Arn", path)
        return self.physical_name(name)

    def resource(self, name: Any, path: tuple) -> dict:
        resource = self.resources.get(name)
        if not isinstance(resource, dict):
            raise self.error(path, f"{name} is neither a parameter, a pseudo parameter nor a resource")
        if "Condition" in resource and not self.condition(resource["Condition"], ("Resources", name, "Condition")):
            raise self.error(path, f"resource {name} is not created (its condition {resource['Condition']} is false)")
        return resource

    def physical_name(self, logical: str) -> str:
        """The resource's name: its name property, else one generated as CloudFormation does,
        `STACK-LOGICAL` (CloudFormation adds a random suffix; ours is left out so that an import
        writes the same names every time, and two stacks of one template differ by the stack's
        name). Bucket names are lower case, as S3 requires."""
        if logical not in self.names:
            generated = f"{self.pseudo['AWS::StackName']}-{logical}"
            if str(self.resources[logical].get("Type", "")).startswith("AWS::S3::"):
                generated = generated.lower()
            self.names[logical] = generated  # a name that refers to itself ends here
            prop = NAME_PROPERTY.get(self.resources[logical].get("Type"))
            given = (self.resources[logical].get("Properties") or {}).get(prop) if prop else None
            if given is not None:
                path = ("Resources", logical, "Properties", prop)
                self.names[logical] = self.text(self.eval(given, path), path)
        return self.names[logical]

    def getatt(self, logical: Any, attribute: str, path: tuple) -> str:
        kind = self.resource(logical, path).get("Type", "")
        if attribute in self.known.get(logical, {}):  # what a deploy really made (a local URL)
            return self.known[logical][attribute]
        values = {"p": self.pseudo["AWS::Partition"], "r": self.pseudo["AWS::Region"],
                  "a": self.pseudo["AWS::AccountId"], "n": self.physical_name(logical)}
        if attribute == "Arn":
            service = kind.split("::")[1].lower() if kind.count("::") == 2 else "unknown"
            return ARN_FORMAT.get(kind, "arn:{p}:" + service + ":{r}:{a}:{n}").format(**values)
        if attribute in ("Name", "RoleId", "Id"):
            return values["n"]
        if attribute == "CloneUrlHttp":
            return "https://git-codecommit.{r}.amazonaws.com/v1/repos/{n}".format(**values)
        if (kind, attribute) in ATTRIBUTE_FORMAT:
            return ATTRIBUTE_FORMAT[(kind, attribute)].format(**values)
        self.warnings.append(f"{dotted_path(path)}: Fn::GetAtt {logical}.{attribute} has no local value; it reads {logical}.{attribute}")
        return f"{logical}.{attribute}"
