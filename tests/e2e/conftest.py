"""Fixtures for tests that run the real daemon with real containers."""

from __future__ import annotations

import pytest

from tests.e2e import article_pipeline
from tests.support.daemon import Daemon, commit, init_repo


@pytest.fixture
def service_repo(tmp_path):
    repo = init_repo(tmp_path / "repo")
    commit(repo, "initial", {"README.md": "service\n"})
    return repo


@pytest.fixture
def article_daemon(tmp_path, service_repo, busybox_image):
    """The daemon serving the article's service pipeline `svc-pipeline` (no automatic starts)."""
    article_pipeline.write(tmp_path / "pipelines", article_pipeline.service_pipeline("svc-pipeline", service_repo, busybox_image))
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    yield daemon
    daemon.stop()
