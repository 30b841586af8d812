"""Warm functions (lambdas/warm.py) on a real engine: one execution environment reused between
invocations of the same code and configuration (init once, /tmp kept), a new one after an update,
per-function concurrency, timeouts and crashes that reset the environment, idle recycling, and
nothing left behind."""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid

import pytest

from emulator.definitions.models import Function
from emulator.lambdas.service import Lambdas
from emulator.runner.containers import list_containers
from emulator.runner.lambda_images import ensure_runtime_image

pytestmark = pytest.mark.docker

PYTHON = '''import os, time

INITS = {"count": 0}
INITS["count"] += 1  # module init: once per execution environment


def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("exit"):
        os._exit(3)
    if event.get("big"):
        return "x" * event["big"]
    path = "/tmp/calls"
    calls = int(open(path).read()) + 1 if os.path.exists(path) else 1
    open(path, "w").write(str(calls))
    print("call", calls)
    return {"inits": INITS["count"], "calls": calls, "version": os.environ.get("VERSION"),
            "remaining": context.get_remaining_time_in_millis() > 0}
'''

NODE = '''let inits = 0;
inits += 1;
exports.handler = async (event) => {
  if (event.throwLater) { setTimeout(() => { throw new Error("later"); }, 10); await new Promise(r => setTimeout(r, 500)); }
  globalThis.calls = (globalThis.calls || 0) + 1;
  return { inits, calls: globalThis.calls };
};
'''


@pytest.fixture(scope="module")
def images(docker_client):
    return ensure_runtime_image(docker_client, "python3.12"), ensure_runtime_image(docker_client, "nodejs20.x")


@pytest.fixture
def lambdas(tmp_path, docker_client, images, monkeypatch):
    monkeypatch.setenv("PIPEMU_LAMBDA_CONCURRENCY", "2")
    (tmp_path / "py").mkdir()
    (tmp_path / "py" / "app.py").write_text(PYTHON)
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "index.js").write_text(NODE)
    declared = {
        "py": Function(runtime="python3.12", handler="app.handler", code=tmp_path / "py", timeout=3,
                       environment={"VERSION": "1"}),
        "js": Function(runtime="nodejs20.x", handler="index.handler", code=tmp_path / "js", timeout=5),
    }
    service = Lambdas(client=lambda: docker_client, declared=lambda: declared, deployed=lambda: [],
                      environment=lambda: {"AWS_REGION": "us-east-1"}, region="us-east-1",
                      daemon_id=f"pipemu-test-{uuid.uuid4().hex[:12]}")
    service.declared = declared
    yield service
    service.close()
    assert list_containers(docker_client, {"label": f"pipemu.daemon={service.daemon_id}"}) == []


def call(lambdas, name, event=None):
    answer = lambdas.call(lambdas.find(name), event or {})
    return json.loads(answer.payload), answer


def test_one_environment_serves_the_invocations_with_init_once_and_tmp_kept(lambdas):
    started = time.monotonic()
    first, answer = call(lambdas, "py")
    cold = time.monotonic() - started
    assert first == {"inits": 1, "calls": 1, "version": "1", "remaining": True}
    assert "call 1" in answer.log_tail_text and "REPORT RequestId" in answer.log_tail_text
    timings = []
    for n in (2, 3):
        started = time.monotonic()
        body, answer = call(lambdas, "py")
        timings.append(time.monotonic() - started)
        assert body == {"inits": 1, "calls": n, "version": "1", "remaining": True}
        assert f"call {n}" in answer.log_tail_text and f"call {n - 1}" not in answer.log_tail_text
    assert lambdas.pool.count("py") == 1
    assert max(timings) < cold  # the speed itself is measured by bench/lambda_warm.py


def test_an_update_gets_a_new_environment_and_the_old_one_goes(lambdas, docker_client):
    call(lambdas, "py")
    mine = {"label": [f"pipemu.daemon={lambdas.daemon_id}", "pipemu.function=py"]}
    old = {c.name for c in list_containers(docker_client, mine)}
    lambdas.declared["py"] = lambdas.declared["py"].model_copy(update={"environment": {"VERSION": "2"}})
    body, _ = call(lambdas, "py")
    assert body["version"] == "2" and body["calls"] == 1 and body["inits"] == 1
    now = {c.name for c in list_containers(docker_client, mine)}
    assert len(now) == 1 and not now & old


