"""AWS's query protocol, as CloudFormation speaks it: `POST /` with a form body
(`Action=DescribeStacks&Version=2010-05-15&StackName=...`), answered in XML.

The request is read by the operation's input shape in botocore's model (lists as
`Name.member.N`, maps as `Name.entry.N.key/value`), checked against that shape, and the answer is
written by the output shape, the way botocore's query parser reads it back: the result wrapped in
`<OperationResult>`, lists as `<member>` elements, and `<ResponseMetadata><RequestId>`. Errors
are `<ErrorResponse><Error><Type>Sender</Type><Code>...` with HTTP 400.
"""

from __future__ import annotations

import datetime
import functools
import logging
import re
import uuid
from urllib.parse import parse_qsl
from xml.etree import ElementTree as ET

import botocore.model
import botocore.session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from emulator.service import ServiceError

from . import shapes

log = logging.getLogger(__name__)

MAX_LIST = 1000  # members read of one list (CloudFormation's inputs hold a few dozen at most)


@functools.lru_cache(maxsize=None)
def model(service: str) -> botocore.model.ServiceModel:
    return botocore.session.get_session().get_service_model(service)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# ---------------------------------------------------------------- reading the form

def read_form(shape: botocore.model.Shape | None, form: dict[str, str], prefix: str = "") -> dict:
    """The members of `shape` found in the flat form (strings are kept as strings; numbers and
    booleans converted as their shape says, so that the shape check can hold them)."""
    params: dict = {}
    if shape is None:
        return params
    for name, member in shape.members.items():
        key = prefix + member.serialization.get("name", name)
        value = _read(member, form, key)
        if value is not None:
            params[name] = value
    return params


def _read(shape: botocore.model.Shape, form: dict[str, str], key: str):
    if shape.type_name == "structure":
        if not any(k.startswith(key + ".") for k in form):
            return None
        return read_form(shape, form, key + ".")
    if shape.type_name == "list":
        # The indices present, found in one pass over the keys (a scan per index would let a
        # large form hold the event loop for minutes).
        pattern = re.compile(re.escape(key) + r"\.member\.(\d+)(?:\.|$)")
        present = {int(m.group(1)) for k in form if (m := pattern.match(k))}
        items, index = [], 1
        while index in present and index <= MAX_LIST:
            items.append(_read(shape.member, form, f"{key}.member.{index}"))
            index += 1
        return items if items or f"{key}" in form else None
    if shape.type_name == "map":
        result, index = {}, 1
        while f"{key}.entry.{index}.key" in form:
            result[form[f"{key}.entry.{index}.key"]] = _read(shape.value, form, f"{key}.entry.{index}.value")
            index += 1
        return result or None
    if key not in form:
        return None
    text = form[key]
    if shape.type_name in ("integer", "long"):
        return int(text) if re.fullmatch(r"-?\d+", text) else text
    if shape.type_name == "boolean":
        return {"true": True, "false": False}.get(text.lower(), text)
    return text


# ---------------------------------------------------------------- writing the XML

def _element(parent: ET.Element, tag: str, shape: botocore.model.Shape, value) -> None:
    node = ET.SubElement(parent, tag)
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            if isinstance(value, dict) and value.get(name) is not None:
                _element(node, member.serialization.get("name", name), member, value[name])
    elif shape.type_name == "list":
        for item in value:
            _element(node, shape.member.serialization.get("name", "member"), shape.member, item)
    elif shape.type_name == "map":
        for k, v in value.items():
            entry = ET.SubElement(node, "entry")
            ET.SubElement(entry, "key").text = str(k)
            _element(entry, "value", shape.value, v)
    elif shape.type_name == "boolean":
        node.text = "true" if value else "false"
    elif shape.type_name == "timestamp" and isinstance(value, (int, float)):
        node.text = datetime.datetime.fromtimestamp(value, datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    else:
        node.text = str(value)


def to_xml(service: str, operation: str, body: dict, request_id: str) -> bytes:
    op = model(service).operation_model(operation)
    namespace = model(service).metadata.get("xmlNamespace", "")
    root = ET.Element(f"{operation}Response", xmlns=namespace)
    if op.output_shape is not None:
        wrapper = op.output_shape.serialization.get("resultWrapper", f"{operation}Result")
        _element(root, wrapper, op.output_shape, body)
    metadata = ET.SubElement(root, "ResponseMetadata")
    ET.SubElement(metadata, "RequestId").text = request_id
    return ET.tostring(root, encoding="utf-8", xml_declaration=False)


def error_xml(code: str, message: str, status: int = 400, request_id: str | None = None,
              service: str = "cloudformation") -> Response:
    root = ET.Element("ErrorResponse", xmlns=model(service).metadata["xmlNamespace"])
    error = ET.SubElement(root, "Error")
    ET.SubElement(error, "Type").text = "Sender" if status < 500 else "Receiver"
    ET.SubElement(error, "Code").text = code
    ET.SubElement(error, "Message").text = message
    ET.SubElement(root, "RequestId").text = request_id or str(uuid.uuid4())
    return Response(ET.tostring(root, encoding="utf-8"), status_code=status, media_type="text/xml")


# ---------------------------------------------------------------- the endpoint

def service_of_form(raw: bytes, query_string: str = "") -> str:
    """The service a form-encoded request is for: the one whose operation its `Action` names
    (CloudWatch's and CloudFormation's operation names are apart); CloudFormation otherwise."""
    try:
        action = dict(parse_qsl(raw.decode("utf-8"))).get("Action") or dict(parse_qsl(query_string)).get("Action")
    except UnicodeDecodeError:
        return "cloudformation"
    return "cloudwatch" if action in model("cloudwatch").operation_names else "cloudformation"


async def handle(raw: bytes, request: Request, service: str, backend, operations: tuple[str, ...]) -> Response:
    """Answer one query-protocol request for `service` with `backend`'s method of the operation."""
    try:
        form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return error_xml("MalformedQueryString", "The request body is not UTF-8", service=service)
    form.update({k: v for k, v in request.query_params.items() if k not in form})
    action = form.get("Action", "")
    if action not in model(service).operation_names:
        return error_xml("InvalidAction", f"Could not find operation {action} for version "
                                          f"{form.get('Version', '')}".rstrip(), 400, service=service)
    if action not in operations:
        return error_xml("InvalidAction", f"Operation {action} is not supported by pipeline-emulator", 400,
                         service=service)
    op = model(service).operation_model(action)
    params = read_form(op.input_shape, form)
    if op.input_shape is not None:
        violations = shapes.validate_value(op.input_shape, params)
        if violations:
            return error_xml("ValidationError", shapes.first_violation_message(violations), service=service)
    request_id = str(uuid.uuid4())
    try:
        body = await run_in_threadpool(getattr(backend, _snake(action)), params)
    except ServiceError as error:
        return error_xml(error.code, error.message, error.status, request_id, service)
    except Exception:  # a bug of ours: say so in AWS's words, keep serving
        log.exception("%s failed", action)
        return error_xml("InternalFailure", f"{action} failed inside pipeline-emulator", 500, request_id, service)
    return Response(to_xml(service, action, body, request_id), media_type="text/xml",
                    headers={"x-amzn-RequestId": request_id})
