"""JSON for the engine's events: dataclasses tagged with their class name, tuples kept as tuples."""

from __future__ import annotations

import dataclasses
import json

from emulator.engine import commands, events, plan

_TYPES = {
    cls.__name__: cls
    for module in (events, plan, commands)
    for cls in vars(module).values()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls)
}


def _plain(value):
    if dataclasses.is_dataclass(value):
        fields = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"__type__": type(value).__name__, **fields}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _rebuild(value):
    """Tagged dicts become their dataclass and lists tuples (events hold tuples); an untagged
    dict is plain JSON data (a pipeline declaration) and comes back exactly as it was."""
    if isinstance(value, list):
        return tuple(_rebuild(v) for v in value)
    if isinstance(value, dict) and "__type__" in value:
        cls = _TYPES[value["__type__"]]
        return cls(**{k: _rebuild(v) for k, v in value.items() if k != "__type__"})
    return value


def dumps(value) -> str:
    return json.dumps(_plain(value), separators=(",", ":"), ensure_ascii=False)


def loads(text: str):
    return _rebuild(json.loads(text))
