"""EventBridge's event-pattern language: checking a pattern, and matching an event against it.

Written here rather than taken from PyPI: `event-ruler` (0.3.0) was last released in 2023 and
`moto` keeps its matcher inside a whole mocking library. This follows the EventBridge user
guide ("Event patterns", "Content filtering"):

- a pattern is a JSON object; each key names a field of the event and holds either a nested
  object (a field inside) or an array of match values: the field matches when its value (or, for
  an array value, any of its elements) matches any of them;
- match values: a string, number, true/false or null (exact; numbers compare as numbers), or an
  object with one of `prefix`, `suffix` (each a string or {"equals-ignore-case": s}),
  `anything-but` (a value, a list, or {prefix|suffix|equals-ignore-case|wildcard}), `numeric`
  ([op, n] or [op, n, op, n]), `exists` (true/false), `equals-ignore-case`, `wildcard`, `cidr`;
- `$or`: a list of patterns, any of which matches (beside the object's other keys).

A field missing from the event matches only `{"exists": false}`; `anything-but` never matches a
missing field, as on AWS.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

_NUMERIC_OPS = ("<", "<=", "=", ">", ">=")
_NUMERIC_LIMIT = 5e9  # AWS: numeric matching works for values from -5.0e9 to +5.0e9


class InvalidEventPattern(ValueError):
    """AWS's InvalidEventPatternException; `loc` is where in the pattern, e.g. ("detail", "state", 0)."""

    def __init__(self, reason: str, loc: tuple = ()) -> None:
        self.reason = reason
        self.loc = loc
        super().__init__(f"Event pattern is not valid. Reason: {reason}" + (f" (at {self.path})" if loc else ""))

    @property
    def path(self) -> str:
        return "".join(f"[{e}]" if isinstance(e, int) else (f".{e}" if i else str(e)) for i, e in enumerate(self.loc))


def parse(pattern: str | dict) -> dict:
    """A pattern given as JSON text or as a mapping, checked; raises InvalidEventPattern."""
    if isinstance(pattern, str):
        try:
            pattern = json.loads(pattern)
        except json.JSONDecodeError as error:
            raise InvalidEventPattern(f"Filter is not valid JSON: {error.msg} at line {error.lineno}, "
                                      f"column {error.colno}") from None
    check(pattern)
    return pattern


def check(pattern: Any, path: tuple = ()) -> None:
    if not isinstance(pattern, dict):
        raise InvalidEventPattern("Filter is not an object", path)
    if not pattern:
        raise InvalidEventPattern("Empty objects are not allowed", path)
    for key, value in pattern.items():
        at = path + (key,)
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise InvalidEventPattern("$or must be an array of at least 2 objects", at)
            for i, part in enumerate(value):
                check(part, at + (i,))
        elif isinstance(value, dict):
            check(value, at)
        elif isinstance(value, list):
            if not value:
                raise InvalidEventPattern("Empty arrays are not allowed", at)
            for i, item in enumerate(value):
                _check_value(item, at + (i,))
        else:
            raise InvalidEventPattern(f'"{key}" must be an object or an array', at)


def _string_or_ignore_case(kind: str, value: Any, at: tuple) -> None:
    if isinstance(value, dict) and set(value) == {"equals-ignore-case"} and isinstance(value["equals-ignore-case"], str):
        return
    if not isinstance(value, str):
        raise InvalidEventPattern(f"{kind} match pattern must be a string literal or an equals-ignore-case object", at)


def _check_wildcard(value: Any, at: tuple) -> None:
    if not isinstance(value, str):
        raise InvalidEventPattern("wildcard match pattern must be a string", at)
    if "**" in value:
        raise InvalidEventPattern("Consecutive wildcard characters at pos " + str(value.index("**") + 1), at)


def _check_value(item: Any, at: tuple) -> None:
    if item is None or isinstance(item, (str, bool, int, float)):
        return
    if not isinstance(item, dict):
        raise InvalidEventPattern("Match value must be String, number, true, false, or null", at)
    if len(item) != 1:
        raise InvalidEventPattern("A match object holds exactly one match type", at)
    (kind, value), = item.items()
    if kind in ("prefix", "suffix"):
        _string_or_ignore_case(kind, value, at)
    elif kind == "equals-ignore-case":
        if not isinstance(value, str):
            raise InvalidEventPattern("equals-ignore-case match pattern must be a string", at)
    elif kind == "wildcard":
        _check_wildcard(value, at)
    elif kind == "exists":
        if not isinstance(value, bool):
            raise InvalidEventPattern("exists match pattern must be either true or false.", at)
    elif kind == "numeric":
        _check_numeric(value, at)
    elif kind == "cidr":
        try:
            ipaddress.ip_network(value, strict=False)
        except (ValueError, TypeError):
            raise InvalidEventPattern(f"Nonstandard IP address: {value}", at) from None
    elif kind == "anything-but":
        if isinstance(value, dict):
            if len(value) != 1 or next(iter(value)) not in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
                raise InvalidEventPattern("Unsupported anything-but pattern: " + ", ".join(value), at)
            (inner, operand), = value.items()
            values = operand if isinstance(operand, list) and inner in ("equals-ignore-case", "wildcard") else [operand]
            if not values or not all(isinstance(v, str) for v in values):
                raise InvalidEventPattern(f"anything-but/{inner} match pattern must be a string", at)
            if inner == "wildcard":
                for v in values:
                    _check_wildcard(v, at)
        elif isinstance(value, list):
            if not value or not all(v is None or isinstance(v, (str, int, float, bool)) for v in value):
                raise InvalidEventPattern("Inside anything but list, start|null|boolean is not supported.", at)
        elif not (value is None or isinstance(value, (str, int, float, bool))):
            raise InvalidEventPattern("Value of anything-but must be an array or single string/number value.", at)
    else:
        raise InvalidEventPattern(f"Unrecognized match type {kind}", at)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_numeric(value: Any, at: tuple) -> None:
    if not isinstance(value, list) or len(value) not in (2, 4):
        raise InvalidEventPattern("Value of numeric must be an array of 2 or 4 items: [op, n] or [op, n, op, n]", at)
    for op, number in zip(value[::2], value[1::2]):
        if op not in _NUMERIC_OPS:
            raise InvalidEventPattern(f"Unrecognized numeric range operator: {op}", at)
        if not _is_number(number):
            raise InvalidEventPattern(f"Value of {op} must be numeric", at)
        if not -_NUMERIC_LIMIT <= number <= _NUMERIC_LIMIT:
            raise InvalidEventPattern(f"Value of {op} must be between -5.0E9 and 5.0E9", at)
    if len(value) == 4:
        (low_op, low), (high_op, high) = (value[0], value[1]), (value[2], value[3])
        if low_op not in (">", ">=") or high_op not in ("<", "<="):
            raise InvalidEventPattern("Bad numeric range operator: a range is [>|>=, low, <|<=, high]", at)
        if low >= high:
            raise InvalidEventPattern("Bottom must be less than top", at)


