"""YAML (and so JSON) loading that remembers the line and column of every node.

Errors in a definition must point at the text the user wrote, so we compose the document into
nodes, construct the plain Python data from those nodes, and keep a map from each path
(`("pipeline", "stages", 2, "runOrder")`) to where it starts in the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml

_MERGE_TAG = "tag:yaml.org,2002:merge"

NodePath = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    """A 1-based line and column."""

    line: int
    column: int


class YamlSyntaxError(Exception):
    """The text is not YAML; carries the position the YAML parser reports."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"{line}:{column}: {message}")
        self.message = message
        self.line = line
        self.column = column


@dataclass
class PositionedDocument:
    """The constructed data of one document and where each of its parts starts."""

    data: Any
    # Where a mapping member's key starts: the place a user looks for "runOrder: 1000".
    key_positions: dict[NodePath, Position] = field(default_factory=dict)
    # Where each node (value, list item, mapping) starts.
    node_positions: dict[NodePath, Position] = field(default_factory=dict)
    # Keys written twice in one mapping: YAML silently keeps the last, we report them.
    duplicate_keys: list[tuple[NodePath, Position]] = field(default_factory=list)

    def locate(self, path: NodePath) -> Position:
        """Where `path` is written: its key, its node, or (when it is missing) the nearest
        enclosing node that exists, i.e. the mapping that lacks the key."""
        found = ()
        for element in path:
            step = _step(self.node_positions, found, element)
            if step is None:
                break
            found = step
        else:
            if found in self.key_positions:
                return self.key_positions[found]
        return self.node_positions.get(found, Position(1, 1))


def _step(known: dict[NodePath, Position], prefix: NodePath, element: str | int) -> NodePath | None:
    # Pydantic reports a YAML key `5:` as the int 5; we index mapping keys by their text.
    for candidate in (element, str(element)):
        if prefix + (candidate,) in known:
            return prefix + (candidate,)
    return None


def _position(mark: yaml.Mark) -> Position:
    return Position(mark.line + 1, mark.column + 1)


def _without_json_tabs(text: str) -> str:
    # JSON allows tabs as indentation, YAML does not. Raw tabs in valid JSON can only be
    # whitespace (inside strings they must be escaped), so a space keeps meaning and columns.
    if "\t" not in text:
        return text
    try:
        json.loads(text)
    except ValueError:
        return text
    return text.replace("\t", " ")


def parse(text: str) -> PositionedDocument:
    """Parse one YAML document; raises YamlSyntaxError with the parser's position."""
    try:
        # Inside the try: the reader checks the characters as soon as the loader is built.
        loader = yaml.SafeLoader(_without_json_tabs(text))
    except yaml.YAMLError as exc:  # e.g. a control character the YAML spec does not allow
        mark = getattr(exc, "problem_mark", None)
        position = getattr(exc, "position", None)
        line, column = _line_column(text, position) if position is not None else (1, 1)
        raise YamlSyntaxError(getattr(exc, "reason", None) or str(exc), line, column) from exc
    node = None
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.reader.ReaderError as exc:
        line, column = _line_column(text, exc.position)
        raise YamlSyntaxError(f"{exc.reason} (character {exc.character!r} is not allowed in YAML)", line, column) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            message = f"{exc.problem} ({exc.context})"
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlSyntaxError(message, line, column) from exc
    except yaml.YAMLError as exc:  # e.g. a reader error without a mark
        raise YamlSyntaxError(str(exc), 1, 1) from exc
    except (ValueError, IndexError, TypeError, OverflowError) as exc:
        # PyYAML's own constructors fail this way on tags such as `!!int x`: say where.
        where = _failing_node(node)
        line, column = (where.line + 1, where.column + 1) if where else (1, 1)
        raise YamlSyntaxError(f"cannot read the value: {exc}", line, column) from exc
    finally:
        loader.dispose()
    document = PositionedDocument(data)
    if node is not None:
        _walk(node, (), document, set(), override=True)
    return document


def _line_column(text: str, position: int) -> tuple[int, int]:
    """1-based line and column of a character offset, counting lines as YAML does (\r\n, \r,
    \n, NEL, LS and PS all end a line)."""
    line, column, index = 1, 1, 0
    while index < min(position, len(text)):
        char = text[index]
        if char == "\r" and index + 1 < len(text) and text[index + 1] == "\n":
            index += 1
        if char in "\r\n\x85\u2028\u2029":
            line, column = line + 1, 1
        else:
            column += 1
        index += 1
    return line, column


def _failing_node(node: yaml.Node | None):
    """The start of the first explicitly tagged scalar (where constructors fail), else the document's."""
    stack = [node] if node is not None else []
    seen = set()
    while stack:
        current = stack.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, yaml.ScalarNode) and current.tag.startswith("tag:yaml.org,2002:") and current.style is None \
                and current.tag not in ("tag:yaml.org,2002:str",) and current.start_mark is not None:
            try:
                yaml.SafeLoader("").construct_object(current, deep=True)
            except Exception:
                return current.start_mark
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
        elif isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                stack.extend((key, value))
    return node.start_mark if node is not None else None


def _walk(node: yaml.Node, path: NodePath, doc: PositionedDocument, active: set[int], override: bool) -> None:
    if id(node) in active:  # a recursive alias (`&a [*a]`): positions of one level suffice
        return
    if override or path not in doc.node_positions:
        doc.node_positions[path] = _position(node.start_mark)
    if isinstance(node, yaml.SequenceNode):
        active.add(id(node))
        for index, item in enumerate(node.value):
            _walk(item, path + (index,), doc, active, override)
        active.discard(id(node))
    elif isinstance(node, yaml.MappingNode):
        active.add(id(node))
        seen: set[str] = set()
        merged: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.append(value_node)
                continue
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark)
            child = path + (key,)
            if key in seen and override:
                doc.duplicate_keys.append((child, _position(key_node.start_mark)))
            seen.add(key)
            if override or child not in doc.key_positions:
                doc.key_positions[child] = _position(key_node.start_mark)
            _walk(value_node, child, doc, active, override)
        # `<<: *base` members count only where the mapping does not set the key itself.
        for value_node in merged:
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for source in sources:
                if isinstance(source, yaml.MappingNode):
                    _walk(source, path, doc, active, override=False)
        active.discard(id(node))
