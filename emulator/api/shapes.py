"""Check JSON values against CodePipeline's own service model, as AWS's front end does.

The emulator speaks the AWS JSON 1.1 protocol. Real CodePipeline rejects a
request whose body does not fit the operation's input shape with a
``ValidationException`` before any business logic runs; this module lets the
server do the same, and lets tests prove that every response the emulator
sends fits the operation's output shape, so that botocore, boto3 and the AWS
CLI parse it exactly as they parse AWS's answers.

The model is botocore's own ``codepipeline`` service model, loaded once.
Values are checked as decoded from the wire by ``json.loads``: structures and
maps are dicts, lists are lists, timestamps are epoch seconds (input may also
carry ISO-8601 strings), blobs are base64 strings. The checks cover required
members, unknown members (strict), types, string length, pattern (full match)
and enum, number range, and list and map size. Validation never raises,
whatever JSON it is given; every problem becomes a :class:`ShapeViolation`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import functools
import math
import re
from dataclasses import dataclass
from typing import Any, Iterable

import botocore.model
import botocore.session

__all__ = [
    "ShapeViolation",
    "service_model",
    "operation_names",
    "validate_value",
    "validate_input",
    "validate_output",
    "first_violation_message",
]

_SERVICE = "codepipeline"

# Bounds of the wire integer types; AWS rejects numbers that do not fit.
_INT_BOUNDS = {
    "integer": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
}

# What each shape type expects, for "expected X, got Y" messages.
_EXPECTED = {
    "structure": "object",
    "map": "object",
    "list": "list",
    "string": "string",
    "integer": "integer",
    "long": "integer",
    "boolean": "boolean",
    "double": "number",
    "float": "number",
    "timestamp": "timestamp",
    "blob": "base64 string",
}

_REQUIRED = "is required"


@dataclass(frozen=True)
class ShapeViolation:
    """One way a value fails its shape.

    ``path`` names the offending member the way a reader would write it,
    e.g. ``pipeline.stages[0].actions[1].runOrder`` ("" is the whole value);
    ``message`` completes the sentence "Member ...", e.g. ``must be at least 1``.
    """

    path: str
    message: str


@functools.lru_cache(maxsize=1)
def service_model() -> botocore.model.ServiceModel:
    """CodePipeline's service model from the installed botocore (loaded once)."""
    return botocore.session.get_session().get_service_model(_SERVICE)


@functools.lru_cache(maxsize=None)
def modeled_errors(operation: str) -> frozenset[str]:
    """The error codes botocore's model lists for `operation`."""
    return frozenset(shape.name for shape in service_model().operation_model(operation).error_shapes)


def operation_names() -> list[str]:
    """Every CodePipeline operation name, e.g. ``GetPipelineState``."""
    return list(service_model().operation_names)


def validate_input(operation: str, params: Any) -> list[ShapeViolation]:
    """Violations of ``operation``'s input shape by a decoded request body.

    Raises ``ValueError`` only for an operation CodePipeline does not have;
    any ``params`` value at all is checked without raising.
    """
    return _validate_operation(operation, params, "input")


def validate_output(operation: str, body: Any) -> list[ShapeViolation]:
    """Violations of ``operation``'s output shape by a response body.

    Timestamps must be epoch-second numbers here, as JSON 1.1 sends them.
    Raises ``ValueError`` only for an operation CodePipeline does not have.
    """
    return _validate_operation(operation, body, "output")


def validate_value(
    shape: botocore.model.Shape,
    value: Any,
    path: str = "",
    *,
    output: bool = False,
) -> list[ShapeViolation]:
    """Violations of ``shape`` by ``value``, with paths below ``path``.

    ``output=True`` applies the response rules (timestamps only as numbers);
    by default the request rules apply. Never raises.
    """
    out: list[ShapeViolation] = []
    try:
        _check(shape, value, path, output, out)
    except RecursionError:  # absurdly deep input: report, never crash
        out.append(ShapeViolation(path, "is nested too deeply"))
    except Exception as exc:  # defensive: validation must never take the server down
        out.append(ShapeViolation(path, f"could not be validated ({type(exc).__name__})"))
    return out


def first_violation_message(violations: Iterable[ShapeViolation]) -> str:
    """AWS-style ``ValidationException`` message for ``violations``.

    ``1 validation error detected: Value at 'pipelineName' failed to satisfy
    constraint: Member must satisfy regular expression pattern: ...``; with
    several, ``N validation errors detected: ...; ...``. "" when there are none.
    """
    items = list(violations)
    if not items:
        return ""
    parts = [_describe(v) for v in items]
    noun = "error" if len(items) == 1 else "errors"
    return f"{len(items)} validation {noun} detected: " + "; ".join(parts)


# --------------------------------------------------------------------------- internals


def _describe(v: ShapeViolation) -> str:
    message = "must not be null" if v.message == _REQUIRED else v.message
    return f"Value at '{v.path}' failed to satisfy constraint: Member {message}"


def _validate_operation(operation: str, value: Any, direction: str) -> list[ShapeViolation]:
    model = service_model()
    if operation not in model.operation_names:
        raise ValueError(f"CodePipeline has no operation {operation!r}")
    op = model.operation_model(operation)
    shape = op.input_shape if direction == "input" else op.output_shape
    output = direction == "output"
    if shape is None:  # no members at all: only an empty object fits
        if not isinstance(value, dict):
            return [ShapeViolation("", f"expected object, got {_json_type(value)}")]
        return [ShapeViolation(_str_key(k), "unknown field") for k in value]
    return validate_value(shape, value, "", output=output)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _str_key(key: Any) -> str:
    return key if isinstance(key, str) else repr(key)


