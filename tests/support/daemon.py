"""Start the real daemon (`python -m emulator.cli serve`) as a process, and talk to it with boto3."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import boto3
import cbor2
from botocore.config import Config

from tests.support import protocols
from emulator.testing.daemon import Daemon as _Daemon, commit, free_port, git, init_repo  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


class Daemon(_Daemon):
    """The product's Daemon (emulator/testing/daemon.py), whose clients check every answer
    against botocore's model and speak the protocol the test runs over."""

    def client(self, access_key: str = "testing", secret_key: str = "testing", protocol: str | None = None):
        """A boto3 client whose every successful response body is held against botocore's model.
        It speaks `protocol` ("json" or "cbor"), by default the one the test runs over (the
        `api_protocol` fixture, tests/conftest.py)."""
        with protocols.prefer(protocol or protocols.current()):
            client = boto3.client(
                "codepipeline",
                endpoint_url=self.endpoint,
                region_name="us-east-1",
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                config=Config(retries={"max_attempts": 1}),
            )
        client.meta.events.register("after-call.codepipeline", _check_response)
        return client

    def post(self, operation: str, body: bytes | str, target_prefix: str = "CodePipeline_20150709.") -> tuple[int, dict]:
        """A raw JSON 1.1 request, for what boto3 would refuse to send."""
        request = urllib.request.Request(
            self.endpoint + "/",
            data=body.encode() if isinstance(body, str) else body,
            headers={"X-Amz-Target": target_prefix + operation, "Content-Type": "application/x-amz-json-1.1"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def post_cbor(self, operation: str, body: bytes, headers: dict | None = None) -> tuple[int, object]:
        """A raw Smithy RPC v2 CBOR request; the status and the decoded CBOR answer (None if empty)."""
        request = urllib.request.Request(
            f"{self.endpoint}/service/CodePipeline_20150709/operation/{operation}", data=body, method="POST",
            headers={"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor",
                     "Accept": "application/cbor", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status, raw = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        return status, cbor2.loads(raw) if raw else None


def _check_response(http_response, model, **_):
    if http_response.status_code == 200:
        protocols.check_answer(model.name, http_response.headers, http_response.content)
