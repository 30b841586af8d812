"""The Amazon S3 deploy action: the input artifact written to a bucket's local folder.

The bucket is the `buckets:` stand-in the S3 source reads (`path:`, a local folder), so a
pipeline that deploys to a bucket and one whose source is that bucket meet in the same folder.
As AWS (the user guide's "Amazon S3 deploy action reference"):

- Extract true: the artifact's files are written under the ObjectKey prefix (the bucket's root
  without one); files already there with other names stay, as objects do.
- Extract false: the artifact, zipped, is written as the object ObjectKey (required then).
- `{datetime}` and `{uuid}` in ObjectKey are replaced as AWS does.

An artifact is closed (artifact_files.py): its links are never followed. S3 has no links, so a
link is not written to the bucket on extract (the log names it) and is kept as a link inside the
zip otherwise; FIFOs, devices and sockets are left out either way. The bucket's own folders are
never left either: a key whose folder is a link in the bucket folder fails the action.
KMSEncryptionKeyARN, CannedACL and CacheControl are accepted with a warning (coverage.py).
"""

from __future__ import annotations

import os
import stat
import threading
import uuid
import zipfile
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from emulator.engine import RunAction
from emulator.engine.events import ActionOutput

from . import artifact_files
from .failures import ActionFailure

if TYPE_CHECKING:
    from .actions import ActionRunner


def object_key(template: str, now: datetime | None = None) -> str:
    """ObjectKey with AWS's `{datetime}` (UTC, YYYY-MM-DD_HH-MM-SS) and `{uuid}` filled in."""
    now = now or datetime.now(timezone.utc)
    return template.replace("{datetime}", now.strftime("%Y-%m-%d_%H-%M-%S")).replace("{uuid}", str(uuid.uuid4()))


def _folder(root: Path, parts: tuple[str, ...], where: str) -> Path:
    """The folder `parts` of the bucket folder `root`, made if missing, reached only through real
    folders: a link on the way (one a user put in the bucket) fails the action."""
    path = root
    for part in parts:
        path = path / part
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            raise ActionFailure(f"{where}: {path.relative_to(root)} in the bucket's folder is not a folder")
        path.mkdir(exist_ok=True)
    return path


def _key_parts(key: str, where: str) -> tuple[str, ...]:
    parts = tuple(p for p in PurePosixPath(key).parts if p not in ("/", "."))
    if ".." in parts:
        raise ActionFailure(f"{where}: an object key may not climb out of the bucket with '..'")
    return parts


def _write(source: str, target: Path) -> None:
    """Copy one artifact file over `target` (an object overwritten): written beside it and renamed
    over it, so a link (or a hard link) there is replaced, never written through."""
    partial = target.with_name(f".{target.name}.pipemu-{uuid.uuid4().hex[:8]}")
    fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        with open(fd, "rb") as src, open(partial, "xb") as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _extract(artifact: Path, root: Path, prefix: tuple[str, ...], where: str, log) -> int:
    """Write the artifact's files under `prefix`; the number of files written."""
    written = 0
    for path, entry, mode in artifact_files.walk(artifact):
        if stat.S_ISDIR(mode):
            continue  # a bucket has no folders: each file's key makes its own
        if stat.S_ISREG(mode):
            folder = _folder(root, prefix + path.parent.parts, where)
            target = folder / path.name
            if target.is_dir() and not target.is_symlink():
                raise ActionFailure(f"{where}: {'/'.join(prefix + path.parts)} is a folder in the bucket's folder")
            _write(entry.path, target)
            written += 1
        else:
            kind = "a link" if stat.S_ISLNK(mode) else "not a file"
            log(f"[pipemu] {path} is {kind}: not written to the bucket")
    return written


def _zip(artifact: Path, target: Path, log) -> int:
    """Zip the artifact as `target`: files, and links as links (never followed)."""
    count = 0
    partial = target.with_name(f".{target.name}.pipemu-{uuid.uuid4().hex[:8]}")
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for folder, dirs, files in os.walk(artifact):  # os.walk never follows links to folders
                dirs.sort()
                for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]):
                    full = os.path.join(folder, name)
                    rel = os.path.relpath(full, artifact).replace(os.sep, "/")
                    mode = os.lstat(full).st_mode
                    if stat.S_ISLNK(mode):
                        info = zipfile.ZipInfo(rel)
                        info.external_attr = (stat.S_IFLNK | 0o777) << 16  # as `zip --symlinks`
                        archive.writestr(info, os.readlink(full))
                    elif stat.S_ISREG(mode):
                        archive.write(full, rel)
                    else:
                        log(f"[pipemu] {rel} is not a file: left out of the zip")
                        continue
                    count += 1
        if target.is_symlink():
            target.unlink()
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return count


def deploy(runner: ActionRunner, command: RunAction, cancel: threading.Event) -> ActionOutput:
    config = dict(command.configuration)
    name = config["BucketName"]
    bucket = runner.resource("buckets", name, "bucket")
    root = Path(bucket.path).resolve()
    if not root.is_dir():
        raise ActionFailure(f"The specified bucket does not exist: {name} (its folder {root} is missing)")
    extract = config["Extract"].strip().lower()
    if extract not in ("true", "false"):
        raise ActionFailure(f"Extract must be true or false, not {config['Extract']!r}")
    key = object_key(config.get("ObjectKey") or "")
    where = f"s3://{name}/{key}"
    artifact = runner.state_dir / command.inputs[0].location
    log = lambda line: runner.log(command, line)  # noqa: E731
    parts = _key_parts(key, where)
    if extract == "true":
        written = _extract(artifact, root, parts, where, log)
        summary = f"{written} files extracted to s3://{name}/{'/'.join(parts)}"
    else:
        if not parts:
            raise ActionFailure("ObjectKey is required when Extract is false")
        target = _folder(root, parts[:-1], where) / parts[-1]
        if target.is_dir() and not target.is_symlink():
            raise ActionFailure(f"{where} is a folder in the bucket's folder")
        written = _zip(artifact, target, log)
        summary = f"{command.inputs[0].name} ({written} files) written as s3://{name}/{'/'.join(parts)}"
    log(f"[pipemu] {summary} (folder {root})")
    return ActionOutput(summary=summary, external_execution_id=f"{name}/{'/'.join(parts)}")
