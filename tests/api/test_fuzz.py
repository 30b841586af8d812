"""A fuzz test of the wire: at least 1,000 malformed requests built from the service model's
input shapes (hypothesis), against the real daemon, in JSON 1.1, and 400 more in Smithy RPC v2
CBOR (the same shapes, plus what only CBOR carries: byte strings, tags, non-text keys). No 5xx,
no crash, the daemon still answers."""

from __future__ import annotations

import datetime
import json

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.api.shapes import modeled_errors, service_model
from emulator.api.wire import COMMON_ERRORS, SUPPORTED
from tests.support.daemon import Daemon, commit, init_repo

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)
NAMES = st.sampled_from(["fuzz-pipeline", "Source", "Gate", "approve", "source", "missing", ""])


def from_shape(shape, depth: int = 0):
    """Values shaped like `shape`, often wrong: a right type with random content, or any JSON."""
    if depth > 4:
        return JSON
    kind = shape.type_name
    if kind == "structure":
        members = {name: from_shape(member, depth + 1) for name, member in shape.members.items()}
        right = st.fixed_dictionaries({}, optional=members)
        with_extra = st.builds(lambda d, k, v: {**d, k: v}, right, st.text(max_size=6), JSON)
        return st.one_of(right, right, with_extra, JSON)
    if kind == "list":
        return st.one_of(st.lists(from_shape(shape.member, depth + 1), max_size=3), JSON)
    if kind == "map":
        return st.one_of(st.dictionaries(st.text(max_size=6), from_shape(shape.value, depth + 1), max_size=3), JSON)
    if kind == "string":
        options = [st.text(max_size=120), NAMES]
        if shape.enum:
            options.append(st.sampled_from(shape.enum))
        return st.one_of(*options, JSON)
    if kind in ("integer", "long"):
        return st.one_of(st.integers(-(2**70), 2**70), JSON)
    if kind == "boolean":
        return st.one_of(st.booleans(), JSON)
    return JSON


def requests():
    model = service_model()
    per_operation = [
        st.tuples(st.just(name), from_shape(model.operation_model(name).input_shape).map(json.dumps))
        for name in SUPPORTED
    ]
    raw = st.tuples(st.sampled_from(SUPPORTED), st.binary(max_size=60).map(lambda b: b.decode("latin-1")))
    return st.one_of(*per_operation, raw)


# What CBOR carries and JSON does not: byte strings, tagged items (tag 1 dates, bignums, tags
# with the wrong content, unknown tags), undefined, integer keys.
CBOR_ONLY = st.recursive(
    st.binary(max_size=12) | st.just(cbor2.undefined) | st.integers(-(2**80), 2**80)
    | st.datetimes(timezones=st.just(datetime.timezone.utc)) | JSON
    | st.builds(cbor2.CBORTag, st.sampled_from([0, 1, 2, 3, 4, 5, 21, 28, 29, 30, 35, 36, 37, 258, 55799, 9999]),
                st.one_of(st.integers(), st.text(max_size=8), st.binary(max_size=8), st.lists(st.integers(), max_size=3))),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6) | st.integers(), children,
                                                                      max_size=3),
    max_leaves=8,
)


def cbor_requests():
    model = service_model()
    shaped = [st.tuples(st.just(name), from_shape(model.operation_model(name).input_shape).map(cbor2.dumps))
              for name in SUPPORTED]
    odd = st.tuples(st.sampled_from(SUPPORTED), CBOR_ONLY.map(lambda value: cbor2.dumps(value)))
    raw = st.tuples(st.sampled_from(SUPPORTED), st.binary(max_size=60))
    return st.one_of(*shaped, odd, odd, raw)


@pytest.fixture(scope="module")
def fuzz_daemon(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    repo = init_repo(root / "repo")
    commit(repo, "c1")
    (root / "pipelines").mkdir()
    (root / "pipelines" / "fuzz.yml").write_text(json.dumps({
        "pipeline": {"name": "fuzz-pipeline", "stages": [
            {"name": "Source", "actions": [{"name": "source", "actionTypeId": {
                "category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
                "configuration": {"RepositoryName": "repo", "BranchName": "main"},
                "outputArtifacts": [{"name": "src"}]}]},
            {"name": "Gate", "actions": [{"name": "approve", "actionTypeId": {
                "category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}}]},
        ]},
        "repositories": {"repo": {"path": str(repo)}},
    }))
    daemon = Daemon(root / "pipelines", root / "state").start()
    yield daemon
    daemon.stop()


@settings(max_examples=1200, deadline=None, suppress_health_check=list(HealthCheck))
@given(request=requests())
def test_malformed_requests_never_5xx(fuzz_daemon, request):
    operation, body = request
    status, answer = fuzz_daemon.post(operation, body)
    assert status < 500, (operation, body, answer)
    if status != 200:
        assert status == 400 and answer["__type"] and answer["message"], answer
        # Only codes the operation models (or the protocol's own): clients catch them by name.
        assert answer["__type"] in modeled_errors(operation) | COMMON_ERRORS, (operation, answer)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(request=cbor_requests())
def test_malformed_cbor_requests_never_5xx(fuzz_daemon, request):
    operation, body = request
    status, answer = fuzz_daemon.post_cbor(operation, body)
    assert status < 500, (operation, body, answer)
    if status != 200:
        code = answer["__type"].rsplit("#", 1)[-1]
        assert status == 400 and code and answer["message"], answer
        assert code in modeled_errors(operation) | COMMON_ERRORS, (operation, answer)


def test_the_daemon_still_answers_after_the_fuzzing(fuzz_daemon):
    assert fuzz_daemon.health()["status"] == "ok"
    names = [p["name"] for p in fuzz_daemon.client().list_pipelines()["pipelines"]]
    assert "fuzz-pipeline" in names
    assert "Traceback" not in fuzz_daemon.log()
