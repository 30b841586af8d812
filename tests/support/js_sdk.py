"""The JS SDK v3 as its users get it: the newest packages the npm registry serves, installed into
a folder for the test run, and a script of theirs run with node."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.environment import unavailable


def install(folder: Path, *packages: str) -> Path:
    if not shutil.which("npm") or not shutil.which("node"):
        unavailable("node and npm are needed for the JS SDK's tests")
    run = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent", *packages],
                         cwd=folder, capture_output=True, text=True, timeout=300)
    if run.returncode != 0:
        pytest.fail(f"npm install {' '.join(packages)} failed: {run.stderr[-2000:]}")
    return folder


def run(folder: Path, script: str, env: dict[str, str]) -> dict:
    """Run `script` with node in `folder`; what it printed, as JSON."""
    (folder / "calls.js").write_text(script)
    done = subprocess.run(["node", str(folder / "calls.js")], cwd=folder, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
