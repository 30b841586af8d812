"""Warm execution environments never outlive their daemon: a stop removes them, and a daemon
started after a `kill -9` removes what the killed one left."""

from __future__ import annotations

import json

import boto3
import pytest
import yaml

from emulator.runner.containers import list_containers
from tests.support.daemon import Daemon

pytestmark = pytest.mark.docker


def test_stop_and_crash_leave_no_environment(tmp_path, docker_client):
    from emulator.runner.lambda_images import ensure_runtime_image

    ensure_runtime_image(docker_client, "python3.12")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "app.py").write_text("def handler(event, context):\n    return 'warm'\n")
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "fn.yml").write_text(yaml.safe_dump({"functions": {"fn": {
        "runtime": "python3.12", "handler": "app.handler", "code": str(tmp_path / "code")}}}))
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    label = {"label": [f"pipemu.daemon={(tmp_path / 'state' / 'daemon-id').read_text().strip()}", "pipemu.function=fn"]}

    def invoke(running: Daemon) -> str:
        client = boto3.client("lambda", endpoint_url=running.endpoint, region_name="us-east-1",
                              aws_access_key_id="t", aws_secret_access_key="t")
        return json.loads(client.invoke(FunctionName="fn")["Payload"].read())

    try:
        assert invoke(daemon) == "warm"
        assert len(list_containers(docker_client, label)) == 1
        daemon.process.terminate()
        daemon.process.wait(30)
        assert list_containers(docker_client, label) == []  # a stop takes them away

        daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
        assert invoke(daemon) == "warm"
        daemon.kill()
        assert len(list_containers(docker_client, label)) == 1  # a crash leaves it running
        daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
        assert list_containers(docker_client, label) == []  # the next start removes it
    finally:
        daemon.stop()
