"""Pipeline declarations generated from botocore's own service model, sent through real boto3 to
the real daemon: CreatePipeline, GetPipeline, UpdatePipeline (a changed copy), GetPipeline,
DeletePipeline.

- Valid by the model only: the daemon may refuse one, with one of the operation's modeled errors
  (or ValidationException), never with a 5xx.
- Valid as AWS accepts them (tests/support/declarations.py): every call succeeds, and the
  `pipeline` answered is the one sent plus AWS's defaults (`as_answered`).

Every answer, success or error, is held against the model's output (or error) shape, from the raw
body. Distinct failures are raised as distinct exception types (`fault`), so that hypothesis
reports each with its own smallest declaration.
"""

from __future__ import annotations

import json
import re

import boto3
import pytest
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.api.shapes import ShapeViolation, service_model, validate_value
from tests.support.botocore_check import assert_output_valid
from tests.support import protocols
from tests.support.daemon import Daemon
from tests.support.declarations import (
    REGION,
    as_answered,
    aws_declarations,
    changed_copy,
    model_create_input,
    model_declaration,
)

# The model's strategies are large: hypothesis warns when it prints one (in a filter's event).
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")
MODEL = service_model()
SETTINGS = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                           HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    root = tmp_path_factory.mktemp("declarations")
    (root / "pipelines").mkdir()  # empty: every pipeline here comes through the API
    daemon = Daemon(root / "pipelines", root / "state").start()
    yield daemon
    daemon.stop()


_FAULTS: dict[str, type[AssertionError]] = {}


def fault(kind: str) -> type[AssertionError]:
    """The exception type of one kind of failure (one type per kind, for hypothesis)."""
    if kind not in _FAULTS:
        _FAULTS[kind] = type(re.sub(r"\W+", "_", kind).strip("_"), (AssertionError,), {"kind": kind})
    return _FAULTS[kind]


def crash_site(log: str) -> tuple[str, str]:
    """Where the daemon's last traceback in `log` was raised ("file:line Exception"), and its text."""
    tracebacks = log.split("Traceback (most recent call last):")
    if len(tracebacks) < 2:
        return "", ""
    text = tracebacks[-1]
    frames = re.findall(r'File "([^"]+)", line (\d+)', text)
    exception = re.search(r"^(\w[\w.]*(?:Error|Exception|Exit|Interrupt|Warning))\b.*$", text, re.M)
    where = f"{frames[-1][0].rsplit('/', 1)[-1]}:{frames[-1][1]}" if frames else ""
    return f"{where} {exception.group(1) if exception else ''}".strip(), "Traceback (most recent call last):" + text


def error_code(body: dict) -> str:
    return str(body.get("__type", "")).rsplit("#", 1)[-1]


class Wire:
    """boto3 on the daemon, no retries (a 500 is seen once), speaking `protocol` (JSON 1.1 or
    Smithy RPC v2 CBOR); each call gives the raw status and body (in the JSON form), held against
    the operation's model."""

    def __init__(self, daemon: Daemon, protocol: str = "json"):
        self.daemon, self.protocol = daemon, protocol
        with protocols.prefer(protocol):
            self.client = boto3.client(
                "codepipeline", endpoint_url=daemon.endpoint, region_name=REGION,
                aws_access_key_id="testing", aws_secret_access_key="testing",
                config=Config(retries={"max_attempts": 0}),
            )
        self.client.meta.events.register("after-call.codepipeline", self._keep)
        self.answer: tuple[int, object, bytes] | None = None

    def _keep(self, http_response, **_):
        self.answer = (http_response.status_code, http_response.headers, http_response.content)

    def __call__(self, operation: str, **params) -> tuple[int, dict]:
        self.answer = None
        log_size = self.daemon.log_path.stat().st_size if self.daemon.log_path.exists() else 0
        try:
            getattr(self.client, xform_name(operation))(**params)
        except ClientError:
            pass
        status, headers, raw = self.answer
        if (headers.get("smithy-protocol") == "rpc-v2-cbor") != (self.protocol == "cbor"):
            raise fault(f"{operation} answered in the other protocol")(f"{operation} answered {headers}")
        try:
            body = protocols.json_form(operation, status, headers, raw)
        except (ValueError, AssertionError):
            raise fault(f"{operation} {status} not its protocol's")(
                f"{operation} answered {status}: {raw[:500]!r}") from None
        if status >= 500:  # one kind of failure per place in the daemon that raised
            with open(self.daemon.log_path, "rb") as log:
                log.seek(log_size)
                where, traceback = crash_site(log.read().decode(errors="replace"))
            raise fault(f"{operation} {status} {error_code(body)} {where}")(
                f"{operation} answered {status}: {body}\n{traceback}")
        check_answer(operation, status, body)
        return status, body

    def ok(self, operation: str, **params) -> dict:
        status, body = self(operation, **params)
        if status != 200:  # one kind of failure per code and member named first in the message
            member = re.match(r"[\w.\[\]]+(?=: )", str(body.get("message", "")))
            where = re.sub(r"\[\d+\]", "[]", member.group(0)) if member else ""
            raise fault(f"{operation} refused {status} {error_code(body)} {where}")(
                f"{operation} answered {status} {body} to a declaration AWS accepts")
        return body

    def forget(self, name: str) -> None:
        """Delete whatever an interrupted example left (unchecked: the example already failed)."""
        try:
            self.daemon.post("DeletePipeline", json.dumps({"name": name}))
        except Exception:
            pass


