"""Functions over HTTP, as a function URL or an HTTP API puts them: each endpoint a stack makes
(AWS::Lambda::Url, SAM's FunctionUrlConfig, SAM's HttpApi and Api events) listens on a port of
127.0.0.1. A request becomes the event AWS sends (payload format 2.0 for function URLs and HTTP
APIs, 1.0 for REST APIs), the function runs warm, and its answer becomes the HTTP response as
AWS maps it: a result with `statusCode` gives status, headers, cookies and body; any other
result is sent as JSON with status 200; a function error is a 502.

An endpoint keeps its port across deploys and restarts when the port is still free (the stack's
record holds it), so a URL a test read stays good.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qsl, urlsplit

from .functions import PAYLOAD_LIMIT

log = logging.getLogger(__name__)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Endpoints:
    def __init__(self, invoke: Callable[[str, dict], tuple[object, str | None]]) -> None:
        """`invoke(function name, event)` -> (the result or error payload, the function error)."""
        self._invoke = invoke
        self._servers: dict[tuple[str, str], _Server] = {}  # (stack, logical id) -> server
        self._lock = threading.Lock()

    def open(self, stack: str, logical: str, routes: list, payload: str, port: int | None = None) -> int:
        """Serve the endpoint, on `port` if it is free (else on a new one); its port."""
        self.close(stack, logical)
        handler = _handler(self._invoke, [tuple(r) for r in routes], payload)
        try:
            server = _Server(("127.0.0.1", port or 0), handler)
        except OSError:
            log.warning("port %s of %s.%s is taken: it gets a new one", port, stack, logical)
            server = _Server(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, name=f"endpoint-{stack}-{logical}", daemon=True).start()
        with self._lock:
            self._servers[(stack, logical)] = server
        return server.server_address[1]

    def close(self, stack: str, logical: str | None = None) -> None:
        """Stop serving the stack's endpoint `logical` (every endpoint of the stack: None)."""
        with self._lock:
            keys = [k for k in self._servers if k[0] == stack and logical in (None, k[1])]
            servers = [self._servers.pop(k) for k in keys]
        for server in servers:
            server.shutdown()
            server.server_close()

    def close_all(self) -> None:
        with self._lock:
            stacks = {k[0] for k in self._servers}
        for stack in stacks:
            self.close(stack)

    def port(self, stack: str, logical: str) -> int | None:
        with self._lock:
            server = self._servers.get((stack, logical))
        return server.server_address[1] if server else None


def _match(routes: list, method: str, path: str) -> str | None:
    """The function of the route a request takes: exact path, then `{param}` and `{proxy+}`
    patterns, then `$default` (HTTP APIs' own order)."""
    best = None
    for route_method, route_path, function in routes:
        if route_method not in ("ANY", method):
            continue
        if route_path == path:
            return function
        pattern = re.sub(r"\\\{[^}/]+\\\+\\\}", ".+", re.sub(r"\\\{[^}/+]+\\\}", "[^/]+", re.escape(route_path)))
        if route_path != "$default" and re.fullmatch(pattern, path):
            best = best or function
    return best or next((f for m, p, f in routes if p == "$default" and m in ("ANY", method)), None)


