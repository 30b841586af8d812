"""Loading definition files and folders, with every error located as `FILE:LINE:COL: path: message`.

A file is checked on its own (YAML, types, AWS's cross-field rules); a folder adds the rules
that span files: resource names and pipeline names are unique, and every repository or project
a pipeline names is declared somewhere in the folder. A file with any error contributes no
pipeline, so a bad edit never replaces the last good version (the caller keeps it).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import io
import json
import re
import threading
import types
import typing
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
import yaml

from . import yamlpos
from .models import (
    RESOURCE_KINDS,
    Alarm,
    Bucket,
    Cluster,
    DefinitionFile,
    Parameter,
    Secret,
    Function,
    Schedule,
    Stack,
    Loc,
    PipelineDeclaration,
    Project,
    Repository,
    check_pipeline,
    cache_warnings,
    inline_secret_values,
    referenced_resources,
)
from .coverage import not_carried_out
from .event_rules import EventRule, check_event_rules, event_rule_warnings
from .topic_models import Topic, function_name_of, topic_name_of, topic_warnings
from .secret_refs import action_references, file_references, undeclared

SUFFIXES = (".yml", ".yaml", ".json")


@dataclass(frozen=True)
class DefinitionError:
    file: str
    line: int
    column: int
    path: str
    message: str
    # "warning": accepted, but not carried out as AWS would (coverage.py), or a stand-in missing
    # that the action will need when it runs. Only "error" keeps a file from loading.
    severity: str = "error"

    def __str__(self) -> str:
        if self.severity == "warning":
            return f"{self.file}:{self.line}:{self.column}: warning: {self.path}: {self.message}"
        return f"{self.file}:{self.line}:{self.column}: {self.path}: {self.message}"


@dataclass
class LoadedFile:
    path: Path
    definition: DefinitionFile | None  # None when the file has errors
    errors: list[DefinitionError] = field(default_factory=list)
    warnings: list[DefinitionError] = field(default_factory=list)


@dataclass
class LoadedFolder:
    files: dict[Path, LoadedFile]
    pipelines: dict[str, tuple[Path, PipelineDeclaration]]  # only from files without errors
    repositories: dict[str, Repository]
    projects: dict[str, Project]
    errors: list[DefinitionError]  # all errors, files' and folder-level
    warnings: list[DefinitionError] = field(default_factory=list)  # all warnings, likewise
    functions: dict[str, Function] = field(default_factory=dict)
    stacks: dict[str, Stack] = field(default_factory=dict)
    buckets: dict[str, Bucket] = field(default_factory=dict)
    clusters: dict[str, Cluster] = field(default_factory=dict)
    secrets: dict[str, Secret] = field(default_factory=dict)
    parameters: dict[str, Parameter] = field(default_factory=dict)
    alarms: dict[str, Alarm] = field(default_factory=dict)
    webhooks: dict[str, Any] = field(default_factory=dict)  # name -> models.Webhook (service/webhooks.py)
    # (file, schedule, the pipeline it targets: its own `pipeline`, or that of its file)
    schedules: list[tuple[Path, Schedule, str | None]] = field(default_factory=list)
    topics: dict[str, Topic] = field(default_factory=dict)
    # (file, custom action type stand-in): what a Custom action of a pipeline may name
    custom_action_types: list[tuple[Path, Any]] = field(default_factory=list)
    # (file, rule) of every `eventRules` entry, and of a template's AWS::Events::Rule on events
    event_rules: list[tuple[Path, EventRule]] = field(default_factory=list)
    # pipeline names that files with errors seem to declare: their last good versions stay
    names_in_broken_files: set[str] = field(default_factory=set)


# --- paths and messages ---


def format_path(loc: Loc) -> str:
    """`("pipeline", "stages", 2, "runOrder")` -> `pipeline.stages[2].runOrder`."""
    text = ""
    for element in loc:
        if isinstance(element, int):
            text += f"[{element}]"
        elif re.fullmatch(r"[A-Za-z0-9_@-]+", element):
            text += f".{element}" if text else element
        else:  # keys with dots or spaces stay readable and unambiguous
            text += f"[{json.dumps(element)}]"
    return text or "<document>"


_SIMPLE_MESSAGES = {
    "missing": "required field is missing",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "path_type": "must be a path",
}


def _fields_at(loc: Loc) -> list[str]:
    """The field names of the model found at `loc` (for "expected one of" hints)."""
    annotation: Any = DefinitionFile
    for element in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            info = annotation.model_fields.get(str(element))
            if info is None:
                return []
            annotation = info.annotation
        elif typing.get_origin(annotation) in (list, dict):
            annotation = typing.get_args(annotation)[-1]
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    # Optional[X] and Annotated[X, ...] -> X
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation


def _meant(loc: Loc) -> Loc | None:
    """Where an unknown field at `loc` was likely meant to be (`stage` -> `stages`), if anywhere."""
    close = difflib.get_close_matches(str(loc[-1]), _fields_at(loc[:-1]), n=1) if loc else []
    return loc[:-1] + (close[0],) if close else None


def _message(error: Any, loc: Loc) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        expected = _fields_at(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), expected, n=1) if loc else []
        hint = f"; did you mean {close[0]}?" if close else ""
        if loc and loc[0] == "pipeline":
            return f"unknown field (AWS has no such key{hint})"
        if close:
            return f"unknown field (did you mean {close[0]}?)"
        return f"unknown field (expected one of: {', '.join(expected)})" if expected else "unknown field"
    if kind == "literal_error":
        return f"must be one of {error['ctx']['expected']}"
    if kind in _SIMPLE_MESSAGES:
        return _SIMPLE_MESSAGES[kind]
    message = error["msg"]
    return message[0].lower() + message[1:] if message else kind


# --- one file ---


def load_file(path: str | Path) -> LoadedFile:
    return _load_file(Path(path))[0]


def load_text(text: str, path: str | Path = "<string>") -> LoadedFile:
    """Load a definition from text; relative paths in it resolve against `path`'s folder."""
    return _load_text(text, Path(path))[0]


