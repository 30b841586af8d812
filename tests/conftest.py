"""Shared fixtures. Docker tests need a real engine: in CI (CI=true) a missing engine fails them."""

from __future__ import annotations

import os

import pytest

from tests.e2e import article_pipeline
from tests.support.environment import unavailable
from tests.support import protocols
from tests.support.daemon import Daemon, commit, init_repo


def _docker_client():
    import docker

    try:
        client = docker.from_env(timeout=120)
        client.ping()
        return client
    except Exception as exc:  # the engine is missing or not running
        unavailable(f"no Docker engine: {exc}")


@pytest.fixture(scope="session")
def docker_client():
    return _docker_client()


@pytest.fixture(scope="session")
def busybox_image(docker_client) -> str:
    """A busybox image built locally (never pulled), reused by tag."""
    from emulator.runner.images import ensure_busybox_image

    return ensure_busybox_image(docker_client)


@pytest.fixture(scope="session")
def python_image(docker_client) -> str:
    """A Python image with boto3 (the Lambda runtime's, built offline once): a container that
    calls the API as AWS's SDK does, signed."""
    from emulator.runner.lambda_images import ensure_runtime_image

    return ensure_runtime_image(docker_client, "python3.12")


@pytest.fixture
def service_repo(tmp_path):
    repo = init_repo(tmp_path / "repo")
    commit(repo, "initial", {"initial.txt": "initial\n"})
    return repo


@pytest.fixture
def article_daemon(tmp_path, service_repo, busybox_image):
    """The daemon serving the article's service pipeline `svc-pipeline` (no automatic starts)."""
    article_pipeline.write(tmp_path / "pipelines", article_pipeline.service_pipeline("svc-pipeline", service_repo, busybox_image))
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    yield daemon
    daemon.stop()


def pytest_addoption(parser):
    parser.addoption("--api-protocol", choices=("json", "cbor", "both"), default=None,
                     help="the protocol boto3 speaks to CodePipeline in every test (default: JSON 1.1, "
                          "and both in tests marked both_protocols)")


def pytest_configure(config):
    config.addinivalue_line("markers", "both_protocols: run the test with boto3 over JSON 1.1 and over "
                                       "Smithy RPC v2 CBOR (the api_protocol fixture)")


def pytest_generate_tests(metafunc):
    """Tests marked both_protocols run twice, [json] and [cbor]; `--api-protocol` runs every test
    over the one given (or both)."""
    if "api_protocol" not in metafunc.fixturenames:
        return
    forced = metafunc.config.getoption("--api-protocol")
    if forced == "both" or (forced is None and metafunc.definition.get_closest_marker("both_protocols")):
        metafunc.parametrize("api_protocol", ["json", "cbor"], indirect=True)
    elif forced is not None:
        metafunc.parametrize("api_protocol", [forced], indirect=True)


@pytest.fixture(autouse=True)
def api_protocol(request):
    """The protocol boto3 clients for CodePipeline made during the test speak ("json" or "cbor");
    made before the test (module-scoped fixtures) they speak JSON 1.1."""
    protocol = getattr(request, "param", "json")
    with protocols.prefer(protocol):
        yield protocol


SERIAL_MARKERS = ("serial", "engine_restart")
ALONE = ("runs alone (marked serial or engine_restart): scripts/test.sh's serial step, or pytest -m "
         "'serial or engine_restart' without -n")
_REFUSED = pytest.StashKey[str]()


@pytest.fixture(autouse=True)
def _not_on_a_worker(request):
    """A serial test collected on a pytest-xdist worker under CI=true fails (ALONE says why)."""
    reason = request.node.stash.get(_REFUSED, None)
    if reason:
        pytest.fail(reason)


def _serial(item) -> bool:
    return any(item.get_closest_marker(name) is not None for name in SERIAL_MARKERS)


def pytest_collection_modifyitems(session, config, items):
    """The engine-restart test stops and starts dockerd: it runs after every other test (a stable
    sort keeps the rest in their order).

    Tests marked `serial` or `engine_restart` never share the machine with other tests:
    scripts/test.sh runs the suite in two steps, PIPEMU_TEST_STEP=parallel (`pytest -n N`, every
    other test) then PIPEMU_TEST_STEP=serial (those alone, one at a time); each step keeps only
    its own tests whatever `-m` the user's arguments add. A plain `pytest -n N` (a pytest-xdist
    worker, outside scripts/test.sh) skips them, saying where they run."""
    step = os.environ.get("PIPEMU_TEST_STEP", "")
    if step in ("parallel", "serial"):
        keep = [item for item in items if _serial(item) == (step == "serial")]
        dropped = [item for item in items if _serial(item) != (step == "serial")]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = keep
    elif os.environ.get("PYTEST_XDIST_WORKER"):
        for item in items:
            if _serial(item):
                if os.environ.get("CI", "").lower() == "true":  # CI skips nothing: the test fails, saying why
                    item.stash[_REFUSED] = ALONE
                else:
                    item.add_marker(pytest.mark.skip(reason=ALONE))
    items.sort(key=lambda item: item.get_closest_marker("engine_restart") is not None)
