"""How large an artifact may get: AWS's quotas by default, one setting to change them all.

The sizes are those of "Quotas in AWS CodePipeline" (docs.aws.amazon.com/codepipeline/latest/
userguide/limits.html, "Maximum size of artifacts in a source stage"): artifacts stored in Amazon
S3 buckets 2 GB, artifacts of CodeCommit or GitHub repositories 1 GB (and 256 MB when
CloudFormation deploys them: not checked here, its inputs were capped when they were made). AWS
states no size for a build's outputs: they are S3 objects in the artifact store, so they get the
S3 size.

PIPEMU_MAX_ARTIFACT_BYTES (a number of bytes) replaces every one of them: a machine with little
disk lowers it, a test sets it small. A size counts the files' apparent sizes, the way the tar
that carries them does (a sparse 2 GB file is 2 GB): what an action would have to write.
"""

from __future__ import annotations

import os

GB = 1024 ** 3
MB = 1024 ** 2

DEFAULTS = {
    "S3 source": 2 * GB,
    "repository source": 1 * GB,
    "build output": 2 * GB,
}
SETTING = "PIPEMU_MAX_ARTIFACT_BYTES"


class ArtifactTooLarge(Exception):
    """An artifact that would pass its limit; the message names the artifact and the limit."""

    def __init__(self, artifact: str, limit: int, kind: str):
        super().__init__(f"artifact {artifact} is larger than {limit} bytes ({_readable(limit)}), the limit for "
                         f"{kind} artifacts ({SETTING} changes it); it was not kept")
        self.artifact, self.limit = artifact, limit


def artifact_limit(kind: str) -> int:
    """The size in bytes an artifact of `kind` (a key of DEFAULTS) may reach."""
    setting = os.environ.get(SETTING, "").strip()
    if setting.isdigit():
        return int(setting)
    return DEFAULTS[kind]


class Budget:
    """Counts the bytes of one artifact as they are written, and stops it at its limit."""

    def __init__(self, artifact: str, kind: str):
        self.artifact, self.kind = artifact, kind
        self.limit = artifact_limit(kind)
        self.used = 0

    def take(self, size: int) -> None:
        """Counts `size` more bytes (before they are read), or raises ArtifactTooLarge."""
        self.used += size
        if self.used > self.limit:
            raise ArtifactTooLarge(self.artifact, self.limit, self.kind)


def _readable(size: int) -> str:
    for unit, scale in (("GiB", GB), ("MiB", MB), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} bytes"


__all__ = ["ArtifactTooLarge", "Budget", "DEFAULTS", "SETTING", "artifact_limit"]