def test_concurrent_invocations_share_at_most_the_functions_concurrency(lambdas):
    results = []
    threads = [threading.Thread(target=lambda: results.append(call(lambdas, "py", {"sleep": 0.8})[0]))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3 and all(r["inits"] == 1 for r in results)
    assert lambdas.pool.count("py") == 2  # the third waited for one of the two


def test_a_timeout_or_a_crash_resets_the_environment(lambdas):
    body, answer = call(lambdas, "py", {"sleep": 10})
    assert answer.function_error == "Unhandled" and body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 3.00 seconds" in body["errorMessage"]
    assert lambdas.pool.count("py") == 0
    body, answer = call(lambdas, "py", {"exit": True})
    assert body["errorType"] == "Runtime.ExitError"
    assert call(lambdas, "py")[0]["calls"] == 1  # a fresh environment


def test_an_answer_past_the_payload_quota_is_an_error_and_resets_the_environment(lambdas):
    first, _ = call(lambdas, "py")
    payload, answer = call(lambdas, "py", {"big": 13 * 1024 * 1024})  # past what is read, by far
    assert answer.function_error == "Unhandled" and payload["errorType"] == "Function.ResponseSizeTooLarge"
    again, _ = call(lambdas, "py")
    assert again["calls"] == 1 and first["calls"] == 1  # a new environment: /tmp is fresh


def test_nodejs_functions_stay_warm_and_a_stray_exception_ends_the_environment(lambdas):
    assert call(lambdas, "js")[0] == {"inits": 1, "calls": 1}
    assert call(lambdas, "js")[0] == {"inits": 1, "calls": 2}
    body, _ = call(lambdas, "js", {"throwLater": True})
    assert body["errorMessage"] == "later"
    time.sleep(0.5)
    assert call(lambdas, "js")[0] == {"inits": 1, "calls": 1}


def test_idle_environments_are_recycled(lambdas, docker_client):
    lambdas.pool.idle_seconds = 0.5
    call(lambdas, "py")
    mine = {"label": [f"pipemu.daemon={lambdas.daemon_id}", "pipemu.function=py"]}
    deadline = time.monotonic() + 10
    while list_containers(docker_client, mine) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert lambdas.pool.count("py") == 0
    assert list_containers(docker_client, mine) == []


def test_an_environment_answers_only_the_daemon_that_holds_its_token(lambdas):
    call(lambdas, "py")
    env = lambdas.pool._envs["py"][0]
    connection = http.client.HTTPConnection(env.host, env.port, timeout=5)
    connection.request("POST", "/invoke", body=b"{}", headers={"X-Pipemu-Token": "guess"})
    assert connection.getresponse().status == 403


def test_an_engine_elsewhere_gets_a_container_per_invocation(tmp_path, docker_client, images, monkeypatch):
    """Its published ports are on its own machine: invocations run cold, through the Docker API."""
    monkeypatch.setenv("DOCKER_HOST", "tcp://engine.example:2376")  # the client below stays the local one
    (tmp_path / "py").mkdir()
    (tmp_path / "py" / "app.py").write_text(PYTHON)
    declared = {"py": Function(runtime="python3.12", handler="app.handler", code=tmp_path / "py", timeout=30)}
    service = Lambdas(client=lambda: docker_client, declared=lambda: declared, deployed=lambda: [],
                      environment=lambda: {}, region="us-east-1", daemon_id=f"pipemu-test-remote-{uuid.uuid4().hex[:8]}")
    try:
        assert not service.warm
        for _ in range(2):
            assert json.loads(service.call(service.find("py"), {}).payload)["calls"] == 1  # a fresh /tmp each time
        assert service.pool.count("py") == 0
    finally:
        service.close()
    assert list_containers(docker_client, {"label": f"pipemu.daemon={service.daemon_id}"}) == []