def event_v2(method: str, target: str, headers: dict, body: bytes, port: int) -> dict:
    parts = urlsplit(target)
    lowered = {k.lower(): v for k, v in headers.items()}
    text, encoded = _body(body, lowered.get("content-type", ""))
    now = time.time()
    event = {
        "version": "2.0", "routeKey": "$default", "rawPath": parts.path or "/", "rawQueryString": parts.query,
        "headers": lowered,
        "requestContext": {
            "accountId": "anonymous", "apiId": f"pipemu{port}", "domainName": f"127.0.0.1:{port}",
            "domainPrefix": "127", "http": {"method": method, "path": parts.path or "/", "protocol": "HTTP/1.1",
                                             "sourceIp": "127.0.0.1", "userAgent": lowered.get("user-agent", "")},
            "requestId": str(uuid.uuid4()), "routeKey": "$default", "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), "timeEpoch": int(now * 1000)},
        "isBase64Encoded": encoded,
    }
    if "cookie" in lowered:
        event["cookies"] = [c.strip() for c in lowered.pop("cookie").split(";")]
    if parts.query:
        event["queryStringParameters"] = dict(parse_qsl(parts.query, keep_blank_values=True))
    if body:
        event["body"] = text
    return event


def event_v1(method: str, target: str, headers: dict, body: bytes, port: int) -> dict:
    parts = urlsplit(target)
    text, encoded = _body(body, {k.lower(): v for k, v in headers.items()}.get("content-type", ""))
    query = dict(parse_qsl(parts.query, keep_blank_values=True)) or None
    return {"resource": parts.path or "/", "path": parts.path or "/", "httpMethod": method, "headers": dict(headers),
            "queryStringParameters": query, "pathParameters": None, "stageVariables": None,
            "requestContext": {"httpMethod": method, "path": parts.path or "/", "stage": "Prod",
                               "requestId": str(uuid.uuid4()), "identity": {"sourceIp": "127.0.0.1"}},
            "body": text if body else None, "isBase64Encoded": encoded}


def _body(body: bytes, content_type: str) -> tuple[str, bool]:
    if content_type.startswith(("text/", "application/json", "application/xml", "application/x-www-form-urlencoded")):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return (base64.b64encode(body).decode(), True) if body else ("", False)


class _TooLarge(Exception):
    pass


def _handler(invoke, routes: list, payload: str):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            try:
                self._route()
            except _TooLarge:  # as a function URL answers; the rest of the body is not read
                self.close_connection = True
                self._send(413, {"Content-Type": "application/json"}, b'{"message":"Request Entity Too Large"}')
            except Exception as exc:  # never a dropped connection: an answer AWS would give
                log.warning("endpoint request failed: %s", exc)
                self._send(502, {"Content-Type": "application/json"}, b'{"message":"Internal Server Error"}')

        def _read_body(self) -> bytes:
            """The request's body, up to Lambda's payload quota (else _TooLarge, before reading more)."""
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks, total = [], 0
                while (size := int(self.rfile.readline(64).split(b";")[0].strip() or b"0", 16)) > 0:
                    total += size
                    if total > PAYLOAD_LIMIT:
                        raise _TooLarge()
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline(64)
                while self.rfile.readline(8192).strip():  # trailers
                    pass
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            if length > PAYLOAD_LIMIT:
                raise _TooLarge()
            return self.rfile.read(length) if length > 0 else b""

        def _route(self) -> None:
            body = self._read_body()
            path = urlsplit(self.path).path or "/"
            function = _match(routes, self.command, path)
            if function is None:
                return self._send(404, {"Content-Type": "application/json"}, b'{"message":"Not Found"}')
            port = self.server.server_address[1]
            make = event_v2 if payload == "2.0" else event_v1
            result, error = invoke(function, make(self.command, self.path, dict(self.headers.items()), body, port))
            if error:
                return self._send(502, {"Content-Type": "application/json"}, b'{"message":"Internal Server Error"}')
            self._answer(result)

        def _answer(self, result) -> None:
            if isinstance(result, dict) and "statusCode" in result:
                headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
                body = result.get("body") or ""
                data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
                cookies = result.get("cookies") or []
                status = int(result["statusCode"])  # not a number: the caller answers 502
                if not 100 <= status <= 599:
                    raise ValueError(f"statusCode {status}")
                return self._send(status, headers, data, cookies)
            data = (result if isinstance(result, str) else json.dumps(result)).encode()
            self._send(200, {"Content-Type": "application/json"}, data)

        def _send(self, status: int, headers: dict, data: bytes, cookies=()) -> None:
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(key, value)
            for cookie in cookies:
                self.send_header("Set-Cookie", cookie)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":  # a HEAD answer has the headers of a GET, no body
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

        def log_message(self, *args) -> None:
            pass

    return Handler