def _load_file(path: Path) -> tuple[LoadedFile, yamlpos.PositionedDocument | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return _unreadable(path, exc), None
    return _load_text(text, path)


def _unreadable(path: Path, exc: OSError | UnicodeDecodeError) -> LoadedFile:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return LoadedFile(path, None, [DefinitionError(str(path), 1, 1, "<file>", f"cannot read: {reason}")])


def _decode(raw: bytes, errors: str | None = None) -> str:
    """The text `Path.read_text(encoding="utf-8")` gives for these bytes: the same universal
    newlines (a \r\n or \r becomes \n) and, for bytes that are not UTF-8, the same error."""
    return io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8", errors=errors).read()


def _load_text(text: str, path: Path) -> tuple[LoadedFile, yamlpos.PositionedDocument | None]:
    name = str(path)
    try:
        document = yamlpos.parse(text)
    except yamlpos.YamlSyntaxError as exc:
        return LoadedFile(path, None, [DefinitionError(name, exc.line, exc.column, "<yaml>", exc.message)]), None

    def error(loc: Loc, message: str) -> DefinitionError:
        position = document.locate(loc)
        return DefinitionError(name, position.line, position.column, format_path(loc), message)

    errors = [error(loc, "duplicate key (YAML would keep only the last one)") for loc, _ in document.duplicate_keys]
    definition: DefinitionFile | None = None
    checked: DefinitionFile | None = None  # the definition, or what is left of it without unknown fields
    if document.data is None:
        errors.append(error((), "the file is empty; expected pipeline: and/or resource sections"))
    elif not isinstance(document.data, dict):
        errors.append(error((), "must be a mapping with pipeline: and/or resource sections"))
    else:
        try:
            definition = DefinitionFile.model_validate(document.data, context={"base_dir": path.parent.resolve()})
        except ValidationError as exc:
            items = exc.errors(include_url=False)
            for item in items:
                loc = tuple(e for e in item["loc"] if e != "[key]")
                errors.append(error(loc, _message(item, loc)))
            # Every error in one pass: when only unknown fields broke the file, the rest is still
            # checked (a misspelled `namespcae` must not hide a misspelled provider).
            checked = _without_unknown_fields(document.data, items, path)
            if checked is not None and checked.pipeline is not None:
                # A misspelled field stands for the one it is close to: what that one's absence
                # makes wrong is not said twice (`stage:` is not also "needs 2..50 stages").
                meant = [_meant(tuple(e for e in item["loc"] if e != "[key]")) for item in items]
                errors.extend(error(("pipeline",) + loc, message) for loc, message in check_pipeline(checked.pipeline)
                              if not any(m and (("pipeline",) + loc)[:len(m)] == m for m in meant))
        else:
            checked = definition
            if definition.pipeline is not None:
                errors.extend(error(("pipeline",) + loc, message) for loc, message in check_pipeline(definition.pipeline))
            errors.extend(error(loc, message) for loc, message in check_event_rules(definition.eventRules))
    errors.sort(key=lambda e: (e.line, e.column))
    warnings = []
    if checked is not None and checked.pipeline is not None:  # beside the errors too: all in one pass
        warnings = [dataclasses.replace(error(("pipeline",) + loc, message), severity="warning")
                    for loc, message in not_carried_out(checked.pipeline)]
    if definition is not None and not errors:
        warnings += [dataclasses.replace(error(loc, message), severity="warning")
                     for loc, message in [*inline_secret_values(definition), *cache_warnings(definition)]]
        warnings += [dataclasses.replace(error(loc, message), severity="warning")
                     for loc, message in topic_warnings(definition.topics)]
        warnings += [dataclasses.replace(error(loc, message), severity="warning")
                     for loc, message in event_rule_warnings(definition.eventRules)]
    return LoadedFile(path, None if errors else definition, errors, warnings), document


def _without_unknown_fields(data: Any, items: list, path: Path) -> DefinitionFile | None:
    """`data` as a definition with its unknown fields left out, when they were all that failed
    validation, so that the rest is still checked in the same pass (a misspelled `namespcae` must
    not hide a misspelled provider); None where other schema errors leave no model to check."""
    if any(item["type"] != "extra_forbidden" for item in items):
        return None
    trimmed = copy.deepcopy(data)
    for item in items:
        *parents, key = item["loc"]
        holder = trimmed
        try:
            for part in parents:
                holder = holder[part]
            del holder[key]
        except (KeyError, IndexError, TypeError):
            return None
    try:
        return DefinitionFile.model_validate(trimmed, context={"base_dir": path.parent.resolve()})
    except ValidationError:
        return None


# --- a CloudFormation template placed in the folder ---

_TEMPLATE_MARK = re.compile(r"^(AWSTemplateFormatVersion|Resources)\s*:|^\s*\"(AWSTemplateFormatVersion|Resources)\"\s*:", re.M)


def _is_template_text(text: str) -> bool:
    return bool(_TEMPLATE_MARK.search(text)) and not re.search(r"^pipeline\s*:", text, re.M)


def _template_exports(templates: list[Path]) -> dict[str, tuple[str, Path]]:
    """Export name -> (value, template) of the templates of a folder, each evaluated with its
    defaults (a template that does not evaluate exports nothing: its own load says why)."""
    from .cfn_import import TemplateError, import_template

    found: dict[str, tuple[str, Path]] = {}
    texts = {path: path.read_text(encoding="utf-8", errors="replace") for path in templates}
    if len(templates) < 2 or not any("ImportValue" in text for text in texts.values()):
        return found  # nothing imports a value: no template is evaluated twice
    for path in (path for path, text in texts.items() if "Export" in text):
        try:
            imported = import_template(path, stack_name=path.stem)
        except (TemplateError, OSError, ValueError):
            continue
        for name, value in imported.exports.items():
            found.setdefault(name, (value, path))
    return found


def _load_template(path: Path, folder: Path, exports: dict[str, str] | None = None) -> dict[Path, LoadedFile]:
    """A template in the pipelines folder, imported as `pipemu import` would with its defaults
    (parameters' Default values; repositories under repos/NAME of the folder unless another file
    declares them). Its pipelines become entries `FILE`, `FILE#1`, ...; a Lambda's inline code is
    written under `.pipemu-imports/<template>/` of the folder."""
    from .cfn_import import TemplateError, import_template

    try:
        imported = import_template(path, stack_name=path.stem, code_dir=Path(".pipemu-imports") / path.stem,
                                   exports=exports)
    except TemplateError as error:
        return {path: LoadedFile(path, None, [DefinitionError(str(path), error.line or 1, error.column or 1,
                                                              error.path, error.message)])}
    for relative, text in imported.files.items():
        target = folder / relative
        if not target.exists() or target.read_text() != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    loaded: dict[Path, LoadedFile] = {}
    said = [DefinitionError(str(path), 1, 1, "<template>", text, "warning") for text in imported.warnings]
    for index, data in enumerate(imported.definitions):
        key = path if index == 0 else path.with_name(f"{path.name}#{index}")
        try:
            definition = DefinitionFile.model_validate(data, context={"base_dir": folder.resolve()})
        except ValidationError as exc:
            errors = [DefinitionError(str(path), 1, 1, format_path(tuple(e["loc"])), _message(e, tuple(e["loc"])))
                      for e in exc.errors(include_url=False)]
            loaded[key] = LoadedFile(key, None, errors)
            continue
        problems = [(("pipeline",) + loc, message) for loc, message in check_pipeline(definition.pipeline)] \
            if definition.pipeline else []
        problems += check_event_rules(definition.eventRules)
        errors = [DefinitionError(str(path), 1, 1, format_path(loc), message) for loc, message in problems]
        unsupported = not_carried_out(definition.pipeline) if definition.pipeline and not errors else []
        warnings = (said if index == 0 else []) + [
            DefinitionError(str(path), 1, 1, format_path(("pipeline",) + loc), message, "warning") for loc, message in unsupported]
        if not errors:
            warnings += [DefinitionError(str(path), 1, 1, format_path(loc), message, "warning")
                         for loc, message in topic_warnings(definition.topics)]
        warnings += [DefinitionError(str(path), 1, 1, format_path(loc), message, "warning")
                     for loc, message in event_rule_warnings(definition.eventRules)]
        loaded[key] = LoadedFile(key, None if errors else definition, errors, warnings)
    return loaded


# --- a folder ---


@dataclass
class _ParsedFile:
    """What one file's bytes gave: everything load_folder needs from the file on its own."""

    raw: bytes
    template: bool  # a CloudFormation template: imported on every load, never kept (see below)
    loaded: LoadedFile | None = None  # shared by the LoadedFolders of successive loads: read-only
    # Where things are in the file, for the folder's errors. Kept only while the file has such
    # errors (rare): positions of 1,000 files would take ~12 MB. Parsed again when needed.
    document: yamlpos.PositionedDocument | None = None
    declared_name: str | None = None  # _declared_name's guess, once the file has errors
    name_guessed: bool = False

    def positions(self) -> yamlpos.PositionedDocument:
        if self.document is None:  # the bytes parsed before (the file has a definition): no error
            self.document = yamlpos.parse(_decode(self.raw))
        return self.document


class _ParseCache:
    """The daemon calls load_folder on every change in its folder (emulator/daemon/main.py's
    reload); re-parsing all of 1,000 files to take in one edit took seconds. This keeps, per
    folder, what each file's bytes gave (parsing, types and AWS's rules of one file: the costly
    part) so that a reload parses only the files whose bytes changed; the rules that span files
    (unique names, references to resources declared in other files, templates) are not kept and
    run over the whole folder on every load.

    A file is reused only when its bytes are exactly those parsed before: load_folder reads
    every file on every load (1,000 small files take milliseconds; parsing them took seconds).
    Keying on (st_mtime_ns, st_size) alone would miss an edit that keeps the size within one
    mtime tick (coarse on some filesystems, and a tool may restore mtimes), and a hash would
    only stand for the bytes we already hold: comparing them is exact, and a file edited and
    then changed back is not parsed again. A file's result also depends on the folder's
    resolved path (relative paths in a definition resolve against it) and on the folder path
    as given (paths in errors are written with it): both are the folder's key. Paths in a
    definition are resolved (symlinks followed) when its file is parsed: a symlink re-pointed
    under an unchanged file counts once that file changes or the daemon restarts.

    Bounded: each load replaces its folder's entries with those of the files it found (a
    deleted file is forgotten), and only the last `folders` folders loaded are kept (the
    daemon has one; `pipemu validate` or tests may load several). Loads may run in several
    threads: each builds its own entries and swaps them in at the end under a lock."""

    def __init__(self, folders: int = 8) -> None:
        self._folders: OrderedDict[tuple[Path, Path], dict[Path, _ParsedFile]] = OrderedDict()
        self._size = folders
        self._lock = threading.Lock()

    def files(self, key: tuple[Path, Path]) -> dict[Path, _ParsedFile]:
        with self._lock:
            return dict(self._folders.get(key, {}))

    def keep(self, key: tuple[Path, Path], files: dict[Path, _ParsedFile]) -> None:
        with self._lock:
            self._folders[key] = files
            self._folders.move_to_end(key)
            while len(self._folders) > self._size:
                self._folders.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._folders.clear()


_PARSED = _ParseCache()


def _parse_file(path: Path, raw: bytes, previous: _ParsedFile | None) -> _ParsedFile:
    if previous is not None and previous.raw == raw:
        return previous
    try:
        text = _decode(raw)
    except UnicodeDecodeError as exc:
        return _ParsedFile(raw, False, _unreadable(path, exc))
    if _is_template_text(text):
        # A template is imported anew on every load, as before this cache: importing writes its
        # Lambdas' code under .pipemu-imports/ (rewritten if someone deleted it), and its guesses
        # yield to what other files declare. Folders rarely hold more than a few.
        return _ParsedFile(raw, True)
    loaded, document = _load_text(text, path)
    return _ParsedFile(raw, False, loaded, document)


def _definition_files(folder: Path) -> list[Path]:
    # Editors leave hidden files (locks, swaps) beside the ones being edited; they are not definitions.
    return sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and not p.name.startswith(".") and p.is_file())


