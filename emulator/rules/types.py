"""ListRuleTypes' answer: AWS's six rule types (definitions/rule_types.py holds the table; AWS
does not publish its own answer's property lists, these follow its rule reference pages)."""

from __future__ import annotations

from emulator.definitions.rule_types import RULE_TYPES


def rule_types() -> list[dict]:
    """`ruleTypes`, as botocore's RuleType shape has them."""
    return [{"id": {"category": "Rule", "owner": "AWS", "provider": spec.provider, "version": "1"},
             "ruleConfigurationProperties": [
                 {"name": p.name, "required": p.required, "key": p.key, "secret": False, "queryable": False,
                  "description": p.description, "type": p.type} for p in spec.properties],
             "inputArtifactDetails": {"minimumCount": spec.inputs[0], "maximumCount": spec.inputs[1]}}
            for spec in RULE_TYPES.values()]
