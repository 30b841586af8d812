"""10,000 generated YAML definition documents through the loader: no crash, every error placed in the text."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.definitions import load_text
from tests.e2e import article_pipeline

# 10,000 documents in all: structured mutations, text mutations, YAML-ish text, any text.
STRUCTURED, TEXTUAL, YAMLISH, ANY_TEXT = 4000, 3000, 2000, 1000
FUZZ = dict(deadline=None, database=None, derandomize=True,
            suppress_health_check=list(HealthCheck))

BASE = article_pipeline.service_pipeline("svc-pipeline", Path("/tmp/pipemu-fuzz-repo"), "busybox:fuzz")
BASE_TEXT = yaml.safe_dump(BASE, sort_keys=False, allow_unicode=True)
# YAML's own line breaks (what its marks count), not str.splitlines' wider set.
_BREAKS = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")

ODD = ["", " ", "\t", "\u00e9t\u00e9", "\u202e\u0645\u0631\u062d\u0628\u0627", "\U0001f680\U0001f4a5",
       "\u200b", "\ufeff", "a\u0301", "\ud7ff", "\uffff", "\x85", "\u2028", "0x1F", "1e309", "-0", ".nan",
       "~", "null", "yes", "no", "on", "2024-01-01", "#{SourceVariables.CommitId}", "'", '"', "\\", "*ref", "&a",
       "!!python/object:os.system", "<<"]
HUGE = [2 ** 63, -(2 ** 63) - 1, 10 ** 400, 1e308, float("inf"), float("-inf"), float("nan"), 0, -1]


def check(text: str) -> None:
    loaded = load_text(text, "gen.yml")  # raising anything here is the crash the test looks for
    lines = _BREAKS.split(text)
    for error in loaded.errors:
        where = f"{error} in {text[:400]!r}"
        assert error.file == "gen.yml", where
        assert isinstance(error.line, int) and 1 <= error.line <= len(lines), where
        assert isinstance(error.column, int) and 1 <= error.column <= len(lines[error.line - 1]) + 1, where
        assert error.path and error.path.strip(), where
        assert error.message and error.message.strip(), where
    assert (loaded.definition is None) == bool(loaded.errors)


def _places(node, trail=()):
    """Every (container, key) in the document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield node, key
            yield from _places(value, trail + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield node, index
            yield from _places(value, trail + (index,))


def _deep(depth: int, leaf):
    for level in range(depth):
        leaf = [leaf] if level % 2 else {"k": leaf}
    return leaf


scalars = st.one_of(st.sampled_from(ODD), st.sampled_from(HUGE), st.integers(), st.booleans(), st.none(),
                    st.floats(allow_nan=True), st.text(max_size=30))
wrong_values = st.one_of(
    scalars,
    st.lists(scalars, max_size=4),
    st.dictionaries(st.text(max_size=8), scalars, max_size=3),
    st.builds(_deep, st.integers(1, 60), scalars),
)


@st.composite
def mutated_documents(draw):
    document = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        places = list(_places(document))
        if not places:
            break
        container, key = places[draw(st.integers(0, len(places) - 1))]
        operation = draw(st.sampled_from(["drop", "replace", "rename", "add", "duplicate-item"]))
        if operation == "drop":
            del container[key]
        elif operation == "replace":
            container[key] = draw(wrong_values)
        elif operation == "rename" and isinstance(container, dict):
            container[draw(st.one_of(st.sampled_from(ODD), st.text(max_size=10)))] = container.pop(key)
        elif operation == "add" and isinstance(container, dict):
            container[draw(st.text(max_size=10))] = draw(wrong_values)
        elif isinstance(container, list):
            container.insert(key, copy.deepcopy(container[key]))
    style = draw(st.sampled_from([False, None, True]))
    if draw(st.booleans()):
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=draw(st.booleans()), default_flow_style=style)
    import json

    return json.dumps(document, default=str, ensure_ascii=draw(st.booleans()))  # JSON is YAML too


