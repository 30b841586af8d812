"""Run a CodeBuild build in a Docker container: inputs copied in, logs streamed, artifacts copied out.

Host folders are never bind-mounted: inputs go in through the container's stdin (streaming.py;
put_archive for an image that cannot unpack them) and outputs come back with get_archive, so a
remote DOCKER_HOST, or a daemon that itself runs in a container, works the same.
A container is named after the action execution, so a restarted daemon re-attaches to it.
"""

from __future__ import annotations

import dataclasses
import io
import shutil
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import docker.errors
from docker.utils import parse_repository_tag

from . import build_cache, streaming
from .secrets import SecretError
from .artifact_files import OutsideArtifact, input_member, inside
from .build_outputs import MAX_STATE_FILE, OutputError, read_state, write_artifacts  # noqa: F401 (MAX_STATE_FILE: tests)
from .limits import ArtifactTooLarge
from .containers import (EngineUnavailable, ENGINE_DOWN, create, daemon_label, existing, follow, remove, root_owned,
                         started_at, unavailable_message)
from .buildspec import Buildspec, BuildspecError, parse_buildspec, render_script

SRC_DIR = "/codebuild/output/src"
STATE_DIR = "/codebuild/pipemu"
SCRIPT_PATH = f"{STATE_DIR}/build.sh"


@dataclass(frozen=True)
class BuildJob:
    name: str                      # container name, unique per action execution (re-attach key)
    image: str
    buildspec: str | dict | None   # inline text/mapping, a path in the primary input, None = buildspec.yml
    primary_input: Path | None     # host folder holding the primary input artifact (not modified)
    secondary_inputs: dict[str, Path] = field(default_factory=dict)
    outputs: list[tuple[str, Path]] = field(default_factory=list)  # first is the primary output
    env: dict[str, str] = field(default_factory=dict)  # project+action variables: beat buildspec ones
    labels: dict[str, str] = field(default_factory=dict)
    timeout_seconds: float = 3600
    memory_mb: int = 3072  # CodeBuild's small compute type: 3 GB, 2 vCPUs
    cpus: float = 2.0
    network: str | None = None  # a Docker network to join (the stage's, where its stacks run)
    privileged: bool = False  # CodeBuild's privilegedMode: privileges and the Docker socket
    # The buildspec's env.secrets-manager/parameter-store, resolved once it is read (before the
    # container is made): variable -> value. Raises SecretError, which fails the build.
    secrets: Callable[[Buildspec], dict[str, str]] | None = None
    # The project's cache volume (build_cache.py) when its cache keeps the buildspec's cache.paths.
    cache_volume: str | None = None


@dataclass(frozen=True)
class BuildResult:
    succeeded: bool
    message: str
    exported_variables: dict[str, str] = field(default_factory=dict)


class _Failure(Exception):
    """A build failure known before or after the container runs; its text is the message."""


# ---------------------------------------------------------------- preparing

def _load_buildspec(job: BuildJob) -> Buildspec:
    spec = job.buildspec if job.buildspec is not None else "buildspec.yml"
    if isinstance(spec, str) and "\n" not in spec.strip():
        rel = spec.strip()
        if job.primary_input is None:
            raise _Failure(f"{rel} not found in the primary input artifact")
        try:
            path = inside(Path(job.primary_input), rel, "buildspec")
        except FileNotFoundError:
            raise _Failure(f"{rel} not found in the primary input artifact") from None
        except OutsideArtifact as exc:
            raise _Failure(f"YAML_FILE_ERROR: {exc}") from None
        spec = path.read_text(encoding="utf-8", errors="replace")
    try:
        return parse_buildspec(spec)
    except BuildspecError as exc:
        raise _Failure(f"YAML_FILE_ERROR: {exc}") from None


def _environment(job: BuildJob) -> dict[str, str]:
    # Buildspec env.variables are applied by the script only where these leave a name unset.
    env = {"HOME": "/root", **job.env}
    env.update(CODEBUILD_SRC_DIR=SRC_DIR, CODEBUILD_BUILD_ID=job.name,
               CODEBUILD_BUILD_IMAGE=job.image)
    pipeline = job.labels.get("pipemu.pipeline") or job.labels.get("pipeline")
    if pipeline:
        env["CODEBUILD_INITIATOR"] = f"codepipeline/{pipeline}"
    for name in job.secondary_inputs:
        env[f"CODEBUILD_SRC_DIR_{name}"] = f"{SRC_DIR}_{name}"
    return env


