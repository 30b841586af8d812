"""AWS's rules for a stage's conditions that the model's shapes cannot say: which result each
condition may have (the user guide's lists: beforeEntry FAIL or SKIP, onSuccess ROLLBACK or
FAIL, onFailure ROLLBACK or RETRY), no automatic retry beside onFailure conditions, and each rule's type and configuration as AWS's
rule reference gives them; no rollback in PARALLEL mode (AWS: "stage rollback is not
available" there)."""

from __future__ import annotations

from emulator.cron import ScheduleError, deployment_window

from .models import Loc, Problem
from .rule_types import RULE_TYPES

ALLOWED_RESULTS = {"beforeEntry": ("FAIL", "SKIP"), "onSuccess": ("ROLLBACK", "FAIL"), "onFailure": ("ROLLBACK", "RETRY")}
SKIPPABLE_RULES = ("LambdaInvoke", "VariableCheck")


def check_conditions(stage, at: Loc, execution_mode: str = "SUPERSEDED") -> list[Problem]:
    found: list[Problem] = []
    for key, allowed in ALLOWED_RESULTS.items():
        declared = getattr(stage, key)
        if declared is None:
            continue
        conditions = declared.conditions or []
        results: list[tuple[Loc, str | None]] = [((key, "result"), declared.result)] if key == "onFailure" else []
        results += [((key, "conditions", i, "result"), c.result) for i, c in enumerate(conditions)]
        for path, result in results:
            if result is not None and result not in allowed:
                found.append((at + path, f"result {result} is not one a {key} condition can have ({' or '.join(allowed)})"))
            elif result == "ROLLBACK" and execution_mode == "PARALLEL":
                found.append((at + path, "stage rollback is not available in PARALLEL mode (AWS's user guide): "
                                         "use FAIL, or the SUPERSEDED or QUEUED mode"))
        if key != "onFailure":
            for i, condition in enumerate(conditions):
                if condition.result is None:
                    found.append((at + (key, "conditions", i, "result"), f"a {key} condition needs a result "
                                                                         f"({' or '.join(allowed)})"))
                if not condition.rules:
                    found.append((at + (key, "conditions", i, "rules"), f"a {key} condition needs at least one rule"))
        else:
            if declared.retryConfiguration is not None and declared.result != "RETRY":
                found.append((at + (key, "retryConfiguration"), "retryConfiguration goes with result RETRY"))
            if (declared.result == "RETRY" and conditions) or any(c.result == "RETRY" for c in conditions):
                found.append((at + (key, "conditions"), "automatic retry (result RETRY) cannot be combined with "
                                                        "onFailure conditions"))
            if declared.result is None and not any(c.result for c in conditions):
                found.append((at + (key, "result"), "onFailure needs a result (ROLLBACK or RETRY)"))
        for i, condition in enumerate(conditions):
            for j, rule in enumerate(condition.rules or ()):
                found.extend(_check_rule(rule, at + (key, "conditions", i, "rules", j)))
    return found


def skip_warnings(stage, at: Loc) -> list[Problem]:
    """AWS's user guide offers SKIP with LambdaInvoke and VariableCheck rules only; whether
    CreatePipeline refuses other rules with it is not documented, so they are accepted (the
    stage is skipped as declared) and named."""
    found: list[Problem] = []
    for i, condition in enumerate(stage.beforeEntry.conditions if stage.beforeEntry else ()):
        if condition.result != "SKIP":
            continue
        for j, rule in enumerate(condition.rules or ()):
            if rule.ruleTypeId.provider not in SKIPPABLE_RULES:
                found.append((at + ("beforeEntry", "conditions", i, "rules", j, "ruleTypeId", "provider"),
                              f"AWS offers result SKIP with {' and '.join(SKIPPABLE_RULES)} rules only, not "
                              f"{rule.ruleTypeId.provider}; here the stage is skipped as declared"))
    return found


def _check_rule(rule, at: Loc) -> list[Problem]:
    provider = rule.ruleTypeId.provider
    spec = RULE_TYPES.get(provider)
    if spec is None:
        return [(at + ("ruleTypeId", "provider"), f"{provider} is not a rule type (AWS's are "
                                                  f"{', '.join(sorted(RULE_TYPES))})")]
    found: list[Problem] = []
    configuration = rule.configuration or {}
    for name in spec.required:
        if name not in configuration:
            found.append((at + ("configuration", name), f"required by {provider} rules"))
    for name in configuration:
        if name not in spec.known:
            found.append((at + ("configuration", name), f"unknown configuration key for {provider} rules "
                                                        f"(allowed: {', '.join(spec.known) or 'none'})"))
    if provider == "DeploymentWindow" and "Cron" in configuration:
        try:
            deployment_window(configuration["Cron"], configuration.get("TimeZone") or "UTC")
        except ScheduleError as exc:
            found.append((at + ("configuration", "Cron"), str(exc)))
    if spec.needs_commands and not rule.commands:
        found.append((at + ("commands",), f"{provider} rules need their commands"))
    inputs = len(rule.inputArtifacts or ())
    if not spec.inputs[0] <= inputs <= spec.inputs[1]:
        found.append((at + ("inputArtifacts",), f"{provider} rules take {spec.inputs[0]}..{spec.inputs[1]} "
                                                "input artifacts"))
    return found
