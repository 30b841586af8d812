"""What a local Lambda function is: its configuration, from either of the two places functions
come from, and the FunctionConfiguration AWS answers for it.

- `functions:` of the pipelines folder: stand-ins for functions that exist on AWS (a release
  Lambda invoked by a pipeline). They are read where they are declared.
- Functions a CloudFormation deploy made: their code is copied under the state folder, and their
  configuration is kept in the stack's record (cfn/store.py), so they outlive a restart.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

PAYLOAD_LIMIT = 6 * 1024 * 1024  # Lambda's synchronous request and response payload quota

ACCOUNT_ID = "123456789012"
# Names and ARNs as Lambda's API accepts them for FunctionName: a name, a partial ARN
# (ACCOUNT:function:NAME) or a full ARN, each with an optional :QUALIFIER.
_IDENTIFIER = re.compile(
    r"(?:arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:)?(?:\d{12}:)?(?:function:)?([a-zA-Z0-9_-]+)(?::([a-zA-Z0-9$_-]+))?")


@dataclass(frozen=True)
class FunctionConfig:
    name: str
    runtime: str | None  # as declared (FunctionConfiguration shows it)
    handler: str | None
    code_dir: Path | None  # the folder whose files are /var/task
    environment: dict[str, str] = field(default_factory=dict)
    timeout: int = 3
    memory_size: int = 128
    description: str = ""
    image: str | None = None  # an image to run instead of the runtime's (ImageUri, or `image:`)
    local_runtime: str | None = None  # the runtime it runs on here, when that differs
    code_sha256: str = ""
    code_size: int = 0
    last_modified: str = ""
    stack: str | None = None  # the stack that made it; None: declared in the pipelines folder

    @property
    def runs_on(self) -> str | None:
        return self.local_runtime or self.runtime

    def arn(self, region: str) -> str:
        return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{self.name}"

    def configuration(self, region: str) -> dict:
        """Lambda's FunctionConfiguration shape."""
        answer = {
            "FunctionName": self.name,
            "FunctionArn": self.arn(region),
            "Role": f"arn:aws:iam::{ACCOUNT_ID}:role/pipemu-local",
            "CodeSize": self.code_size,
            "Description": self.description,
            "Timeout": self.timeout,
            "MemorySize": self.memory_size,
            "LastModified": self.last_modified,
            "CodeSha256": self.code_sha256,
            "Version": "$LATEST",
            "TracingConfig": {"Mode": "PassThrough"},
            "RevisionId": self.code_sha256[:8] + "-pipemu",
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Image" if self.image and not self.runtime else "Zip",
            "Architectures": ["x86_64"],
            "EphemeralStorage": {"Size": 512},
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{self.name}"},
        }
        if self.runtime:
            answer["Runtime"] = self.runtime
            answer["Handler"] = self.handler or ""
        if self.environment:
            answer["Environment"] = {"Variables": dict(self.environment)}
        return answer

    def to_record(self) -> dict:
        """The form kept in a stack's record."""
        return {"name": self.name, "runtime": self.runtime, "handler": self.handler,
                "code_dir": str(self.code_dir) if self.code_dir else None, "environment": self.environment,
                "timeout": self.timeout, "memory_size": self.memory_size, "description": self.description,
                "image": self.image, "local_runtime": self.local_runtime, "code_sha256": self.code_sha256,
                "code_size": self.code_size, "last_modified": self.last_modified, "stack": self.stack}

    @classmethod
    def from_record(cls, data: dict) -> "FunctionConfig":
        data = dict(data)
        data["code_dir"] = Path(data["code_dir"]) if data.get("code_dir") else None
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def parse_identifier(identifier: str) -> tuple[str, str | None] | None:
    """(name, qualifier) of a FunctionName as Lambda accepts it, or None."""
    match = _IDENTIFIER.fullmatch(identifier or "")
    return (match.group(1), match.group(2)) if match else None


def folder_digest(folder: Path) -> tuple[str, int]:
    """(base64 SHA-256, size in bytes) of a code folder: Lambda's CodeSha256 is the digest of the
    .zip; a folder has no zip, so its files (paths and contents, in order) are what is hashed."""
    digest, size = hashlib.sha256(), 0
    if folder and folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
            data = path.read_bytes()
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + data)
            size += len(data)
    return base64.b64encode(digest.digest()).decode(), size
