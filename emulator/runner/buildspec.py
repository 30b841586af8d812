"""CodeBuild buildspec (version 0.2): parse and validate it, and render it as one POSIX sh script.

The script runs every phase in one shell session, as CodeBuild 0.2 does (a variable set or a
`cd` made by one command is seen by the later ones), prints CodeBuild-like `[Container]` lines,
and follows CodeBuild's phase transitions. It needs nothing but a POSIX sh (busybox sh works).
"""

from __future__ import annotations

import re
import shlex
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Any, Mapping

import yaml

from . import build_cache

PHASES = ("install", "pre_build", "build", "post_build")
# INSTALL or PRE_BUILD failing (with ABORT) skips the later phases; BUILD failing still runs
# POST_BUILD, as in CodeBuild.
_ABORTING_PHASES = ("install", "pre_build")
DEFAULT_STATE_DIR = "/codebuild/pipemu"
EXPORTED_FILE = "exported.env"
FAILURE_FILE = "failure"

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Keys CodeBuild knows that have no meaning offline: accepted and ignored so real buildspecs load.
_IGNORED_TOP = {"run-as", "proxy", "reports", "batch"}
_IGNORED_ENV = {"git-credential-helper"}
# env.shell as CodeBuild's Linux images know it -> the interpreter that runs the script.
SHELLS = {"bash": "/bin/bash", "/bin/bash": "/bin/bash", "sh": "/bin/sh", "/bin/sh": "/bin/sh"}
_IGNORED_PHASE = {"runtime-versions", "run-as"}
_IGNORED_ARTIFACTS = {"name", "enable-symlinks", "s3-prefix"}


class BuildspecError(ValueError):
    """The buildspec is not valid; the message names the offending key."""


@dataclass(frozen=True)
class Phase:
    name: str                      # install, pre_build, build, post_build
    commands: tuple[str, ...] = ()
    finally_commands: tuple[str, ...] = ()
    on_failure: str = "ABORT"      # ABORT or CONTINUE


@dataclass(frozen=True)
class ArtifactSpec:
    files: tuple[str, ...]
    base_directory: str = ""
    discard_paths: bool = False
    exclude_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class Buildspec:
    variables: dict[str, str] = field(default_factory=dict)
    exported_variables: tuple[str, ...] = ()
    phases: tuple[Phase, ...] = ()
    artifacts: ArtifactSpec | None = None
    secondary_artifacts: dict[str, ArtifactSpec] = field(default_factory=dict)
    shell: str = "/bin/sh"
    secrets_manager: dict[str, str] = field(default_factory=dict)  # variable -> secret reference
    parameter_store: dict[str, str] = field(default_factory=dict)  # variable -> parameter name
    cache_paths: tuple[str, ...] = ()  # cache.paths: kept between builds when the project has a cache


# ---------------------------------------------------------------- parsing

def _scalar(value: Any, key: str) -> str:
    # YAML turns `1`, `true`, `0.2` into numbers and booleans; CodeBuild takes them as strings.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if value is None:
        return ""
    raise BuildspecError(f"{key} must be a string, not {type(value).__name__}")


def _mapping(value: Any, key: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise BuildspecError(f"{key} must be a mapping")
    return value


def _str_list(value: Any, key: str, *, allow_single: bool = False) -> tuple[str, ...]:
    if allow_single and isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        raise BuildspecError(f"{key} must be a list")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, (str, int, float)) or isinstance(item, bool):
            # A command like `- echo a: b` is parsed by YAML as a mapping: say so, as CodeBuild.
            raise BuildspecError(f"{key}[{i}] must be a string (quote it if it contains ': ')")
        out.append(str(item))
    return tuple(out)


def _yes_no(value: Any, key: str) -> bool:
    if isinstance(value, bool):  # YAML 1.1 reads yes/no as booleans
        return value
    if isinstance(value, str) and value.lower() in ("yes", "no", "true", "false"):
        return value.lower() in ("yes", "true")
    raise BuildspecError(f"{key} must be yes or no")


def _check_keys(mapping: Mapping, key: str, known: set[str], ignored: set[str] = frozenset()) -> None:
    for k in mapping:
        if k not in known and k not in ignored:
            raise BuildspecError(f"unknown key {key}.{k}" if key else f"unknown key {k}")


