"""The CodePipeline API's two wire protocols, as boto3 speaks them: JSON 1.1 (what botocore picks
today) and Smithy RPC v2 CBOR (what the model lists first, and botocore ranks after JSON).

`prefer(protocol)` makes boto3 clients for CodePipeline created inside it speak `protocol`;
`check_answer` holds a successful answer in either protocol against the operation's output
shape, timestamps and blobs as that protocol carries them.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json

import botocore.model
import cbor2

from tests.support.botocore_check import assert_output_valid
from emulator.api import shapes

JSON, CBOR = "json", "smithy-rpc-v2-cbor"
SHORT = {"json": JSON, "cbor": CBOR}

_chosen = {"codepipeline": JSON}
_original = botocore.model.ServiceModel.__dict__["resolved_protocol"]


def _resolved_protocol(model: botocore.model.ServiceModel) -> str:
    # Per service, rather than reordering botocore's PRIORITY_ORDERED_SUPPORTED_PROTOCOLS: that
    # list is global, and CloudWatch's model lists CBOR too (the daemon answers CloudWatch only
    # in JSON 1.0 and the query protocol).
    fixed = model.__dict__.get("_pipemu_protocol")
    if fixed is None:
        wanted = _chosen.get(model.service_name)
        if wanted is not None and wanted in (model.metadata.get("protocols") or ()):
            fixed = wanted
        else:
            fixed = _original.__get__(model, type(model))
        # Asked first when the client is made (its serializer), then on every request (its
        # endpoint and parser): one model, one protocol, whatever is preferred later.
        model.__dict__["_pipemu_protocol"] = fixed
    return fixed


def _set_protocol(model: botocore.model.ServiceModel, protocol: str) -> None:
    model.__dict__["_pipemu_protocol"] = protocol  # a test may still set one model's protocol


# Installed once, on import: a property over botocore's own answer.
botocore.model.ServiceModel.resolved_protocol = property(_resolved_protocol, _set_protocol)


@contextlib.contextmanager
def prefer(protocol: str, service: str = "codepipeline"):
    """boto3 clients for `service` created inside speak `protocol` ("json" or "cbor" accepted)."""
    protocol = SHORT.get(protocol, protocol)
    before = _chosen.get(service)
    _chosen[service] = protocol
    try:
        yield protocol
    finally:
        _chosen[service] = before


def current(service: str = "codepipeline") -> str:
    return _chosen.get(service) or JSON


def _json_form(shape, value, path: str = ""):
    """A decoded CBOR answer in the JSON form the model validator reads; an AssertionError where
    a timestamp is not tag 1 or a blob not a byte string (what botocore's parser needs)."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: _json_form(shape.members.get(k), v, f"{path}.{k}") for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_json_form(shape.member, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if kind == "map" and isinstance(value, dict):
        return {k: _json_form(shape.value, v, f"{path}[{k}]") for k, v in value.items()}
    if kind == "timestamp":
        assert isinstance(value, datetime.datetime), f"{path}: a timestamp must be CBOR tag 1, got {value!r}"
        return value.timestamp()
    if kind == "blob":
        assert isinstance(value, bytes), f"{path}: a blob must be a CBOR byte string, got {value!r}"
        return base64.b64encode(value).decode()
    return value


def json_form(operation: str, status: int, headers, body: bytes) -> dict:
    """An answer's body as the JSON protocol would have carried it (a CBOR success converted by
    the output shape, asserting its timestamps are tag 1; a CBOR error's map as it is). Raises
    ValueError for a body that is not what its protocol says."""
    if headers.get("smithy-protocol") != "rpc-v2-cbor":
        return json.loads(body or b"{}")
    try:
        value = cbor2.loads(body) if body else {}
    except Exception as error:
        raise ValueError(f"not CBOR: {error}") from None
    if status != 200 or not isinstance(value, dict):
        return value
    return _json_form(shapes.service_model().operation_model(operation).output_shape, value)


def check_answer(operation: str, headers, body: bytes) -> None:
    """Assert a 200 answer of `operation` fits its output shape in the protocol it came in
    (`headers`: the answer's, any mapping with lower-case lookups)."""
    if headers.get("smithy-protocol") == "rpc-v2-cbor":
        assert not body or headers.get("content-type") == "application/cbor", headers
        value = cbor2.loads(body) if body else {}
        shape = shapes.service_model().operation_model(operation).output_shape
        assert shape is not None or not body, f"{operation} has no output, yet answered {value!r}"
        assert_output_valid(operation, _json_form(shape, value))
    else:
        assert_output_valid(operation, json.loads(body or b"{}"))