def load_folder(folder: str | Path) -> LoadedFolder:
    """Load every *.yml, *.yaml and *.json of `folder` (not recursive, in sorted order).

    Where a resource or pipeline name is declared twice, the first file (sorted) keeps it and
    the later one gets the error. Resources are taken from every file that parsed, so one bad
    pipeline does not hide the repositories and projects declared beside it."""
    folder = Path(folder)
    result = LoadedFolder({}, {}, {}, {}, [])
    if not folder.is_dir():
        result.errors.append(DefinitionError(str(folder), 1, 1, "<folder>", "not a folder"))
        return result
    cache_key = (folder, folder.resolve())
    previous = _PARSED.files(cache_key)
    current: dict[Path, _ParsedFile] = {}
    templates: list[Path] = []
    documents: dict[Path, _ParsedFile | None] = {}  # None: a template's pipeline, an unreadable file
    for path in _definition_files(folder):
        try:
            raw = path.read_bytes()
        except OSError as exc:  # gone since the listing, or unreadable: said, and not kept
            result.files[path], documents[path] = _unreadable(path, exc), None
            continue
        entry = current[path] = _parse_file(path, raw, previous.get(path))
        if entry.template:
            templates.append(path)
            continue
        result.files[path], documents[path] = entry.loaded, entry
    _PARSED.keep(cache_key, current)
    # Templates see each other's exports (Fn::ImportValue), as stacks of one account do.
    exports = _template_exports(templates)
    for path in templates:
        others = {name: value for name, (value, owner) in exports.items() if owner != path}
        for key, loaded in _load_template(path, folder, others).items():
            result.files[key], documents[key] = loaded, None
    folder_errors: dict[Path, list[DefinitionError]] = {path: [] for path in result.files}
    folder_warnings: dict[Path, list[DefinitionError]] = {path: [] for path in result.files}

    def error(path: Path, loc: Loc, message: str, severity: str = "error") -> None:
        document = documents[path]
        position = document.positions().locate(loc) if document else yamlpos.Position(1, 1)
        found = DefinitionError(str(path), position.line, position.column, format_path(loc), message, severity)
        (folder_errors if severity == "error" else folder_warnings)[path].append(found)

    parsed = {path: loaded.definition for path, loaded in result.files.items() if loaded.definition is not None}
    declared: dict[str, dict[str, tuple[Path, Any]]] = {section: {} for section in RESOURCE_KINDS}
    # Files first, then templates: a template's guess at a resource (a repository under repos/)
    # yields to a file that declares it.
    for path, definition in sorted(parsed.items(), key=lambda item: documents[item[0]] is None):
        for section, kind in RESOURCE_KINDS.items():
            for name, resource in getattr(definition, section).items():
                if name in declared[section] and documents[path] is None:
                    continue
                if name in declared[section]:
                    error(path, (section, name), f"{kind} {name} is also declared in {declared[section][name][0]}")
                else:
                    declared[section][name] = (path, resource)
    pipeline_files: dict[str, Path] = {}
    for path, definition in parsed.items():
        if definition.pipeline is None:
            continue
        name = definition.pipeline.name
        if name in pipeline_files:
            error(path, ("pipeline", "name"), f"pipeline {name} is also declared in {pipeline_files[name]}")
        else:
            pipeline_files[name] = path
        for loc, section, resource in referenced_resources(definition.pipeline):
            if resource not in declared[section]:
                # As AWS, which accepts a pipeline naming a project that does not exist yet: the
                # action fails when it runs, saying the same.
                error(path, ("pipeline",) + loc, f"{RESOURCE_KINDS[section]} {resource} is not declared in any file of "
                      f"{folder} (add it under {section}:); the action will fail when it runs", "warning")

    for path, definition in parsed.items():
        for loc, message in _topic_references(definition, declared["topics"], declared["functions"]):
            error(path, loc, message, "warning")

    # As a project that does not exist yet: a secret or parameter with no stand-in fails the action
    # that needs it when it runs.
    stand_ins = {section: {name: resource for name, (_, resource) in declared[section].items()}
                 for section in ("secrets", "parameters")}
    for path, definition in parsed.items():
        for loc, message in undeclared(file_references(definition), stand_ins["secrets"], stand_ins["parameters"]):
            error(path, loc, message, "warning")

    for path, entry in current.items():
        if not folder_errors.get(path) and not folder_warnings.get(path):
            entry.document = None
    for path, loaded in result.files.items():
        result.errors.extend(loaded.errors)
        result.errors.extend(sorted(folder_errors[path], key=lambda e: (e.line, e.column)))
        # A broken file's warnings too: validate says everything it found in one pass.
        result.warnings.extend(sorted([*loaded.warnings, *folder_warnings[path]], key=lambda e: (e.line, e.column)))
        definition = loaded.definition
        if definition is not None and definition.pipeline is not None and not folder_errors[path]:
            result.pipelines[definition.pipeline.name] = (path, definition.pipeline)
    for section in RESOURCE_KINDS:
        setattr(result, section, {name: resource for name, (_, resource) in declared[section].items()})
    for path, loaded in result.files.items():
        if loaded.errors or folder_errors[path]:
            name = _guessed_name(path, loaded, current.get(path))
            if name:
                result.names_in_broken_files.add(name)
    for path, definition in parsed.items():
        own = definition.pipeline.name if definition.pipeline else None
        for schedule in definition.schedules:
            result.schedules.append((path, schedule, schedule.pipeline or own))
        result.custom_action_types.extend((path, declared_type) for declared_type in definition.customActionTypes)
    names: dict[str, Path] = {}
    for path, definition in parsed.items():
        for r, rule in enumerate(definition.eventRules):
            if rule.name in names:  # one bus, one namespace (PutRule would replace the first)
                result.errors.append(_at(documents[path], path, ("eventRules", r, "name"),
                                         f"event rule {rule.name} is also declared in {names[rule.name]}"))
                continue
            names[rule.name] = path
            result.event_rules.append((path, rule))
            for t, target in enumerate(rule.targets):  # as an action naming a missing function
                kind, name = target.kind_and_name
                missing = (kind == "function" and name not in declared["functions"]) or (
                    kind == "pipeline" and name not in pipeline_files)
                if missing:
                    field_name = "arn" if target.arn is not None else kind
                    result.warnings.append(dataclasses.replace(_at(documents[path], path, (
                        "eventRules", r, "targets", t, field_name), f"{kind} {name} is not declared in any file of "
                        f"{folder}: unless a stack or the API makes it, delivering to it fails"), severity="warning"))
    return result


