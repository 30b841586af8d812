"""References to Secrets Manager secrets and Parameter Store parameters as CodeBuild users write
them, and the `secrets:` / `parameters:` stand-ins they name. Pure: the loader warns about a
reference with no stand-in (the action would fail when it runs), and the runner (runner/secrets.py)
resolves references with the same lookups.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Mapping

import yaml

from .models import DefinitionFile, Loc, PipelineDeclaration, Problem

SECRETS_MANAGER = "SECRETS_MANAGER"
PARAMETER_STORE = "PARAMETER_STORE"
TYPES = (SECRETS_MANAGER, PARAMETER_STORE)
_ARN_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")  # Secrets Manager adds it to the name in a secret's ARN
_BUILDSPEC_SECTIONS = {"secrets-manager": SECRETS_MANAGER, "parameter-store": PARAMETER_STORE}

Reference = tuple[Loc, str, str]  # (where it is written, SECRETS_MANAGER or PARAMETER_STORE, as written)


def split_secret_reference(text: str) -> tuple[str, str, str, str]:
    """`secret-id:json-key:version-stage:version-id` -> its four parts (empty where left out).
    A secret-id that is an ARN holds six colons of its own. Raises ValueError."""
    parts = text.split(":")
    head = 7 if text.startswith("arn:") else 1
    secret_id, rest = ":".join(parts[:head]), parts[head:]
    if len(rest) > 3:
        raise ValueError(f"{text}: a Secrets Manager reference is secret-id:json-key:version-stage:version-id")
    json_key, stage, version_id = rest + [""] * (3 - len(rest))
    return secret_id, json_key, stage, version_id


def find_secret(secrets: Mapping[str, Any], secret_id: str) -> tuple[str, Any] | None:
    """(name, stand-in) of a secret named by its name, its ARN, or a partial ARN (no suffix)."""
    candidates = [secret_id]
    if secret_id.startswith("arn:") and ":secret:" in secret_id:
        name = secret_id.split(":secret:", 1)[1]
        candidates += [name, _ARN_SUFFIX.sub("", name)]
    return next(((name, secrets[name]) for name in candidates if name in secrets), None)


def find_parameter(parameters: Mapping[str, Any], name: str) -> tuple[str, Any] | None:
    """(name, stand-in) of a parameter named by its name or its ARN."""
    candidates = [name]
    if name.startswith("arn:") and ":parameter" in name:
        # arn:aws:ssm:REGION:ACCOUNT:parameter/NAME names `NAME` or `/NAME` (a path keeps its slash).
        rest = name.split(":parameter", 1)[1]
        candidates += [rest, rest.lstrip("/")]
    return next(((c, parameters[c]) for c in candidates if c in parameters), None)


# ---------------------------------------------------------------- where references are written


def file_references(definition: DefinitionFile) -> list[Reference]:
    """The references of a file's projects (environmentVariables, an inline buildspec's env) and
    of its pipeline's actions (a CodeBuild action's EnvironmentVariables)."""
    found: list[Reference] = []
    for name, project in definition.projects.items():
        for i, variable in enumerate(project.environmentVariables):
            if variable.type in TYPES:
                found.append((("projects", name, "environmentVariables", i, "value"), variable.type, variable.value))
        spec = project.inline_buildspec
        if isinstance(spec, str) and not any(section in spec for section in _BUILDSPEC_SECTIONS):
            spec = None  # parsed only when it may hold references: the folder is loaded on every change
        elif isinstance(spec, str):
            try:
                spec = yaml.safe_load(spec)
            except yaml.YAMLError:
                spec = None  # the build says why, as CodeBuild does
        env = spec.get("env") if isinstance(spec, dict) else None
        for section, kind in _BUILDSPEC_SECTIONS.items():
            entries = env.get(section) if isinstance(env, dict) else None
            for variable, reference in (entries.items() if isinstance(entries, dict) else ()):
                if isinstance(reference, str):
                    found.append((("projects", name, "buildspec", "env", section, variable), kind, reference))
    if definition.pipeline is not None:
        found += [(("pipeline",) + loc, kind, reference)
                  for loc, kind, reference in action_references(definition.pipeline)]
    return found


def action_references(pipeline: PipelineDeclaration) -> list[Reference]:
    found: list[Reference] = []
    for s, stage in enumerate(pipeline.stages):
        for a, action in enumerate(stage.actions):
            text = (action.configuration or {}).get("EnvironmentVariables")
            if action.actionTypeId.provider != "CodeBuild" or not text:
                continue
            try:
                variables = json.loads(text)
            except ValueError:
                continue  # the action fails when it runs, saying why
            for variable in variables if isinstance(variables, list) else ():
                if not isinstance(variable, dict) or not isinstance(variable.get("value"), str):
                    continue
                if variable.get("type") in TYPES:
                    found.append((("stages", s, "actions", a, "configuration", "EnvironmentVariables"),
                                  variable["type"], variable["value"]))
    return found


def undeclared(references: Iterable[Reference], secrets: Mapping[str, Any],
               parameters: Mapping[str, Any]) -> list[Problem]:
    """(path, message) of each reference no stand-in answers. A reference holding a pipeline
    variable (`#{...}`) is known only when the action runs."""
    problems: list[Problem] = []
    for loc, kind, reference in references:
        if "#{" in reference:
            continue
        if kind == SECRETS_MANAGER:
            try:
                secret_id = split_secret_reference(reference)[0]
            except ValueError as error:
                problems.append((loc, str(error)))
                continue
            if find_secret(secrets, secret_id) is None:
                problems.append((loc, f"secret {secret_id} is not declared in the pipelines folder (add it under "
                                      "secrets:); the action will fail when it runs"))
        elif find_parameter(parameters, reference) is None:
            problems.append((loc, f"parameter {reference} is not declared in the pipelines folder (add it under "
                                  "parameters:); the action will fail when it runs"))
    return problems


__all__ = ["PARAMETER_STORE", "SECRETS_MANAGER", "TYPES", "action_references", "file_references", "find_parameter",
           "find_secret", "split_secret_reference", "undeclared"]