# -- matching -------------------------------------------------------------------------------

_MISSING = object()


def matches(pattern: dict, event: Any) -> bool:
    """Whether `event` (a JSON object, as dicts and lists) matches a checked pattern."""
    if not isinstance(event, dict):
        return False
    for key, wanted in pattern.items():
        if key == "$or":
            if not any(matches(part, event) for part in wanted):
                return False
            continue
        value = event.get(key, _MISSING)
        if isinstance(wanted, dict):
            if value is _MISSING:
                # A nested object of only {"exists": false} leaves matches a missing parent.
                if not _all_absent_ok(wanted):
                    return False
            elif isinstance(value, list):
                if not any(matches(wanted, v) for v in value if isinstance(v, dict)):
                    return False
            elif not matches(wanted, value):
                return False
        elif not _leaf(wanted, value):
            return False
    return True


def _all_absent_ok(pattern: dict) -> bool:
    for key, wanted in pattern.items():
        if key == "$or":
            if not any(_all_absent_ok(p) for p in wanted):
                return False
        elif isinstance(wanted, dict):
            if not _all_absent_ok(wanted):
                return False
        elif not _leaf(wanted, _MISSING):
            return False
    return True


def _leaf(wanted: list, value: Any) -> bool:
    if value is _MISSING:
        return any(isinstance(w, dict) and w.get("exists") is False for w in wanted)
    if isinstance(value, dict):  # exists matches leaves only; an object is not one
        return False
    values = value if isinstance(value, list) else [value]
    return any(_one(w, v) for w in wanted for v in values)


def _equal(wanted: Any, value: Any) -> bool:
    if _is_number(wanted) and _is_number(value):
        return float(wanted) == float(value)
    if isinstance(wanted, bool) or isinstance(value, bool) or wanted is None or value is None:
        return wanted is value or (type(wanted) is type(value) and wanted == value)
    return type(wanted) is type(value) and wanted == value


def _affix(kind: str, operand: Any, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if isinstance(operand, dict):
        operand, value = operand["equals-ignore-case"].casefold(), value.casefold()
    return value.startswith(operand) if kind == "prefix" else value.endswith(operand)


def _wildcard(pattern: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = re.split(r"(?<!\\)\*", pattern)
    regex = ".*".join(re.escape(p.replace("\\*", "*").replace("\\\\", "\\")) for p in parts)
    return re.fullmatch(regex, value, re.S) is not None


def _numeric(condition: list, value: Any) -> bool:
    if not _is_number(value):
        return False
    for op, number in zip(condition[::2], condition[1::2]):
        ok = {"<": value < number, "<=": value <= number, "=": value == number,
              ">": value > number, ">=": value >= number}[op]
        if not ok:
            return False
    return True


def _one(wanted: Any, value: Any) -> bool:
    if not isinstance(wanted, dict):
        return _equal(wanted, value)
    (kind, operand), = wanted.items()
    if kind in ("prefix", "suffix"):
        return _affix(kind, operand, value)
    if kind == "equals-ignore-case":
        return isinstance(value, str) and value.casefold() == operand.casefold()
    if kind == "wildcard":
        return _wildcard(operand, value)
    if kind == "exists":
        return operand is True
    if kind == "numeric":
        return _numeric(operand, value)
    if kind == "cidr":
        try:
            return ipaddress.ip_address(value) in ipaddress.ip_network(operand, strict=False)
        except (ValueError, TypeError):
            return False
    if kind == "anything-but":
        return _anything_but(operand, value)
    return False


def _anything_but(operand: Any, value: Any) -> bool:
    if isinstance(operand, dict):
        (inner, given), = operand.items()
        if inner in ("prefix", "suffix"):
            return isinstance(value, str) and not _affix(inner, given, value)
        options = given if isinstance(given, list) else [given]
        if inner == "equals-ignore-case":
            return isinstance(value, str) and all(value.casefold() != o.casefold() for o in options)
        return isinstance(value, str) and not any(_wildcard(o, value) for o in options)
    options = operand if isinstance(operand, list) else [operand]
    return not any(_equal(o, value) for o in options)
