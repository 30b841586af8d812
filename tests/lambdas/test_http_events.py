"""Requests as function URLs and HTTP APIs hand them to functions (lambdas/http.py): routes
chosen in HTTP APIs' order, and the payload 2.0 and 1.0 events AWS documents."""

from __future__ import annotations

import base64

import pytest

from emulator.lambdas.http import _match, event_v1, event_v2

ROUTES = [("GET", "/items", "list"), ("GET", "/items/{id}", "one"), ("ANY", "/files/{proxy+}", "files"),
          ("POST", "/items", "create"), ("ANY", "$default", "fallback")]


@pytest.mark.parametrize("method, path, function", [
    ("GET", "/items", "list"), ("POST", "/items", "create"), ("GET", "/items/42", "one"),
    ("DELETE", "/files/a/b/c.txt", "files"), ("GET", "/items/42/more", "fallback"), ("PUT", "/items", "fallback"),
])
def test_routes_are_chosen_exact_then_patterns_then_default(method, path, function):
    assert _match(ROUTES, method, path) == function


def test_no_default_route_is_no_match():
    assert _match([("GET", "/only", "f")], "GET", "/other") is None


def test_payload_2_0_event():
    event = event_v2("POST", "/orders?id=7&tag=a", {"Content-Type": "application/json", "Cookie": "a=1; b=2",
                                                    "User-Agent": "curl"}, b'{"n": 1}', 8123)
    assert event["version"] == "2.0" and event["rawPath"] == "/orders" and event["rawQueryString"] == "id=7&tag=a"
    assert event["queryStringParameters"] == {"id": "7", "tag": "a"}
    assert event["cookies"] == ["a=1", "b=2"] and "cookie" not in event["headers"]
    assert event["requestContext"]["http"] == {"method": "POST", "path": "/orders", "protocol": "HTTP/1.1",
                                               "sourceIp": "127.0.0.1", "userAgent": "curl"}
    assert (event["body"], event["isBase64Encoded"]) == ('{"n": 1}', False)


def test_binary_bodies_are_base64_and_payload_1_0_has_its_shape():
    event = event_v2("PUT", "/blob", {"Content-Type": "application/octet-stream"}, b"\x00\xff", 1)
    assert event["isBase64Encoded"] and base64.b64decode(event["body"]) == b"\x00\xff"
    old = event_v1("GET", "/items?x=1", {"Accept": "*/*"}, b"", 1)
    assert (old["httpMethod"], old["path"], old["queryStringParameters"], old["body"]) == ("GET", "/items", {"x": "1"}, None)
