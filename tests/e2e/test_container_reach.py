"""Containers that run actions reach the daemon's API (AWS_ENDPOINT_URL in their environment),
while the daemon listens on loopback (and the Docker bridge) only."""

from __future__ import annotations

import ipaddress
import re

import pytest

from tests.e2e import article_pipeline
from tests.e2e.waiting import settle
from tests.support.daemon import Daemon

pytestmark = pytest.mark.docker
PIPELINE = "svc-pipeline"


def test_a_build_container_calls_the_api(tmp_path, service_repo, busybox_image, python_image, docker_client):
    definition = article_pipeline.service_pipeline(PIPELINE, service_repo, busybox_image)
    definition["projects"][f"{PIPELINE}-build"]["image"] = python_image
    definition["projects"][f"{PIPELINE}-build"]["buildspec"] = {
        "version": 0.2,
        "phases": {"build": {"commands": [
            'echo "endpoint=$AWS_ENDPOINT_URL region=$AWS_REGION"',
            'echo "address=$(hostname -i)"',
            # As an AWS SDK calls: signed with the keys the daemon gave the container.
            "python3 -c \"import boto3, json; print(json.dumps(boto3.client('codepipeline')"
            f".get_pipeline_state(name='{PIPELINE}'), default=str))\" > state.json",
            "grep -q '\"stageName\": \"Building\"' state.json",
            # The same over Smithy RPC v2 CBOR (botocore ranks JSON first; the model lists CBOR
            # first), still signed with the daemon's keys.
            "python3 -c \"import botocore.model as m; m.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = ('smithy-rpc-v2-cbor',); "
            "import boto3, json; c = boto3.client('codepipeline'); print(c.meta.service_model.resolved_protocol); "
            f"print(json.dumps(c.get_pipeline_state(name='{PIPELINE}'), default=str))\" > state-cbor.txt",
            "grep -q '^smithy-rpc-v2-cbor$' state-cbor.txt && grep -q '\"stageName\": \"Building\"' state-cbor.txt",
            "mkdir -p dist && cp state.json dist/app.txt",
        ]}},
        "artifacts": {"files": ["**/*"], "base-directory": "dist"},
    }
    article_pipeline.write(tmp_path / "pipelines", definition)
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    try:
        client = daemon.client()
        client.start_pipeline_execution(name=PIPELINE)
        state = settle(client, PIPELINE)
        building = next(s for s in state["stageStates"] if s["stageName"] == "Building")
        assert building["latestExecution"]["status"] == "Succeeded", building
        log = daemon.action_log(building["actionStates"][0]["latestExecution"]["actionExecutionId"])
        assert f"endpoint=http://host.docker.internal:{daemon.port} region=us-east-1" in log
        # Nothing is deployed in the stage: the build ran on the engine's default bridge (a network
        # of its own costs ~85 ms per container start) and no network was made for it.
        address = ipaddress.ip_address(re.search(r"^address=(\S+)", log, re.M).group(1))
        bridge = docker_client.networks.get("bridge").attrs["IPAM"]["Config"][0]["Subnet"]
        assert address in ipaddress.ip_network(bridge), (address, bridge)
        daemon_id = (tmp_path / "state" / "daemon-id").read_text().strip()
        assert docker_client.networks.list(filters={"label": f"pipemu.daemon={daemon_id}"}) == []
    finally:
        daemon.stop()
