"""The sample product, released end to end as the article tells it: commits in both services
reach DEV and wait; the releasing pipeline tests the product in DEV and its Lambda approves
StagingDEV everywhere; a manual approval makes it approve StagingQA; both services reach PROD.
Then a service whose integration test fails in DEV is neither approved nor rejected."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request

import pytest
import yaml

from emulator import sample
from tests.e2e.waiting import settle
from tests.support.daemon import ROOT, Daemon, commit, free_port

pytestmark = pytest.mark.docker
SERVICES = ["my-service-a-pipeline", "my-service-b-pipeline"]
RELEASE = "my-release-pipeline"


def stage(state: dict, name: str) -> dict:
    return next(s for s in state["stageStates"] if s["stageName"] == name)


def action(state: dict, stage_name: str, name: str) -> dict:
    return next(a for a in stage(state, stage_name)["actionStates"] if a["actionName"] == name).get("latestExecution", {})


def settle_all(client, names, timeout=600) -> dict:
    return {name: settle(client, name, timeout=timeout) for name in names}


def wait_until(predicate, timeout=300):
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return result


def release_output(client, execution: str, stage_name: str) -> dict:
    details = client.list_action_executions(pipelineName=RELEASE, filter={"pipelineExecutionId": execution})
    found = next(d for d in details["actionExecutionDetails"] if d["stageName"] == stage_name and d["actionName"] == "release")
    return found["output"].get("outputVariables", {})


@pytest.fixture
def product(tmp_path, busybox_image):
    for folder in ("pipelines", "sample_services"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    ports = {"service-a-prod": free_port(), "service-b-prod": free_port()}
    resources = tmp_path / "pipelines" / "my-product.yml"
    data = yaml.safe_load(resources.read_text())
    for name, port in ports.items():
        data["stacks"][name]["hostPort"] = port
    resources.write_text(yaml.safe_dump(data))
    sample.prepare_repositories(tmp_path)
    sample.prepare_images(log=lambda line: None)
    daemon = Daemon(tmp_path / "pipelines", tmp_path / ".pipemu").start()
    yield daemon, tmp_path, ports
    daemon.stop()


def test_the_product_release(product):
    daemon, root, ports = product
    client = daemon.client()
    # Both service pipelines started when they appeared (their sources watch for commits).
    states = settle_all(client, SERVICES)
    for name, state in states.items():
        assert stage(state, "StagingDEV")["latestExecution"]["status"] == "InProgress", name
        assert action(state, "StagingDEV", "test")["status"] == "Succeeded", name
        assert action(state, "StagingDEV", "approve")["status"] == "InProgress", name
    assert client.list_pipeline_executions(pipelineName=RELEASE)["pipelineExecutionSummaries"] == []
    test_run = action(states["my-service-a-pipeline"], "StagingDEV", "test")["actionExecutionId"]
    assert "service-a integration tests passed" in daemon.action_log(test_run)  # kept per action execution

    # The nightly release (started here as its schedule would).
    release = client.start_pipeline_execution(name=RELEASE)["pipelineExecutionId"]
    state = settle(client, RELEASE, timeout=600)
    assert action(state, "E2ETesting", "e2e")["status"] == "Succeeded"
    assert action(state, "StagingProd", "approve")["status"] == "InProgress"
    assert release_output(client, release, "StagingQA") == {"approved": ",".join(SERVICES), "count": "2"}
    states = settle_all(client, SERVICES)
    for name, service_state in states.items():
        assert stage(service_state, "StagingDEV")["latestExecution"]["status"] == "Succeeded", name
        assert action(service_state, "StagingQA", "approve")["status"] == "InProgress", name

    # The manual approval in the releasing pipeline releases the product into PROD.
    client.put_approval_result(pipelineName=RELEASE, stageName="StagingProd", actionName="approve",
                               result={"summary": "QA signed off", "status": "Approved"},
                               token=action(state, "StagingProd", "approve")["token"])
    wait_until(lambda: client.get_pipeline_execution(pipelineName=RELEASE, pipelineExecutionId=release)[
        "pipelineExecution"]["status"] == "Succeeded")
    states = settle_all(client, SERVICES)
    for name, service_state in states.items():
        execution = stage(service_state, "StagingPROD")["latestExecution"]
        assert execution["status"] == "Succeeded", name
    with urllib.request.urlopen(f"http://127.0.0.1:{ports['service-a-prod']}/greeting", timeout=10) as reply:
        assert "Hello from service-a 1.0.0 and service-b 1.0.0" in json.loads(reply.read())["greeting"]

    # A commit whose integration test fails in DEV: the release approves only what waits.
    repos = root / ".pipemu" / "repos"
    commit(repos / "service-b", "a test that fails", {"tests/integration.sh": "echo broken test; exit 1\n"})
    commit(repos / "service-a", "version 1.1.0", {"VERSION": "1.1.0\n"})
    wait_until(lambda: all(len(client.list_pipeline_executions(pipelineName=n)["pipelineExecutionSummaries"]) == 2
                           for n in SERVICES), timeout=30)
    states = settle_all(client, SERVICES)
    b_dev = stage(states["my-service-b-pipeline"], "StagingDEV")["latestExecution"]
    assert b_dev["status"] == "Failed"
    assert action(states["my-service-a-pipeline"], "StagingDEV", "approve")["status"] == "InProgress"
    second = client.start_pipeline_execution(name=RELEASE)["pipelineExecutionId"]
    settle(client, RELEASE, timeout=600)
    assert release_output(client, second, "StagingQA") == {"approved": "my-service-a-pipeline", "count": "1"}
    states = settle_all(client, SERVICES)
    assert stage(states["my-service-b-pipeline"], "StagingDEV")["latestExecution"] == b_dev  # untouched
    execution = client.get_pipeline_execution(pipelineName="my-service-b-pipeline",
                                              pipelineExecutionId=b_dev["pipelineExecutionId"])["pipelineExecution"]
    assert execution["status"] == "Failed" and "StagingDEV.test" in execution["statusSummary"]
    assert stage(states["my-service-a-pipeline"], "StagingQA")["latestExecution"]["status"] == "InProgress"
