"""Prepares the sample product for `pipemu serve`: its git repositories and its images.

The sample's code lives in `sample_services/`; the pipelines read it from real git repositories
under `.pipemu/repos/`, made here once (a commit of each service folder), so that a developer
commits there exactly as they would to CodeCommit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SERVICES = ("service-a", "service-b", "e2e-tests")
SERVICE_BASE = "pipemu/service-base:latest"


def _git(repo: Path, *args: str) -> None:
    identity = ["-c", "user.name=pipemu sample", "-c", "user.email=sample@pipemu.local"]
    subprocess.run(["git", *identity, *args], cwd=repo, check=True, capture_output=True)


def prepare_repositories(root: Path) -> list[Path]:
    made = []
    for service in SERVICES:
        repo = root / ".pipemu" / "repos" / service
        if (repo / ".git").exists():
            continue  # never overwrite a developer's commits
        shutil.copytree(root / "sample_services" / service, repo)
        _git(repo, "init", "-q", "-b", "main")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", f"{service}: initial version")
        made.append(repo)
    return made


def prepare_images(log=print) -> list[str]:
    """The images the sample uses, made locally when missing: busybox for builds and tests, a
    Python base for the services' Dockerfiles, and the Lambda runtime for the release function.
    With a registry at hand (PIPEMU_SERVICE_BASE=python:3.12-slim), the base is pulled instead."""
    import docker

    from emulator.runner.images import ensure_busybox_image, image_exists
    from emulator.runner.lambda_images import ensure_base_image, ensure_runtime_image

    client = docker.from_env()
    images = [ensure_busybox_image(client)]
    if not image_exists(client, SERVICE_BASE):
        wanted = os.environ.get("PIPEMU_SERVICE_BASE")
        if wanted:
            repository, _, tag = wanted.partition(":")
            base = client.images.pull(repository, tag=tag or "latest")
        else:
            base = client.images.get(ensure_base_image(client, log=log))
        base.tag(SERVICE_BASE)
    images.append(SERVICE_BASE)
    images.append(ensure_runtime_image(client, "python3.12", log=log))
    return images


def main(root: Path) -> None:
    for repo in prepare_repositories(root):
        print(f"pipemu: sample repository {repo} created")
    for image in prepare_images():
        print(f"pipemu: image {image} ready")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
