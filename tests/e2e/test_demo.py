"""`pipemu demo` reproduces the article's table on the sample product, through the real daemon."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from emulator import sample
from tests.e2e.waiting import settle
from tests.support.daemon import ROOT, Daemon

pytestmark = pytest.mark.docker


def test_demo_plays_the_article(tmp_path, busybox_image):
    for folder in ("pipelines", "sample_services"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    for path in (tmp_path / "pipelines").glob("*.yml"):  # no published ports in the test
        path.write_text(path.read_text().replace("hostPort: 8081", "").replace("hostPort: 8082", ""))
    sample.prepare_repositories(tmp_path)
    sample.prepare_images(log=lambda line: None)
    daemon = Daemon(tmp_path / "pipelines", tmp_path / ".pipemu").start()
    try:
        settle(daemon.client(), "my-service-a-pipeline")  # the creation run waits in DEV: the demo clears it
        for _ in range(2):  # played again, it commits c1.. anew and tells the same story
            result = subprocess.run(
                [sys.executable, "-m", "emulator.cli", "demo", "--endpoint", daemon.endpoint,
                 "--repo", str(tmp_path / ".pipemu" / "repos" / "service-a")],
                cwd=ROOT, capture_output=True, text=True, timeout=900,
            )
            assert result.returncode == 0, result.stdout + result.stderr
            lines = result.stdout.splitlines()
            assert "stopped execution" in lines[0]
            row = next(line for line in lines if line.startswith("approve c3 in QA"))
            assert row.split()[4:12] == ["c4", "✓", "c4", "✗", "c3", "✓", "c3", "✓"] and row.endswith("same")
            assert lines[-1] == "the article's table, reproduced"
    finally:
        daemon.stop()