def _input_tar(job: BuildJob, script: str):
    """A tar (on disk: inputs can be large) extracting at / into the container's layout."""
    fh = tempfile.TemporaryFile()
    with tarfile.open(fileobj=fh, mode="w") as tar:
        for d in ("codebuild", "codebuild/output", "codebuild/pipemu"):
            info = root_owned(tarfile.TarInfo(d))
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
            tar.addfile(info)
        folders = [(SRC_DIR, job.primary_input)] + [
            (f"{SRC_DIR}_{name}", path) for name, path in job.secondary_inputs.items()]
        for target, folder in folders:
            if folder is None:
                info = root_owned(tarfile.TarInfo(target.lstrip("/")))
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
                tar.addfile(info)
            else:
                tar.add(str(folder), arcname=target.lstrip("/"), filter=input_member)
        data = script.encode()
        info = root_owned(tarfile.TarInfo(SCRIPT_PATH.lstrip("/")))
        info.size, info.mode, info.mtime = len(data), 0o755, int(time.time())
        tar.addfile(info, io.BytesIO(data))
    fh.seek(0)
    return fh


def _ensure_image(client, image: str) -> str:
    """The image's id, pulled first if it is not here."""
    try:
        return client.images.get(image).id
    except docker.errors.ImageNotFound:
        pass
    repo, tag = parse_repository_tag(image)
    try:
        return client.images.pull(repo, tag=tag or "latest").id
    except docker.errors.DockerException as exc:
        raise _Failure(f"Image {image} is not available locally and could not be pulled: {exc}")