def _join(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


def _index(path: str, i: int) -> str:
    return f"{path}[{i}]"


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except (re.error, TypeError, ValueError, OverflowError):
        return None


def _check(shape: botocore.model.Shape, value: Any, path: str, output: bool, out: list) -> None:
    type_name = shape.type_name
    meta = shape.metadata
    if meta.get("document"):  # document shapes carry arbitrary JSON
        return
    if type_name == "structure":
        _check_structure(shape, value, path, output, out)
    elif type_name == "list":
        _check_list(shape, value, path, output, out)
    elif type_name == "map":
        _check_map(shape, value, path, output, out)
    elif type_name == "string":
        _check_string(shape, value, path, out)
    elif type_name in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            out.append(_wrong_type(shape, value, path))
            return
        low, high = _INT_BOUNDS[type_name]
        if not low <= value <= high:
            out.append(ShapeViolation(path, f"must be between {low} and {high}"))
            return
        _check_range(meta, value, path, out)
    elif type_name in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            out.append(_wrong_type(shape, value, path))
            return
        _check_range(meta, value, path, out)
    elif type_name == "boolean":
        if not isinstance(value, bool):
            out.append(_wrong_type(shape, value, path))
    elif type_name == "timestamp":
        _check_timestamp(shape, value, path, output, out)
    elif type_name == "blob":
        _check_blob(shape, value, path, out)
    # Unknown type names (none in CodePipeline today) are accepted as they are.


def _wrong_type(shape: botocore.model.Shape, value: Any, path: str) -> ShapeViolation:
    expected = _EXPECTED.get(shape.type_name, shape.type_name)
    return ShapeViolation(path, f"expected {expected}, got {_json_type(value)}")


def _check_structure(shape, value, path, output, out) -> None:
    if not isinstance(value, dict):
        out.append(_wrong_type(shape, value, path))
        return
    members = shape.members
    for name in shape.required_members:
        if value.get(name) is None:  # JSON null counts as absent
            out.append(ShapeViolation(_join(path, name), _REQUIRED))
    for key, item in value.items():
        member = members.get(key) if isinstance(key, str) else None
        if member is None:
            out.append(ShapeViolation(_join(path, _str_key(key)), "unknown field"))
            continue
        if item is None:  # null optional member: same as absent
            continue
        _check(member, item, _join(path, key), output, out)


def _check_list(shape, value, path, output, out) -> None:
    if not isinstance(value, list):
        out.append(_wrong_type(shape, value, path))
        return
    _check_size(shape.metadata, len(value), path, "length", out)
    member = shape.member
    for i, item in enumerate(value):
        _check(member, item, _index(path, i), output, out)


def _check_map(shape, value, path, output, out) -> None:
    if not isinstance(value, dict):
        out.append(_wrong_type(shape, value, path))
        return
    _check_size(shape.metadata, len(value), path, "size", out)
    for key, item in value.items():
        item_path = f"{path}[{_str_key(key)}]"
        key_violations: list[ShapeViolation] = []
        _check(shape.key, key, item_path, output, key_violations)
        out.extend(ShapeViolation(v.path, f"key {v.message}") for v in key_violations)
        _check(shape.value, item, item_path, output, out)


def _check_string(shape, value, path, out) -> None:
    if not isinstance(value, str):
        out.append(_wrong_type(shape, value, path))
        return
    enum = shape.enum
    if enum:
        if value not in enum:
            out.append(ShapeViolation(path, "must be one of: " + ", ".join(enum)))
        return
    meta = shape.metadata
    length = len(value)
    before = len(out)
    _check_size(meta, length, path, "length", out)
    pattern = meta.get("pattern")
    if pattern and len(out) == before:
        compiled = _compiled(pattern)
        if compiled is not None and compiled.fullmatch(value) is None:
            out.append(
                ShapeViolation(path, f"must satisfy regular expression pattern: {pattern}")
            )


def _check_size(meta, size: int, path: str, what: str, out) -> None:
    low, high = meta.get("min"), meta.get("max")
    if isinstance(low, (int, float)) and size < low:
        out.append(ShapeViolation(path, f"must have {what} at least {low}"))
    if isinstance(high, (int, float)) and size > high:
        out.append(ShapeViolation(path, f"must have {what} at most {high}"))


def _check_range(meta, value, path, out) -> None:
    if isinstance(value, float) and math.isnan(value):
        out.append(ShapeViolation(path, "must be a number, got NaN"))
        return
    low, high = meta.get("min"), meta.get("max")
    if isinstance(low, (int, float)) and value < low:
        out.append(ShapeViolation(path, f"must be at least {low}"))
    if isinstance(high, (int, float)) and value > high:
        out.append(ShapeViolation(path, f"must be at most {high}"))


def _check_timestamp(shape, value, path, output, out) -> None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            out.append(ShapeViolation(path, "must be a finite timestamp"))
        return
    if not output and isinstance(value, str):
        if not _is_iso8601(value):
            out.append(ShapeViolation(path, "must be epoch seconds or an ISO-8601 timestamp"))
        return
    expected = "timestamp (epoch seconds)" if output else "timestamp"
    out.append(ShapeViolation(path, f"expected {expected}, got {_json_type(value)}"))


def _is_iso8601(text: str) -> bool:
    candidate = text.strip()
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    try:
        _dt.datetime.fromisoformat(candidate)
    except (ValueError, OverflowError):
        return False
    return True


def _check_blob(shape, value, path, out) -> None:
    if not isinstance(value, str):
        out.append(_wrong_type(shape, value, path))
        return
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        out.append(ShapeViolation(path, "must be base64-encoded"))
        return
    _check_size(shape.metadata, len(raw), path, "length", out)