def _at(document, path: Path, loc: Loc, message: str) -> DefinitionError:
    position = document.positions().locate(loc) if document else yamlpos.Position(1, 1)
    return DefinitionError(str(path), position.line, position.column, format_path(loc), message)


def _topic_references(definition: DefinitionFile, topics: dict, functions: dict) -> list[tuple[Loc, str]]:
    """Warnings for an approval's NotificationArn naming no declared topic, and a lambda
    subscription naming no declared function: AWS accepts both (the topic or function may come
    later); here the notification is then a logged delivery failure, and the approval still waits."""
    found: list[tuple[Loc, str]] = []
    if definition.pipeline is not None:
        for s, stage in enumerate(definition.pipeline.stages):
            for a, action in enumerate(stage.actions):
                arn = (action.configuration or {}).get("NotificationArn")
                if action.actionTypeId.key != ("Approval", "AWS", "Manual") or not arn:
                    continue
                name = topic_name_of(arn)
                if name is None or name not in topics:
                    found.append((("pipeline", "stages", s, "actions", a, "configuration", "NotificationArn"),
                                  f"topic {name or arn} is not declared in any file of the folder (add it under "
                                  "topics:); the approval waits, but its notification is not delivered"))
    for name, topic in definition.topics.items():
        for i, subscription in enumerate(topic.subscriptions):
            function = function_name_of(subscription.endpoint)
            if subscription.protocol == "lambda" and function not in functions:
                found.append((("topics", name, "subscriptions", i, "endpoint"),
                              f"function {function} is not declared in any file of the folder (add it under "
                              "functions:); deliveries to it fail"))
    return found