def _create(client, job: BuildJob, spec: Buildspec):
    """The build's container, and its inputs still to stream in (None: they went in with
    put_archive, for an image that cannot unpack them itself; see streaming.py). A name in use
    raises docker's 409 APIError: the caller re-attaches to that container."""
    labels = {"pipemu.runner": "codebuild", **job.labels}
    extra = {}
    if job.privileged:  # only when the project asks, as CodeBuild's privilegedMode
        extra = {"privileged": True, "volumes": {"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}}}
    cached = _cached(job, spec)
    if cached:
        client.volumes.create(job.cache_volume, labels=daemon_label(labels))
        extra.setdefault("volumes", {})[job.cache_volume] = {"bind": build_cache.CACHE_MOUNT, "mode": "rw"}
    command = [spec.shell, SCRIPT_PATH]
    stream = streaming.can_stream(client, job.image, spec.shell, labels)
    if stream:
        command = streaming.command(spec.shell, command)
        extra.update(streaming.create_kwargs())
    settings = dict(
        name=job.name, labels=labels, environment=_environment(job), working_dir=SRC_DIR,
        # Lets build commands reach the emulator's API on the host, as the design asks.
        extra_hosts={"host.docker.internal": "host-gateway"},
        mem_limit=f"{job.memory_mb}m", nano_cpus=int(job.cpus * 1e9), network=job.network, **extra)
    try:
        container = create(client, job.image, command, **settings)
    except docker.errors.ImageNotFound:  # not here: pulled (if a registry has it), then made
        _ensure_image(client, job.image)
        container = create(client, job.image, command, **settings)
    try:
        data = _input_tar(job, render_script(spec, state_dir=STATE_DIR,
                                             cache=(build_cache.CACHE_MOUNT, SRC_DIR) if cached else None))
        if stream:
            return container, data
        with data:
            container.put_archive("/", data)
    except BaseException:
        remove(container)
        raise
    return container, None


def _cached(job: BuildJob, spec: Buildspec) -> bool:
    return job.cache_volume is not None and bool(spec.cache_paths)


def _made_or_found(client, job: BuildJob, spec: Buildspec):
    """(container, inputs to stream, made now): the build's container, made now, or the one a
    previous daemon left under its name (re-attached to, unless nothing of the build ran in it)."""
    for _ in range(3):
        try:
            container, data = _create(client, job, spec)
            return container, data, True
        except docker.errors.APIError as exc:
            if exc.status_code != 409:
                raise
        found = existing(client, job.name)
        if found is None:  # removed meanwhile
            continue
        if streaming.cut_short(found):
            # Died before its inputs were whole (between create and start, or while they
            # streamed in): nothing of the build ran, so start afresh.
            remove(found)
            continue
        return found, None, False
    raise _Failure(f"the container name {job.name} stays in use")


# ---------------------------------------------------------------- running

def _stop_reason(job: BuildJob, why: str) -> str:
    if why == "cancel":
        return "Build stopped"
    return f"Build timed out after {job.timeout_seconds:g} seconds"


# ---------------------------------------------------------------- collecting

def _collect_outputs(container, job: BuildJob, spec: Buildspec) -> None:
    if not job.outputs:
        return
    outputs = []
    for index, (name, folder) in enumerate(job.outputs):
        art = spec.secondary_artifacts.get(name) or (spec.artifacts if index == 0 else None)
        if art is None:
            raise _Failure(f"CLIENT_ERROR: no artifact definition for output artifact {name} "
                           f"in the buildspec (artifacts or artifacts.secondary-artifacts.{name})")
        outputs.append((name, art, Path(folder)))
    try:
        write_artifacts(container, SRC_DIR, outputs, "build output")
    except ArtifactTooLarge as exc:
        for _, _, folder in outputs:  # what was written below the limit is of no use now
            shutil.rmtree(folder, ignore_errors=True)
        raise _Failure(f"CLIENT_ERROR: {exc}") from None


# ---------------------------------------------------------------- the entry point

def run_build(client, job: BuildJob, log: Callable[[str], None],
              cancel: threading.Event | None = None, keep_container: bool = False) -> BuildResult:
    """Run (or re-attach to) the build `job`; every failure is a BuildResult, never an exception.

    If the caller is interrupted (KeyboardInterrupt, SystemExit: the daemon is going down) the
    container is left running, so the next run_build with the same job re-attaches to it. With
    `keep_container` the caller removes the container itself (containers.remove_named), once it has
    recorded the result: a crash before that re-attaches to the exited container instead of
    running the build a second time.
    """
    container = None
    keep = keep_container
    exported: dict[str, str] = {}
    try:
        spec = _load_buildspec(job)
        if job.secrets is not None:
            try:
                resolved = job.secrets(spec)
            except SecretError as exc:
                raise _Failure(str(exc)) from None
            # The buildspec's come last, as CodeBuild: project and action variables win.
            job = dataclasses.replace(job, env={**resolved, **job.env})
        if spec.cache_paths and job.cache_volume is None:
            log("[pipemu] cache.paths: the project has no cache (cache: {type: LOCAL, modes: [LOCAL_CUSTOM_CACHE]}), "
                "so nothing is kept between builds, as in CodeBuild")
        container, data, made = _made_or_found(client, job, spec)
        if made:
            if data is None:
                container.start()
            else:
                with data:
                    streaming.start_with(client, container, data)
            started = time.time()
        else:
            log(f"[pipemu] re-attaching to container {job.name} ({container.status})")
            started = started_at(container) or time.time()
        followed = follow(container, timeout_seconds=job.timeout_seconds, started=started, on_line=log,
                          cancel=cancel, stop_reason=lambda why: _stop_reason(job, why))
        code, stopped = followed.code, followed.stopped
        # The state files are read only when there is something to read: an archive copy out of
        # a container costs ~40 ms, a tenth of a no-op build.
        exported, failure = {}, None
        if code != 0 or stopped or spec.exported_variables:
            exported, failure = read_state(container, STATE_DIR)
        if stopped:
            return BuildResult(False, stopped, exported)
        if code != 0:
            container.reload()  # the attributes are those of its creation until then (OOMKilled)
            if failure and len(failure) == 3:
                phase, status, command = failure
                message = (f"COMMAND_EXECUTION_ERROR in phase {phase}: Error while executing "
                           f"command: {command}. Reason: exit status {status}")
            elif container.attrs.get("State", {}).get("OOMKilled"):
                message = "Build container ran out of memory"
            elif code == streaming.INCOMPLETE and streaming.cut_short(container):
                message = "Build container could not unpack its inputs (tar failed)"
            elif followed.engine_restarted:
                message = (f"Build container exited with status {code}: the Docker engine "
                           f"restarted while the build ran")
            else:
                message = f"Build container exited with status {code}"
            return BuildResult(False, message, exported)
        _collect_outputs(container, job, spec)
        return BuildResult(True, "Build succeeded", exported)
    except (_Failure, OutputError) as exc:
        return BuildResult(False, str(exc), exported)
    except (EngineUnavailable, *ENGINE_DOWN) as exc:
        return BuildResult(False, unavailable_message(exc), exported)
    except docker.errors.DockerException as exc:
        return BuildResult(False, f"Docker error: {exc}", exported)
    except Exception:
        raise
    except BaseException:
        keep = True  # the daemon is stopping: leave the build running for a re-attach
        raise
    finally:
        if container is not None and not keep:
            remove(container)


__all__ = ["BuildJob", "BuildResult", "run_build", "SRC_DIR", "STATE_DIR"]
