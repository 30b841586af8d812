"""Resolving `#{namespace.key}` references in an action's configuration, as CodePipeline does.

Namespaces: `codepipeline` (PipelineExecutionId), `variables` (pipeline-level variables) and
each action namespace that a finished action published (`SourceVariables.CommitId`).
"""

from __future__ import annotations

import re

from .state import Execution

REFERENCE = re.compile(r"#\{([A-Za-z0-9@\-_]+)\.([A-Za-z0-9@\-_.]+)\}")


class UnresolvedVariable(Exception):
    pass


def namespaces_of(execution: Execution) -> dict[str, dict[str, str]]:
    spaces = {
        "codepipeline": {"PipelineExecutionId": execution.execution_id},
        "variables": dict(execution.variables),
    }
    spaces.update(execution.namespaces)
    return spaces


def resolve(text: str, spaces: dict[str, dict[str, str]]) -> str:
    def substitute(match: re.Match) -> str:
        namespace, key = match.group(1), match.group(2)
        try:
            return spaces[namespace][key]
        except KeyError:
            raise UnresolvedVariable(f"unable to resolve variable #{{{namespace}.{key}}}") from None

    return REFERENCE.sub(substitute, text)


def resolve_configuration(
    configuration: tuple[tuple[str, str], ...], execution: Execution
) -> tuple[tuple[str, str], ...]:
    spaces = namespaces_of(execution)
    return tuple((key, resolve(value, spaces)) for key, value in configuration)


def resolve_commands(action, execution: Execution) -> tuple[tuple[str, ...], tuple[tuple[str, str, str], ...]]:
    """A Commands action's (or rule's) commands and environment variable values, resolved as
    its configuration is (AWS resolves `#{...}` in both)."""
    variables = getattr(action, "environment_variables", ())  # a Commands rule has none
    if not action.commands and not variables:
        return (), ()
    spaces = namespaces_of(execution)
    return (tuple(resolve(command, spaces) for command in action.commands),
            tuple((name, resolve(value, spaces), kind) for name, value, kind in variables))