def _named_map(raw: Any, key: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in _mapping(raw, key).items():
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise BuildspecError(f"{key}: {name!r} is not a valid variable name")
        out[name] = _scalar(value, f"{key}.{name}")
    return out


def _parse_env(raw: Any) -> tuple[dict[str, str], tuple[str, ...], dict[str, str], dict[str, str]]:
    """env.variables, env.exported-variables, env.secrets-manager and env.parameter-store. The last
    two map a variable to a reference (`secret-id:json-key:version-stage:version-id`, a
    parameter's name), resolved by the runner (secrets.py) before the container is made."""
    env = _mapping(raw, "env")
    _check_keys(env, "env", {"variables", "exported-variables", "shell", "secrets-manager", "parameter-store"},
                _IGNORED_ENV)
    variables = _named_map(env["variables"], "env.variables") if env.get("variables") is not None else {}
    secrets = {section: _named_map(env[section], f"env.{section}") if env.get(section) is not None else {}
               for section in ("secrets-manager", "parameter-store")}
    exported: tuple[str, ...] = ()
    if env.get("exported-variables") is not None:
        exported = _str_list(env["exported-variables"], "env.exported-variables")
        for name in exported:
            if not _NAME_RE.match(name):
                raise BuildspecError(f"env.exported-variables: {name!r} is not a valid variable name")
            # A secret is never exported: its value would reach the pipeline's state and answers.
            # (The CodeBuild guide gives no wording for it: the build fails before it starts.)
            for section, names in secrets.items():
                if name in names:
                    raise BuildspecError(f"env.exported-variables: {name} comes from env.{section} and cannot be "
                                         "exported: secret variables are never exported")
    return variables, exported, secrets["secrets-manager"], secrets["parameter-store"]


def _parse_phase(name: str, raw: Any) -> Phase:
    key = f"phases.{name}"
    if raw is None:
        return Phase(name)
    body = _mapping(raw, key)
    _check_keys(body, key, {"commands", "finally", "on-failure"}, _IGNORED_PHASE)
    commands = _str_list(body["commands"], f"{key}.commands") if body.get("commands") else ()
    finally_cmds = _str_list(body["finally"], f"{key}.finally") if body.get("finally") else ()
    on_failure = _scalar(body.get("on-failure", "ABORT"), f"{key}.on-failure").upper()
    if on_failure not in ("ABORT", "CONTINUE"):
        raise BuildspecError(f"{key}.on-failure must be ABORT or CONTINUE, not {on_failure}")
    return Phase(name, commands, finally_cmds, on_failure)


def _parse_artifact(raw: Any, key: str) -> ArtifactSpec:
    art = _mapping(raw, key)
    _check_keys(art, key, {"files", "base-directory", "discard-paths", "exclude-paths",
                           "secondary-artifacts"}, _IGNORED_ARTIFACTS)
    if art.get("files") is None:
        raise BuildspecError(f"{key}.files is required")
    files = _str_list(art["files"], f"{key}.files", allow_single=True)
    if not files:
        raise BuildspecError(f"{key}.files must not be empty")
    base = _scalar(art.get("base-directory", ""), f"{key}.base-directory").strip().strip("/")
    if ".." in base.split("/"):
        raise BuildspecError(f"{key}.base-directory must stay inside the source directory")
    discard = _yes_no(art.get("discard-paths", False), f"{key}.discard-paths")
    exclude = ()
    if art.get("exclude-paths") is not None:
        exclude = _str_list(art["exclude-paths"], f"{key}.exclude-paths", allow_single=True)
    return ArtifactSpec(files, base, discard, exclude)


def parse_buildspec(source: str | Mapping) -> Buildspec:
    """Parse a buildspec given as YAML text or as an already-parsed mapping."""
    if isinstance(source, str):
        try:
            data = yaml.safe_load(source)
        except yaml.YAMLError as exc:
            raise BuildspecError(f"buildspec is not valid YAML: {exc}") from None
    else:
        data = source
    if not isinstance(data, Mapping):
        raise BuildspecError("buildspec must be a mapping with version and phases")
    _check_keys(data, "", {"version", "env", "phases", "artifacts", "cache"}, _IGNORED_TOP)
    if "version" not in data:
        raise BuildspecError("version is required (0.2)")
    if str(data["version"]) != "0.2":
        raise BuildspecError(f"version must be 0.2, not {data['version']}")
    variables, exported, secrets_manager, parameter_store = (
        _parse_env(data["env"]) if data.get("env") is not None else ({}, (), {}, {}))
    if data.get("phases") is None:
        raise BuildspecError("phases is required")
    raw_phases = _mapping(data["phases"], "phases")
    _check_keys(raw_phases, "phases", set(PHASES))
    phases = tuple(_parse_phase(name, raw_phases[name]) for name in PHASES if name in raw_phases)
    artifacts = None
    secondary: dict[str, ArtifactSpec] = {}
    if data.get("artifacts") is not None:
        raw_art = _mapping(data["artifacts"], "artifacts")
        if raw_art.get("files") is not None:
            artifacts = _parse_artifact(raw_art, "artifacts")
        elif "secondary-artifacts" not in raw_art:
            raise BuildspecError("artifacts.files is required")
        if raw_art.get("secondary-artifacts") is not None:
            for ident, raw in _mapping(raw_art["secondary-artifacts"],
                                       "artifacts.secondary-artifacts").items():
                key = f"artifacts.secondary-artifacts.{ident}"
                secondary[str(ident)] = _parse_artifact(raw, key)
    shell = "/bin/sh"
    if isinstance(data.get("env"), Mapping) and data["env"].get("shell") is not None:
        name = str(data["env"]["shell"])
        if name not in SHELLS:
            raise BuildspecError(f"env.shell must be one of {', '.join(sorted(SHELLS))}, not {name}")
        shell = SHELLS[name]
    cache_paths: tuple[str, ...] = ()
    if data.get("cache") is not None:
        raw_cache = _mapping(data["cache"], "cache")
        # key, fallback-keys and action choose among S3 caches: one local cache per project here.
        _check_keys(raw_cache, "cache", {"paths"}, {"key", "fallback-keys", "action"})
        cache_paths = _str_list(raw_cache.get("paths") or [], "cache.paths")
    return Buildspec(variables, exported, phases, artifacts, secondary, shell, secrets_manager, parameter_store,
                     cache_paths)


# ---------------------------------------------------------------- artifact selection

@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern:
    """CodeBuild artifact globs: `**` crosses folders, `*` and `?` do not."""
    pattern = pattern.strip()
    while pattern.startswith("./"):
        pattern = pattern[2:]
    pattern = pattern.strip("/")
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] in "*?":
            out.append("[^/]*" if pattern[i] == "*" else "[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def _matches(path: str, patterns: tuple[str, ...]) -> bool:
    # A pattern naming a folder takes everything under it.
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    return any(glob_regex(p).fullmatch(c) for p in patterns for c in prefixes)


def artifact_path(spec: ArtifactSpec, path: str) -> str | None:
    """Where the file at `path` (relative to CODEBUILD_SRC_DIR) goes in the artifact, or None.

    Patterns are relative to base-directory, and so are the paths kept in the artifact;
    discard-paths keeps only the file name.
    """
    if spec.base_directory:
        if not path.startswith(spec.base_directory + "/"):
            return None
        path = path[len(spec.base_directory) + 1:]
    if not path or ".." in path.split("/"):
        return None
    if not _matches(path, spec.files) or _matches(path, spec.exclude_paths):
        return None
    return path.rsplit("/", 1)[-1] if spec.discard_paths else path


# ---------------------------------------------------------------- rendering

_PRELUDE = r"""# Generated by pipemu from a buildspec 0.2: every phase runs in this one shell session.
_pipemu_state=%(state)s
_pipemu_failed=0
_pipemu_skip=0
_pipemu_done=0
mkdir -p "$_pipemu_state"
rm -f "$_pipemu_state/%(failure)s" "$_pipemu_state/%(exported)s"
CODEBUILD_BUILD_SUCCEEDING=1
export CODEBUILD_BUILD_SUCCEEDING
_pipemu_say() { printf '[Container] %%s\n' "$1"; }
# Records the first failing command, so the runner can say what failed.
_pipemu_record() {
  if [ ! -e "$_pipemu_state/%(failure)s" ]; then
    printf '%%s\n%%s\n%%s\n' "$_pipemu_phase" "$_pipemu_rc" "$_pipemu_cmd" > "$_pipemu_state/%(failure)s"
  fi
}
_pipemu_export() {
  : > "$_pipemu_state/%(exported)s"
%(exports)s}
# A command that leaves the shell (exit, set -e) would skip the end of the script: this trap
# still records the failure and the exported variables.
_pipemu_on_exit() {
  _pipemu_rc=$?
  if [ "$_pipemu_done" != 1 ]; then
    [ "$_pipemu_rc" != 0 ] || _pipemu_rc=1
    _pipemu_say "Command did not exit successfully $_pipemu_cmd exit status $_pipemu_rc"
    _pipemu_say "Phase complete: $_pipemu_phase State: FAILED"
    _pipemu_record
    _pipemu_export
    exit 1
  fi
}
trap _pipemu_on_exit EXIT
"""

_COMMAND = r"""if [ "$%(guard)s" = 1 ]; then
  _pipemu_cmd=%(cmd)s
  _pipemu_say "Running command $_pipemu_cmd"
  # A syntax error inside eval would end a non-interactive shell: check it in a child first.
  /bin/sh -n -c "$_pipemu_cmd" && eval "$_pipemu_cmd" </dev/null
  _pipemu_rc=$?
  if [ "$_pipemu_rc" != 0 ]; then
    _pipemu_say "Command did not exit successfully $_pipemu_cmd exit status $_pipemu_rc"
    _pipemu_record
    if [ "$_pipemu_phase_ok" = 1 ]; then _pipemu_fcmd=$_pipemu_cmd; _pipemu_frc=$_pipemu_rc; fi
    %(guard)s=0
    _pipemu_phase_ok=0
  fi
fi
"""


def _render_phase(phase: Phase) -> str:
    upper = phase.name.upper()
    # Phases skipped after an INSTALL/PRE_BUILD failure; POST_BUILD runs after a BUILD failure.
    out = [f'# ---- phase {upper}\nif [ "$_pipemu_skip" = 0 ]; then\n',
           f"_pipemu_phase={upper}\n",
           f'_pipemu_say "Entering phase {upper}"\n',
           "_pipemu_phase_ok=1\n_pipemu_cmd_ok=1\n_pipemu_fin_ok=1\n"]
    for cmd in phase.commands:
        out.append(_COMMAND % {"guard": "_pipemu_cmd_ok", "cmd": shlex.quote(cmd)})
    for cmd in phase.finally_commands:
        # finally commands run whatever the commands did, and stop at their own first failure.
        out.append(_COMMAND % {"guard": "_pipemu_fin_ok", "cmd": shlex.quote(cmd)})
    out.append('if [ "$_pipemu_phase_ok" = 1 ]; then\n'
               f'  _pipemu_say "Phase complete: {upper} State: SUCCEEDED"\n'
               "else\n"
               f'  _pipemu_say "Phase complete: {upper} State: FAILED"\n'
               '  _pipemu_say "Phase context status code: COMMAND_EXECUTION_ERROR Message: '
               'Error while executing command: $_pipemu_fcmd. Reason: exit status $_pipemu_frc"\n'
               "  _pipemu_failed=1\n  CODEBUILD_BUILD_SUCCEEDING=0\n")
    if phase.name in _ABORTING_PHASES and phase.on_failure == "ABORT":
        out.append("  _pipemu_skip=1\n")
    out.append("fi\nfi\n")
    return "".join(out)


def render_script(spec: Buildspec | str | Mapping, state_dir: str = DEFAULT_STATE_DIR,
                  cache: tuple[str, str] | None = None) -> str:
    """The POSIX sh script running the buildspec; exits 0 when every phase succeeded, else 1.

    Buildspec env.variables are set only when the environment does not already hold them, so
    project and action variables given to the container take precedence, as in CodeBuild.
    Exported variables end up in `<state_dir>/exported.env` as NAME=base64(value) lines, and
    the first failing command in `<state_dir>/failure` (phase, exit status, command).
    """
    if not isinstance(spec, Buildspec):
        spec = parse_buildspec(spec)
    exports = "".join(
        f'  if [ -n "${{{name}+x}}" ]; then\n'
        f"    printf '%s=%s\\n' {name} \"$(printf '%s' \"${name}\" | base64 | tr -d '\\n')\""
        f' >> "$_pipemu_state/{EXPORTED_FILE}"\n  fi\n'
        for name in spec.exported_variables
    ) or "  :\n"
    parts = [_PRELUDE % {"state": shlex.quote(state_dir), "failure": FAILURE_FILE,
                         "exported": EXPORTED_FILE, "exports": exports}]
    parts.append("_pipemu_phase=INIT\n_pipemu_cmd=\n")
    for name, value in spec.variables.items():
        parts.append(f'[ -n "${{{name}+x}}" ] || {name}={shlex.quote(value)}\nexport {name}\n')
    if cache is not None:  # (the mounted cache volume, the source folder relative paths start from)
        parts.append(build_cache.link_script(spec.cache_paths, *cache))
    for phase in spec.phases:
        parts.append(_render_phase(phase))
    parts.append("_pipemu_done=1\n_pipemu_export\n"
                 'if [ "$_pipemu_failed" = 0 ]; then exit 0; else exit 1; fi\n')
    return "".join(parts)


__all__ = ["ArtifactSpec", "artifact_path", "glob_regex", "Buildspec", "BuildspecError", "Phase", "parse_buildspec",
           "render_script", "DEFAULT_STATE_DIR", "EXPORTED_FILE", "FAILURE_FILE", "PHASES"]