TEXT_EDITS = [
    "tab", "dup-line", "drop-line", "anchor", "alias", "merge", "odd", "truncate", "indent", "dedent", "dup-key",
    "tag", "crlf", "bom",
]


@st.composite
def edited_texts(draw):
    text = draw(st.sampled_from([BASE_TEXT, yaml.safe_dump(BASE, sort_keys=False, default_flow_style=None)]))
    for _ in range(draw(st.integers(1, 5))):
        lines = text.split("\n")
        at = draw(st.integers(0, max(0, len(lines) - 1)))
        edit = draw(st.sampled_from(TEXT_EDITS))
        line = lines[at]
        if edit == "tab":
            column = draw(st.integers(0, len(line)))
            lines[at] = line[:column] + "\t" + line[column:]
        elif edit == "dup-line":
            lines.insert(at, line)
        elif edit == "drop-line":
            del lines[at]
        elif edit == "anchor":
            lines[at] = re.sub(r":( |$)", r": &a\1", line, count=1)
        elif edit == "alias":
            lines[at] = re.sub(r": .*$", ": *a", line, count=1)
        elif edit == "merge":
            lines.insert(at, re.match(r"\s*(- )?", line).group(0).replace("-", " ") + "<<: *a")
        elif edit == "odd":
            column = draw(st.integers(0, len(line)))
            lines[at] = line[:column] + draw(st.sampled_from(ODD + ["\x00", "\x07", "\ud800"[:0] + "\ue000"])) + line[column:]
        elif edit == "truncate":
            text = "\n".join(lines)
            lines = text[: draw(st.integers(0, len(text)))].split("\n")
        elif edit == "indent":
            lines[at] = " " * draw(st.integers(1, 3)) + line
        elif edit == "dedent":
            lines[at] = line.lstrip()
        elif edit == "dup-key":
            lines.insert(at + 1, line)
        elif edit == "tag":
            lines[at] = re.sub(r": ", draw(st.sampled_from([": !!int ", ": !!str ", ": !custom ", ": !!binary "])), line, count=1)
        elif edit == "crlf":
            lines[at] = line + "\r"
        elif edit == "bom":
            lines[at] = "\ufeff" + line
        text = "\n".join(lines)
    return text


YAML_ALPHABET = list(":-[]{}&*!|>'\"#,?%@` \t\n\r.0123456789") + list("pipelinestagesnameactions") + \
    ["pipeline:", "stages:", "- name: ", "actions:", "runOrder: ", "\u00e9", "\U0001f680", "\u2028", "\x85", "  "]


@settings(max_examples=STRUCTURED, **FUZZ)
@given(mutated_documents())
def test_mutated_article_documents(text):
    check(text)


@settings(max_examples=TEXTUAL, **FUZZ)
@given(edited_texts())
def test_edited_article_texts(text):
    check(text)


@settings(max_examples=YAMLISH, **FUZZ)
@given(st.lists(st.sampled_from(YAML_ALPHABET), max_size=120).map("".join))
def test_yamlish_text(text):
    check(text)


@settings(max_examples=ANY_TEXT, **FUZZ)
@given(st.text(max_size=300))
def test_any_text(text):
    check(text)


def test_the_base_document_is_valid():
    assert load_text(BASE_TEXT, "gen.yml").errors == []


# What the fuzzing found (shrunk): the loader lets these escape as exceptions instead of errors.
FOUND = {
    "control character": 'a: "\x7f"',  # yaml.reader.ReaderError: SafeLoader(text) checks before parse's try
    "bad !!int": "name: !!int s",  # ValueError from PyYAML's int constructor
    "empty !!int": "name: !!int ",  # IndexError from PyYAML's int constructor
}


def test_what_the_fuzzing_found():
    crashes = {}
    for name, text in FOUND.items():
        try:
            check(text)
        except AssertionError:
            raise
        except Exception as exc:
            crashes[name] = f"{type(exc).__name__}: {exc}"
    assert crashes == {}
