"""Secrets as AWS holds them: CodeBuild's SECRETS_MANAGER and PARAMETER_STORE references resolved
against the `secrets:` and `parameters:` stand-ins when an action runs.

A reference is what AWS users write: a project's or an action's environment variable of type
SECRETS_MANAGER or PARAMETER_STORE whose `value` is the secret's id or the parameter's name, or a
buildspec's `env.secrets-manager` / `env.parameter-store` entry. Secrets Manager references follow
CodeBuild's syntax `secret-id:json-key:version-stage:version-id` (the secret-id may be an ARN).
Values are read here, when the action runs (from the daemon's environment, a file, or inline), and
go only to that action's container; the caller masks them in the action's log.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from emulator.definitions.secret_refs import (PARAMETER_STORE, SECRETS_MANAGER, TYPES, find_parameter, find_secret,
                                              split_secret_reference)

CURRENT = "AWSCURRENT"  # the staging label of a secret's current version: the only one a stand-in holds
# A masked value shorter than this is not masked line by line inside a multi-line value (a JSON
# secret's `{` line would mask every brace of the log); the value as a whole always is.
_MIN_LINE = 4


class SecretError(Exception):
    """A reference that cannot be resolved; the message names it and where its stand-in goes."""


@dataclass(frozen=True)
class Reference:
    variable: str  # the environment variable it sets in the container
    type: str      # SECRETS_MANAGER or PARAMETER_STORE
    reference: str  # as written: the secret id (with json-key, ...) or the parameter name
    where: str     # where it was written, for messages (`project build environmentVariables`)


@dataclass
class Resolved:
    """The values the container gets, and what the action's log must never show."""

    environment: dict[str, str] = field(default_factory=dict)
    masked: list[str] = field(default_factory=list)  # longest first

    def add(self, variable: str, value: str) -> None:
        self.environment[variable] = value
        if not value:
            return
        candidates = {value} | {line.strip() for line in value.splitlines() if len(line.strip()) >= _MIN_LINE}
        self.masked = sorted(set(self.masked) | candidates, key=len, reverse=True)


def references(variables: list[Mapping[str, Any]], where: str) -> list[Reference]:
    """The SECRETS_MANAGER / PARAMETER_STORE entries of a list of {name, value, type}."""
    return [Reference(str(v["name"]), str(v["type"]), str(v["value"]), where)
            for v in variables if v.get("type") in TYPES]


def resolve(found: list[Reference], resources: object, environ: Mapping[str, str] | None = None) -> Resolved:
    """Every reference's value, read from its stand-in now (raises SecretError at the first that
    cannot be resolved). `resources` is the definitions folder (its `secrets` and `parameters`)."""
    environ = os.environ if environ is None else environ
    resolved = Resolved()
    for ref in found:
        if ref.type == SECRETS_MANAGER:
            value = _secret_value(ref, getattr(resources, "secrets", None) or {}, environ)
        else:
            value = _parameter_value(ref, getattr(resources, "parameters", None) or {}, environ)
        resolved.add(ref.variable, value)
    return resolved


def contains_secret(value: str, masked: list[str]) -> bool:
    return any(secret and secret in value for secret in masked)


# ---------------------------------------------------------------- Secrets Manager


def _secret_value(ref: Reference, secrets: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    try:
        secret_id, json_key, stage, version_id = split_secret_reference(ref.reference)
    except ValueError as error:
        raise SecretError(f"{ref.where} {ref.variable}: {error}") from None
    said = f"({ref.where} {ref.variable}: {ref.reference})"
    found = find_secret(secrets, secret_id)
    if found is None:
        # CodeBuild's words for a secret that does not exist, and where its stand-in goes here.
        raise SecretError(f"Secrets Manager Error Message: ResourceNotFoundException: Secrets Manager can't find "
                          f"the specified secret. {said}: declare its stand-in under secrets: in a file of the "
                          f"pipelines folder")
    name, stand_in = found
    if stage and version_id:
        raise SecretError(f"{said}: give version-stage or version-id, not both")
    # A stand-in holds one version, the current one: another label or a version id is not found,
    # in the words Secrets Manager uses.
    if stage and stage != CURRENT:
        raise SecretError(f"Secrets Manager Error Message: ResourceNotFoundException: Secrets Manager can't find the "
                          f"specified secret value for staging label: {stage} {said}: the stand-in of {name} holds "
                          f"only its {CURRENT} version")
    if version_id:
        raise SecretError(f"Secrets Manager Error Message: ResourceNotFoundException: Secrets Manager can't find the "
                          f"specified secret value for VersionId: {version_id} {said}: the stand-in of {name} holds "
                          f"only its {CURRENT} version")
    value = _read(f"secret {name}", stand_in, environ)
    if not json_key:
        return value
    try:
        document = json.loads(value)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise SecretError(f"{said}: the secret {name} is not a JSON object, so it has no key {json_key}")
    if json_key not in document:
        raise SecretError(f"{said}: the secret {name} has no JSON key {json_key}")
    picked = document[json_key]
    return picked if isinstance(picked, str) else json.dumps(picked)


# ---------------------------------------------------------------- Parameter Store


def _parameter_value(ref: Reference, parameters: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    found = find_parameter(parameters, ref.reference)
    if found is None:
        # As CodeBuild reports a parameter it cannot get (its DOWNLOAD_SOURCE context says
        # "Decrypted Variables Error"); the guide gives no wording of its own for it.
        raise SecretError(f"Decrypted Variables Error Message: parameter does not exist: {ref.reference} "
                          f"({ref.where} {ref.variable}): declare its stand-in under parameters: in a file of the "
                          f"pipelines folder")
    name, stand_in = found
    return _read(f"parameter {name}", stand_in, environ)


# ---------------------------------------------------------------- reading a stand-in


def _read(what: str, stand_in: Any, environ: Mapping[str, str]) -> str:
    if stand_in.env is not None:
        if stand_in.env not in environ:
            raise SecretError(f"the stand-in of {what} reads the environment variable {stand_in.env}, which the "
                              f"daemon's environment does not hold")
        return environ[stand_in.env]
    if stand_in.file is not None:
        try:
            text = stand_in.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise SecretError(f"the stand-in of {what} reads {stand_in.file}: {reason}") from None
        # Ours: a file written by `echo x > file` ends with a newline its author did not mean as
        # part of the value (Secrets Manager keeps what it was given); one final newline is dropped.
        return text[:-1] if text.endswith("\n") else text
    return stand_in.value


__all__ = ["CURRENT", "PARAMETER_STORE", "Reference", "Resolved", "SECRETS_MANAGER", "SecretError", "TYPES",
           "contains_secret", "references", "resolve", "split_secret_reference"]