def check_answer(operation: str, status: int, body: dict) -> None:
    """A success fits the output shape; an error is a 4xx of the operation's modeled errors (or
    ValidationException) whose body fits that error's shape; never a 5xx."""
    if status == 200:
        try:
            assert_output_valid(operation, body)
        except AssertionError as error:
            raise fault(f"{operation} output shape")(str(error)) from None
        return
    code = error_code(body)
    if status >= 500:
        raise fault(f"{operation} {status} {code}")(f"{operation} answered {status}: {body}")
    errors = {e.metadata.get("error", {}).get("code", e.name): e for e in MODEL.operation_model(operation).error_shapes}
    errors.setdefault("ValidationException", MODEL.shape_for("ValidationException"))
    if not 400 <= status < 500 or code not in errors:
        raise fault(f"{operation} {status} unmodeled {code}")(
            f"{operation} answered {status} {body}: not one of its modeled errors {sorted(errors)}")
    # AWS's error bodies carry a message whether the error's shape declares one or not.
    rest = {k: v for k, v in body.items() if k not in ("__type", "message")}
    violations = validate_value(errors[code], rest, output=True)
    if not isinstance(body.get("message", ""), str):
        violations.append(ShapeViolation("message", "expected string"))
    if violations:
        raise fault(f"{operation} {code} error shape")(
            f"{operation}'s {code} body {body} violates the model: "
            + "; ".join(f"{v.path}: {v.message}" for v in violations))


def differences(expected, actual, path: str = "pipeline") -> list[str]:
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for key in sorted(expected.keys() | actual.keys()):
            where = f"{path}.{key}"
            if key not in actual:
                out.append(f"{where}: missing (expected {expected[key]!r})")
            elif key not in expected:
                out.append(f"{where}: unexpected {actual[key]!r}")
            else:
                out += differences(expected[key], actual[key], where)
        return out
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [d for i, (e, a) in enumerate(zip(expected, actual)) for d in differences(e, a, f"{path}[{i}]")]
    return [] if expected == actual else [f"{path}: expected {expected!r}, answered {actual!r}"]


def assert_answered(operation: str, answer: dict, expected: dict, of: str = "the pipeline written") -> None:
    """`answer`'s pipeline is `expected` (a difference is a fault of its own per first path)."""
    found = differences(expected, answer.get("pipeline"))
    if found:
        first = re.sub(r"\[\d+\]", "[]", found[0].split(":", 1)[0])
        raise fault(f"{operation} answer {first}")(
            f"{operation}'s pipeline differs from {of}:\n  " + "\n  ".join(found))


def assert_as_sent(operation: str, answer: dict, expected: dict) -> None:
    assert_answered(operation, answer, expected, of="what was sent plus AWS's defaults")


@pytest.fixture(scope="module", params=["json", "cbor"])
def wire(daemon, request):
    """Both protocols boto3 can speak to CodePipeline: the model's shapes hold over each."""
    return Wire(daemon, request.param)


@SETTINGS
@given(create=model_create_input(), data=st.data())
def test_model_valid_declarations_are_refused_only_with_modeled_errors(wire, create, data):
    name = create["pipeline"]["name"]
    try:
        status, created = wire("CreatePipeline", **create)
        if status == 200:  # what was written is what is read
            assert_answered("GetPipeline", wire("GetPipeline", name=name)[1], created["pipeline"])
            status, updated = wire("UpdatePipeline", pipeline=data.draw(model_declaration(create["pipeline"]),
                                                                         label="update"))
            assert_answered("GetPipeline", wire("GetPipeline", name=name)[1],
                            updated["pipeline"] if status == 200 else created["pipeline"])
        wire("DeletePipeline", name=name)
    finally:
        wire.forget(name)


@SETTINGS
@given(declaration=aws_declarations(), data=st.data())
def test_declarations_aws_accepts_are_accepted_and_answered_as_aws_does(wire, declaration, data):
    name = declaration["name"]
    try:
        assert_as_sent("CreatePipeline", wire.ok("CreatePipeline", pipeline=declaration), as_answered(declaration, 1))
        assert_as_sent("GetPipeline", wire.ok("GetPipeline", name=name), as_answered(declaration, 1))
        changed = data.draw(changed_copy(declaration), label="update")
        assert_as_sent("UpdatePipeline", wire.ok("UpdatePipeline", pipeline=changed), as_answered(changed, 2))
        assert_as_sent("GetPipeline", wire.ok("GetPipeline", name=name), as_answered(changed, 2))
        assert_as_sent("GetPipeline", wire.ok("GetPipeline", name=name, version=1), as_answered(declaration, 1))
        wire.ok("DeletePipeline", name=name)
        status, body = wire("GetPipeline", name=name)
        if error_code(body) != "PipelineNotFoundException":
            raise fault("GetPipeline after DeletePipeline")(
                f"GetPipeline of a deleted pipeline answered {status} {body}")
    finally:
        wire.forget(name)
