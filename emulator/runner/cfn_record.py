"""CloudFormation deploys of stacks with no `stacks:` entry: the template is validated and the
stack recorded as deployed, not run (a real AWS stack we cannot stand in for, such as a VPC).

What is checked, as CloudFormation would before creating anything: the template given by
TemplatePath exists in its input artifact and is a template; ParameterOverrides (with
Fn::GetArtifactAtt and Fn::GetParam resolved) and TemplateConfiguration name only declared
parameters, and every parameter without a Default gets a value. The record (parameters, outputs)
is kept under the state folder; OutputFileName receives the outputs as CloudFormation writes them.
"""

from __future__ import annotations

import json
from pathlib import Path

from emulator.definitions.cfn_yaml import TemplateSyntaxError, is_template, load
from emulator.engine.events import ActionOutput, ArtifactOutput

from .artifact_files import OutsideArtifact, inside
from .failures import ActionFailure


def _failure(message: str) -> ActionFailure:
    return ActionFailure(message)


def _artifact_file(inputs: dict[str, Path], reference: str, what: str) -> Path:
    artifact, _, path = reference.partition("::")
    if not path or artifact not in inputs:
        raise _failure(f"{what} {reference!r} must be ArtifactName::path with an input artifact "
                       f"({', '.join(sorted(inputs)) or 'none'})")
    try:
        return inside(inputs[artifact], path, what)
    except FileNotFoundError:
        raise _failure(f"{what}: {path} not found in input artifact {artifact}") from None
    except OutsideArtifact as exc:
        raise _failure(str(exc)) from None


def _resolve(value, inputs: dict[str, Path]):
    """A ParameterOverrides value: text, or Fn::GetArtifactAtt / Fn::GetParam as CodePipeline has them."""
    if isinstance(value, dict) and "Fn::GetArtifactAtt" in value:
        artifact, attribute = value["Fn::GetArtifactAtt"]
        if artifact not in inputs:
            raise _failure(f"Fn::GetArtifactAtt names {artifact}, which is not an input artifact")
        known = {"BucketName": "pipemu-artifacts", "ObjectKey": str(inputs[artifact].name),
                 "URL": inputs[artifact].as_uri()}
        if attribute not in known:
            raise _failure(f"Fn::GetArtifactAtt attribute {attribute} is not one of {', '.join(known)}")
        return known[attribute]
    if isinstance(value, dict) and "Fn::GetParam" in value:
        artifact, file, key = value["Fn::GetParam"]
        data = json.loads(_artifact_file(inputs, f"{artifact}::{file}", "Fn::GetParam").read_text())
        if key not in data:
            raise _failure(f"Fn::GetParam: {file} in {artifact} has no key {key}")
        return str(data[key])
    return str(value)


def record(runner, command, config: dict) -> ActionOutput:
    name = config["StackName"]
    records = runner.state_dir / "stacks"
    record_file = records / f"{name}.json"
    log = lambda line: runner.log(command, line)  # noqa: E731
    if config["ActionMode"] == "DELETE_ONLY":
        record_file.unlink(missing_ok=True)
        log(f"[pipemu] stack {name}: deletion recorded (it has no stacks: entry, so nothing ran)")
        return ActionOutput(summary=f"Stack {name} deleted (recorded)", external_execution_id=name)
    inputs = {a.name: runner.state_dir / a.location for a in command.inputs}
    if not config.get("TemplatePath"):
        raise _failure(f"stack {name} has no stacks: entry, so its TemplatePath is needed to validate it")
    template_file = _artifact_file(inputs, config["TemplatePath"], "TemplatePath")
    try:
        template = load(template_file.read_text())
    except TemplateSyntaxError as error:
        raise _failure(f"{config['TemplatePath']}: {error}") from None
    if not is_template(template):
        raise _failure(f"{config['TemplatePath']} is not a CloudFormation template (no Resources)")
    parameters: dict[str, str] = {}
    if config.get("TemplateConfiguration"):
        configuration = json.loads(_artifact_file(inputs, config["TemplateConfiguration"], "TemplateConfiguration").read_text())
        parameters.update({k: str(v) for k, v in (configuration.get("Parameters") or {}).items()})
    try:
        overrides = json.loads(config.get("ParameterOverrides") or "{}")
    except ValueError as error:
        raise _failure(f"ParameterOverrides is not JSON: {error}") from None
    parameters.update({k: _resolve(v, inputs) for k, v in overrides.items()})
    declared = template.get("Parameters") or {}
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise _failure(f"Parameters: {', '.join(unknown)} do not exist in the template")
    missing = sorted(p for p, spec in declared.items() if p not in parameters and "Default" not in (spec or {}))
    if missing:
        raise _failure(f"Parameters: [{', '.join(missing)}] must have values")
    values = {p: parameters.get(p, str((spec or {}).get("Default", ""))) for p, spec in declared.items()}
    outputs = {}
    for key, output in (template.get("Outputs") or {}).items():
        value = (output or {}).get("Value")
        if isinstance(value, dict) and "Ref" in value and value["Ref"] in values:
            value = values[value["Ref"]]
        outputs[key] = value if isinstance(value, str) else f"{name}-{key}"
    records.mkdir(parents=True, exist_ok=True)
    record_file.write_text(json.dumps({"stack": name, "parameters": values, "outputs": outputs,
                                       "execution": command.execution_id}, indent=2))
    log(f"[pipemu] stack {name}: template {config['TemplatePath']} is valid; deploy recorded, not run "
        "(no stacks: entry stands in for it)")
    artifacts = []
    if config.get("OutputFileName") and command.action.output_artifacts:
        out = command.action.output_artifacts[0]
        dest = runner.fresh_artifact_dir(command.execution_id, out)
        dest.mkdir(parents=True)
        (dest / config["OutputFileName"]).write_text(json.dumps(outputs, indent=2))
        artifacts.append(ArtifactOutput(out, runner.artifact_location(command.execution_id, out)))
    return ActionOutput(summary=f"Stack {name} deployed (recorded, not run)", external_execution_id=name,
                        output_variables=tuple(sorted(outputs.items())), artifacts=tuple(artifacts))