def _guessed_name(path: Path, loaded: LoadedFile, parsed: _ParsedFile | None) -> str | None:
    """_declared_name of a file, from the bytes load_folder parsed, once per version of them."""
    if parsed is None or parsed.template:  # a template's pipelines, or a file that could not be read
        if loaded.definition is not None and loaded.definition.pipeline is not None:
            return loaded.definition.pipeline.name  # valid on its own: a folder rule excluded it
        try:
            return _declared_name(path)
        except OSError:  # `TEMPLATE#1` is no file; an unreadable file stays so
            return None
    if not parsed.name_guessed:
        parsed.declared_name, parsed.name_guessed = _declared_name(path, parsed.raw), True
    return parsed.declared_name


def _declared_name(path: Path, raw: bytes | None = None) -> str | None:
    """Best effort: the pipeline name a broken file means to declare (YAML may not even parse)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8") if raw is None else _decode(raw))
        name = document["pipeline"]["name"]
        return name if isinstance(name, str) else None
    except Exception:
        text = path.read_text(errors="replace") if raw is None else _decode(raw, errors="replace")
        match = re.search(r"^\s*\"?name\"?\s*:\s*\"?([A-Za-z0-9.@\-_]+)", text, re.M)
        return match.group(1) if match else None


def validate_paths(paths: list[Path]) -> list[DefinitionError]:
    """Every error and warning (`severity`) in the given files and folders (for `pipemu
    validate`). A file of a folder is checked together with its folder, since its projects may
    be declared beside it."""
    errors: list[DefinitionError] = []
    for path in map(Path, paths):
        if path.is_dir():
            folder = load_folder(path)
            found = folder.errors + folder.warnings
        elif path.suffix in SUFFIXES and path.is_file() and not path.name.startswith("."):
            own = str(path.parent / path.name)
            folder = load_folder(path.parent)
            found = [e for e in folder.errors + folder.warnings if e.file == own or e.file.startswith(own + "#")]
        else:
            loaded = load_file(path)
            found = loaded.errors + loaded.warnings
        errors.extend(e for e in found if e not in errors)
    return errors


# --- a declaration that arrives as data (CreatePipeline / UpdatePipeline) ---


def check_declaration(
    data: Any, declared: dict[str, dict[str, Any]]
) -> tuple[PipelineDeclaration | None, list[tuple[str, str]], list[tuple[str, str]]]:
    """The declaration, its problems and its warnings as (`pipeline.field.path`, message), by
    the same rules as a file's. `declared` maps a resource section (`projects`, ...) to the
    names the pipelines folder declares: one the pipeline names but the folder lacks is a
    warning, as AWS accepts a pipeline naming a project that does not exist yet."""
    try:
        pipeline = PipelineDeclaration.model_validate(data)
    except ValidationError as exc:
        return None, [(format_path(("pipeline",) + tuple(e["loc"])), _message(e, ("pipeline",) + tuple(e["loc"])))
                      for e in exc.errors()], []
    problems = [(format_path(("pipeline",) + loc), message) for loc, message in check_pipeline(pipeline)]
    if problems:
        return None, problems, []
    warnings = [(format_path(("pipeline",) + loc), message) for loc, message in not_carried_out(pipeline)]
    for loc, section, name in referenced_resources(pipeline):
        if name not in (declared.get(section) or {}):
            warnings.append((format_path(("pipeline",) + loc),
                             f"{RESOURCE_KINDS[section]} {name} is not declared in the pipelines folder (add it under "
                             f"{section}: in a file there); the action will fail when it runs"))
    warnings += [(format_path(("pipeline",) + loc), message) for loc, message in undeclared(
        action_references(pipeline), declared.get("secrets") or {}, declared.get("parameters") or {})]
    warnings += [(format_path(loc), message) for loc, message in _topic_references(
        DefinitionFile(pipeline=pipeline), declared.get("topics") or {}, declared.get("functions") or {})]
    return pipeline, [], warnings
