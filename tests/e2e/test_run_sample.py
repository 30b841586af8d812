"""The README's main command, scripts/run-sample.sh, on a copy of the project: it prepares the
sample (repositories, images), prints where to look, and serves the product."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import docker
import pytest

from tests.support.daemon import ROOT, free_port
from emulator.runner.containers import list_containers

pytestmark = pytest.mark.docker


def test_run_sample_serves_the_product(tmp_path, busybox_image):
    for folder in ("pipelines", "sample_services", "scripts"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    # No fixed published ports (PROD's 8081/8082) in the test: another test, a parallel worker's, or
    # a sample served on this machine may hold them.
    for path in (tmp_path / "pipelines").glob("*.yml"):
        path.write_text(path.read_text().replace("hostPort: 8081", "").replace("hostPort: 8082", ""))
    port = free_port()
    env = {**os.environ, "PIPEMU_PYTHON": sys.executable, "PIPEMU_PORT": str(port),
           "PYTHONPATH": str(ROOT)}  # the package of this checkout, as the venv would have it
    process = subprocess.Popen(["bash", "scripts/run-sample.sh"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        health = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
                    health = json.loads(answer.read())
                    break
            except OSError:
                time.sleep(0.5)
        assert health is not None, process.stdout.read() if process.poll() is not None else "no /health"
        assert health["pipelines"] == 3 and health["definitionErrors"] == []
        for repo in ("service-a", "service-b", "e2e-tests"):
            assert (tmp_path / ".pipemu" / "repos" / repo / ".git").is_dir()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
        daemon_id = (tmp_path / ".pipemu" / "daemon-id").read_text().strip()
        client = docker.from_env()
        for container in list_containers(client, {"label": f"pipemu.daemon={daemon_id}"}):
            container.remove(force=True)
        for network in client.networks.list(filters={"label": f"pipemu.daemon={daemon_id}"}):
            network.remove()
    assert f'serving the sample product "my" on http://127.0.0.1:{port}' in output
    assert "command not found" not in output and "Traceback" not in output
