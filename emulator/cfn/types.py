"""Scalars converted as CloudFormation converts them: to each property's declared type.

CloudFormation reads `Version: 1`, `RunOrder: "1"` and `PollForSourceChanges: false` alike: a
number or a boolean where the resource's schema says string becomes a string, a numeric string
where it says integer becomes an integer, "true"/"false" where it says boolean a boolean. Real
templates rely on it everywhere. The property types come from the resource provider schemas
that cfn-lint ships (kept current by its maintainers, with their patches), not from a table of
ours; cfn-lint's loader is imported on first use only (it takes about a second).
"""

from __future__ import annotations

import functools
import re
from typing import Any

REGION = "us-east-1"


@functools.lru_cache(maxsize=None)
def _schema(resource_type: str) -> dict | None:
    try:
        from cfnlint.schema import PROVIDER_SCHEMA_MANAGER, ResourceNotFoundError
    except ImportError:  # cfn-lint is a dependency; without it, values stay as written
        return None
    try:
        return PROVIDER_SCHEMA_MANAGER.get_resource_schema(REGION, resource_type).schema
    except ResourceNotFoundError:
        return None


def known_type(resource_type: str) -> bool:
    """Whether CloudFormation has a resource type of this name (custom resources aside)."""
    return _schema(resource_type) is not None


def has_property(resource_type: str, name: str) -> bool:
    """Whether the resource type's schema has a top-level property of this name (True when the
    schema is unknown: then nothing is refused)."""
    schema = _schema(resource_type)
    return schema is None or name in (schema.get("properties") or {})


def convert(resource_type: str, properties: Any) -> Any:
    """`properties` (evaluated: no intrinsic functions left) with every scalar converted to the
    type the resource's schema declares for it; anything the schema does not describe is kept."""
    schema = _schema(resource_type)
    if schema is None or not isinstance(properties, dict):
        return properties
    return _convert(properties, {"type": "object", "properties": schema.get("properties", {})}, schema)


def _resolve(node: dict, root: dict) -> dict:
    seen = 0
    while "$ref" in node and seen < 20:  # schemas' refs are local: #/definitions/Name
        target: Any = root
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node, seen = target, seen + 1
    return node


def _types(node: dict) -> list[str]:
    kind = node.get("type")
    return [kind] if isinstance(kind, str) else list(kind or [])


def _convert(value: Any, node: dict, root: dict) -> Any:
    node = _resolve(node, root)
    kinds = _types(node)
    if isinstance(value, dict):
        if kinds and "object" not in kinds:
            return value
        properties = node.get("properties") or {}
        patterns = node.get("patternProperties") or {}
        extra = node.get("additionalProperties")
        out = {}
        for key, item in value.items():
            sub = properties.get(key)
            if sub is None:
                sub = next((s for p, s in patterns.items() if re.search(p, key)), None)
            if sub is None and isinstance(extra, dict):
                sub = extra
            out[key] = _convert(item, sub, root) if isinstance(sub, dict) else item
        return out
    if isinstance(value, list):
        items = node.get("items")
        return [_convert(v, items, root) for v in value] if isinstance(items, dict) else value
    return _scalar(value, kinds)


def _scalar(value: Any, kinds: list[str]) -> Any:
    if not kinds or value is None:
        return value
    if isinstance(value, bool):
        if "boolean" in kinds:
            return value
        return ("true" if value else "false") if "string" in kinds else value
    if isinstance(value, (int, float)):
        if "integer" in kinds and isinstance(value, int) or "number" in kinds:
            return value
        if "integer" in kinds and float(value).is_integer():
            return int(value)
        return _number_text(value) if "string" in kinds else value
    if isinstance(value, str):
        if "string" in kinds:
            return value
        text = value.strip()
        if "boolean" in kinds and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if "integer" in kinds and re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        if "number" in kinds and re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
            number = float(text)
            return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    return value


def _number_text(value: int | float) -> str:
    # CloudFormation writes 1.0 as "1.0" and 1 as "1": as the template's text wrote the number.
    return str(value)
