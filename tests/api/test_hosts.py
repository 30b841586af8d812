"""DNS rebinding: the daemon answers only the host names it knows (421 otherwise), and every
answer carries `X-Content-Type-Options: nosniff`."""

from __future__ import annotations

import http.client

import pytest

from emulator.api.hosts import HostAllowList, host_name
from tests.support.daemon import Daemon


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    root = tmp_path_factory.mktemp("hosts")
    (root / "pipelines").mkdir()
    daemon = Daemon(root / "pipelines", root / "state", env={"PIPEMU_ALLOWED_HOSTS": "ci.example, pipemu.internal"}).start()
    yield daemon
    daemon.stop()


def ask(daemon, method: str, path: str, host: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    headers = {"Host": host}
    body = None
    if method == "POST":
        body = b"{}"
        headers.update({"X-Amz-Target": "CodePipeline_20150709.ListPipelines",
                        "Content-Type": "application/x-amz-json-1.1"})
    connection.request(method, path, body=body, headers=headers)
    answer = connection.getresponse()
    answer.body = answer.read()
    connection.close()
    return answer


@pytest.mark.parametrize("method, path", [("POST", "/"), ("GET", "/health"), ("GET", "/ui"), ("GET", "/pipemu/events")])
def test_a_rebound_name_is_refused_before_anything_runs(daemon, method, path):
    answer = ask(daemon, method, path, "rebind.evil.example")
    assert answer.status == 421
    assert b"MisdirectedRequestException" in answer.body and b"--allowed-host" in answer.body
    assert answer.getheader("X-Content-Type-Options") == "nosniff"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "host.docker.internal", "ci.example",
                                  "pipemu.internal", "app.localhost", "172.17.0.1"])
def test_known_names_and_addresses_are_answered_with_nosniff(daemon, host):
    for method, path in (("POST", "/"), ("GET", "/health")):
        answer = ask(daemon, method, path, f"{host}:{daemon.port}")
        assert answer.status == 200, (host, path, answer.body)
        assert answer.getheader("X-Content-Type-Options") == "nosniff"


def test_host_names_are_read_as_browsers_send_them():
    assert host_name("LocalHost:7788") == "localhost"
    assert host_name("[::1]:7788") == "::1"
    assert host_name("::1") == "::1"
    allow = HostAllowList(None, ["pipemu-api", ""])
    assert allow.allowed("pipemu-api:7788") and allow.allowed("10.0.0.5") and not allow.allowed("")
    assert not allow.allowed("localhost.evil.example") and not allow.allowed("evil.example:7788")
