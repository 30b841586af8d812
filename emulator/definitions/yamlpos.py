"""YAML (and so JSON) loading that remembers the line and column of every node.

Errors in a definition must point at the text the user wrote, so we compose the document into
nodes, construct the plain Python data from those nodes, and keep a map from each path
(`("pipeline", "stages", 2, "runOrder")`) to where it starts in the file.
"""

from __future__ import annotations

import json
import re
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


# libyaml (PyYAML's C extension, yaml.CSafeLoader) scans and composes in C; PyYAML's pure-Python
# scanner and composer were ~90% of reloading a folder of 1,000 files, and with libyaml a file
# parses ~5x faster (construction and positions stay in Python). Its nodes carry marks (line and
# column) and the constructor is PyYAML's Python one either way, so for most documents both give
# the same data and positions; where they do not, the pure loader answers:
# - any error (libyaml's messages and marks differ; it rejects lone surrogates, which Python's str
#   allows, in its own way): the pure loader parses the text again and gives the errors (messages
#   and positions) users and tests know. Valid files, the common case, take the fast path only;
# - text libyaml accepts but PyYAML rejects or reads differently, found by comparing the two on
#   generated documents (tests/definitions/test_reload_cache.py), goes to the pure loader at once:
#   - a tab (one left after _without_json_tabs): libyaml takes tabs PyYAML calls "found character
#     '\t' that cannot start any token" (after a value, inside a plain scalar, ...);
#   - a BOM: libyaml skips one at the start of any line (PyYAML keeps it in the key) and counts
#     the column of the others, which PyYAML's marks do not;
#   - a non-specific tag (`!` alone, `!<!>`): on an empty value libyaml makes it '' where PyYAML
#     makes it null (and `[!, 1]` PyYAML rejects);
#   - a comment right after a block scalar's header (`|#c`), which PyYAML rejects;
#   matched wherever they could be, in quotes or comments too: a false match only costs time;
# - an empty value in a flow collection (`{k: }`) is marked elsewhere: see _has_empty_flow_value;
# - the end of a text without a final line break is marked elsewhere: see _end_marks_as_pure.
_FAST_LOADER = getattr(yaml, "CSafeLoader", None)
_NON_SPECIFIC_TAG = re.compile(r"!<!>|(?:^|[\s\[\]{},])!(?:[\s\[\]{},]|$)")
_BLOCK_HEADER_COMMENT = re.compile(r"[|>][-+0-9]{0,3}#")
# YAML's line breaks, which its marks count (str.splitlines knows more).
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def _pure_only(text: str) -> bool:
    # `in` first: a regular expression costs more than a C scan for its first character.
    return ("\t" in text or "\ufeff" in text or ("!" in text and _NON_SPECIFIC_TAG.search(text) is not None)
            or ("#" in text and _BLOCK_HEADER_COMMENT.search(text) is not None))


def parse(text: str) -> PositionedDocument:
    """Parse one YAML document; raises YamlSyntaxError with the parser's position."""
    text = _without_json_tabs(text)
    if _FAST_LOADER is not None and not _pure_only(text):
        try:
            return _parse_fast(text)
        except Exception:  # whatever libyaml or the constructor rejects, the pure loader explains
            pass
    return _parse_pure(text)


class _UsePureLoader(Exception):
    """libyaml read the document, but where PyYAML would place something differently."""


def _parse_fast(text: str) -> PositionedDocument:
    loader = _FAST_LOADER(text)
    try:
        node = loader.get_single_node()
        if node is not None and _has_empty_flow_value(node):
            raise _UsePureLoader()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    document = _positioned(data, node)
    if text and not text.endswith(("\n", "\r", "\x85", "\u2028", "\u2029")):
        _end_marks_as_pure(text, document)
    return document


def _has_empty_flow_value(root: yaml.Node) -> bool:
    """Whether a flow collection holds an empty value (`{k: }`, `[k: , b]`, `[? ]`). libyaml marks
    it where the next token starts, PyYAML just after the `:` or `?` before it; block collections'
    empty values both mark after the indicator."""
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        else:
            continue
        if node.flow_style:
            # A plain scalar is never empty unless the value was left out.
            if any(isinstance(child, yaml.ScalarNode) and child.value == "" and not child.style for child in children):
                return True
        stack.extend(children)
    return False


def _end_marks_as_pure(text: str, document: PositionedDocument) -> None:
    """Without a final line break, libyaml puts the end of the stream (where a value left empty at
    the end, as in `---` or `key:`, starts) at the start of a line after the text; PyYAML puts it
    just after the last character. Here it is PyYAML's, which the tests (and users) see."""
    lines = _LINE_BREAK.split(text)
    end = Position(len(lines), len(lines[-1]) + 1)

    def fixed(position: Position) -> Position:
        return end if position.line > len(lines) else position

    for positions in (document.key_positions, document.node_positions):
        for path, position in positions.items():
            positions[path] = fixed(position)
    document.duplicate_keys[:] = [(path, fixed(position)) for path, position in document.duplicate_keys]


def _parse_pure(text: str) -> PositionedDocument:
    try:
        # Inside the try: the reader checks the characters as soon as the loader is built.
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as exc:  # e.g. a control character the YAML spec does not allow
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
    return _positioned(data, node)


def _positioned(data: Any, node: yaml.Node | None) -> PositionedDocument:
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
