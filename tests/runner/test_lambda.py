"""Lambda invocations against the real Docker engine, with the runtime images built offline.

The first run builds the images (debootstrap, about a minute, then pip/npm on the host);
later runs reuse them by tag.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
import uuid
from pathlib import Path

import docker.errors
import pytest

from emulator.runner.lambda_images import (
    NODEJS_TAG, PYTHON_TAG, apt_mirror, default_images, ensure_runtime_image, official_image, runtime_image_tag,
)
from emulator.runner.containers import remove_named
from emulator.runner.lambda_invoke import Invocation, invoke

pytestmark = pytest.mark.docker


class Log(list):
    def __call__(self, line: str) -> None:
        self.append(line)

    @property
    def text(self) -> str:
        return "\n".join(self)


@pytest.fixture(scope="session")
def python_image(docker_client) -> str:
    return ensure_runtime_image(docker_client, "python3.12")


@pytest.fixture(scope="session")
def node_image(docker_client) -> str:
    return ensure_runtime_image(docker_client, "nodejs20.x")


def make_inv(image: str, runtime: str, code_dir: Path, files: dict[str, str], **kw) -> Invocation:
    code_dir.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        (code_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (code_dir / rel).write_text(text)
    request_id = str(uuid.uuid4())
    defaults = dict(
        name=f"pipemu-test-lambda-{uuid.uuid4().hex[:12]}", image=image, runtime=runtime,
        handler="app.handler", code_dir=code_dir, event={"CodePipeline.job": {"id": "job-1"}},
        context={
            "function_name": "my-fn", "function_version": "$LATEST",
            "invoked_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:my-fn",
            "memory_limit_in_mb": 256, "aws_request_id": request_id,
            "log_group_name": "/aws/lambda/my-fn", "log_stream_name": "2024/01/01/[$LATEST]abc",
            "deadline_ms": int(time.time() * 1000) + 60_000,
        },
        environment={"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test",
                     "AWS_SECRET_ACCESS_KEY": "test", "GREETING": "hello"},
        labels={"pipemu.test": "lambda"}, timeout_seconds=60, memory_mb=256,
    )
    defaults.update(kw)
    return Invocation(**defaults)


def assert_removed(client, name: str) -> None:
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(name)


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list

    def do_POST(self):  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.seen.append(self.headers)  # a Message: case-insensitive get
        body = b'{"pipelines": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_codepipeline():
    """An HTTP listener on 0.0.0.0 (containers reach it at host.docker.internal)."""
    server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), _Recorder)
    server.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


# ---------------------------------------------------------------- pure parts

def test_runtime_tags_and_mirror():
    assert runtime_image_tag("python3.9") == runtime_image_tag("python3.13") == PYTHON_TAG
    assert runtime_image_tag("nodejs18.x") == runtime_image_tag("nodejs22.x") == NODEJS_TAG
    with pytest.raises(ValueError):
        runtime_image_tag("java21")
    images = default_images()
    assert images["python3.12"] == PYTHON_TAG and images["nodejs20.x"] == NODEJS_TAG
    assert apt_mirror().startswith("http")


def test_apt_mirror_reads_deb822_and_skips_security(tmp_path):
    d = tmp_path / "etc/apt/sources.list.d"
    d.mkdir(parents=True)
    (d / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\nTypes: deb\nURIs: http://mirror.example/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n")
    assert apt_mirror(tmp_path) == "http://mirror.example/debian"
    (tmp_path / "etc/apt/sources.list").write_text(
        "# comment\ndeb [arch=amd64] http://old.example/debian bookworm main\n")
    assert apt_mirror(tmp_path) == "http://old.example/debian"


def test_existing_tag_is_never_rebuilt(docker_client, busybox_image):
    log = Log()
    assert ensure_runtime_image(docker_client, "python3.11", tag=busybox_image, log=log) == busybox_image
    assert log == []


def test_aws_images_are_named_as_aws_publishes_them():
    assert official_image("python3.12") == "public.ecr.aws/lambda/python:3.12"
    assert official_image("nodejs20.x") == "public.ecr.aws/lambda/nodejs:20"
    assert official_image("java21") is None


def test_offline_the_local_image_runs_and_the_log_says_which_version(docker_client, python_image, monkeypatch):
    """No registry is reachable here: the pull fails once (not again) and the local image runs."""
    import emulator.runner.lambda_images as images

    monkeypatch.setattr(images, "_unreachable", set())
    log = Log()
    assert ensure_runtime_image(docker_client, "python3.12", log=log) == PYTHON_TAG
    assert ensure_runtime_image(docker_client, "python3.12", log=log) == PYTHON_TAG
    assert sum("public.ecr.aws/lambda/python:3.12 could not be pulled" in line for line in log) == 1
    assert "[pipemu] python3.12 runs on pipemu/lambda-python3:latest: Python 3.11 (the image built offline)" in log


# serial: AWS's tag exists engine-wide while it runs, so any other test's python3.12 function
# would run on "AWS's" image (and fail to start once the tag is removed): it runs alone.
@pytest.mark.serial
def test_aws_image_is_used_when_it_is_here(docker_client, python_image, monkeypatch):
    """An image under AWS's name (pulled, or `docker load`ed by the user) is used as is; here it
    is our own image tagged so, as no registry is reachable to pull AWS's."""
    docker_client.images.get(python_image).tag("public.ecr.aws/lambda/python", "3.12")
    try:
        log = Log()
        assert ensure_runtime_image(docker_client, "python3.12", log=log) == "public.ecr.aws/lambda/python:3.12"
        assert log == []
        monkeypatch.setenv("PIPEMU_LAMBDA_IMAGES", "local")
        assert ensure_runtime_image(docker_client, "python3.12", log=log) == PYTHON_TAG
    finally:
        docker_client.images.remove("public.ecr.aws/lambda/python:3.12")


# ---------------------------------------------------------------- python

def test_python_handler_returns_value_with_context_and_env(docker_client, python_image, tmp_path):
    inv = make_inv(python_image, "python3.12", tmp_path / "code", {
        "pkg/__init__.py": "",
        "pkg/app.py": (
            "import os, sys\n"
            "def handler(event, context):\n"
            "    print('hello from the handler')\n"
            "    return {'event': event, 'fn': context.function_name,\n"
            "            'version': context.function_version, 'arn': context.invoked_function_arn,\n"
            "            'mem': context.memory_limit_in_mb, 'rid': context.aws_request_id,\n"
            "            'group': context.log_group_name, 'stream': context.log_stream_name,\n"
            "            'remaining': context.get_remaining_time_in_millis(),\n"
            "            'env': {k: os.environ.get(k) for k in ('GREETING', 'AWS_REGION',\n"
            "                'AWS_LAMBDA_FUNCTION_NAME', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',\n"
            "                'AWS_EXECUTION_ENV', 'LAMBDA_TASK_ROOT', '_HANDLER', 'TZ')},\n"
            "            'cwd': os.getcwd(), 'python': sys.version.split()[0]}\n"),
    }, handler="pkg.app.handler")
    log = Log()
    res = invoke(docker_client, inv, log)
    assert res.succeeded, res
    out = res.result
    ctx = inv.context
    assert out["event"] == inv.event
    assert (out["fn"], out["version"], out["arn"], out["rid"], out["group"], out["stream"]) == (
        "my-fn", "$LATEST", ctx["invoked_function_arn"], ctx["aws_request_id"],
        "/aws/lambda/my-fn", ctx["log_stream_name"])
    assert str(out["mem"]) == "256"
    assert 0 < out["remaining"] <= 60_000
    assert out["env"] == {"GREETING": "hello", "AWS_REGION": "us-east-1",
                          "AWS_LAMBDA_FUNCTION_NAME": "my-fn",
                          "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
                          "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12", "LAMBDA_TASK_ROOT": "/var/task",
                          "_HANDLER": "pkg.app.handler", "TZ": ":UTC"}
    assert out["cwd"] == "/var/task" and out["python"].startswith("3.11")
    assert "hello from the handler" in log
    assert f"START RequestId: {ctx['aws_request_id']} Version: $LATEST" in log
    assert f"END RequestId: {ctx['aws_request_id']}" in log
    assert any(line.startswith(f"REPORT RequestId: {ctx['aws_request_id']}") for line in log)
    assert_removed(docker_client, inv.name)


def test_python_handler_raising(docker_client, python_image, tmp_path):
    inv = make_inv(python_image, "python3.12", tmp_path / "code", {
        "app.py": "class JobFailed(Exception):\n    pass\n"
                  "def handler(event, context):\n    raise JobFailed('bad input artifact')\n"})
    log = Log()
    res = invoke(docker_client, inv, log)
    assert (res.succeeded, res.error_type, res.error_message) == (False, "JobFailed",
                                                                  "bad input artifact")
    error_lines = [json.loads(line) for line in log if line.startswith("{")]
    assert error_lines and error_lines[0]["errorType"] == "JobFailed"
    assert any("raise JobFailed" in frame for frame in error_lines[0]["stackTrace"])


def test_python_import_error(docker_client, python_image, tmp_path):
    inv = make_inv(python_image, "python3.12", tmp_path / "code", {"other.py": ""})
    res = invoke(docker_client, inv, Log())
    assert not res.succeeded and res.error_type == "Runtime.ImportModuleError"
    assert "app" in res.error_message


def test_python_exit_is_a_crash(docker_client, python_image, tmp_path):
    inv = make_inv(python_image, "python3.12", tmp_path / "code", {
        "app.py": "import sys\ndef handler(event, context):\n    print('about to die')\n"
                  "    sys.exit(3)\n"})
    res = invoke(docker_client, inv, Log())
    assert not res.succeeded and res.error_type == "Runtime.ExitError"
    assert "exit status 3" in res.error_message and "about to die" in res.error_message
    assert_removed(docker_client, inv.name)


def test_python_timeout_fails_fast(docker_client, python_image, tmp_path):
    inv = make_inv(python_image, "python3.12", tmp_path / "code", {
        "app.py": "import time\ndef handler(event, context):\n    time.sleep(30)\n"},
        timeout_seconds=2)
    t0 = time.monotonic()
    res = invoke(docker_client, inv, Log())
    assert time.monotonic() - t0 < 15
    assert not res.succeeded and res.error_type == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in res.error_message
    assert_removed(docker_client, inv.name)


def test_python_boto3_honours_endpoint_url(docker_client, python_image, tmp_path,
                                           fake_codepipeline):
    port = fake_codepipeline.server_address[1]
    inv = make_inv(python_image, "python3.12", tmp_path / "code", {
        "app.py": "import boto3\ndef handler(event, context):\n"
                  "    out = boto3.client('codepipeline').list_pipelines()\n"
                  "    return {'pipelines': out['pipelines'], 'boto3': boto3.__version__}\n"},
    )
    inv = make_inv(python_image, "python3.12", inv.code_dir, {}, environment={
        **inv.environment, "AWS_ENDPOINT_URL": f"http://host.docker.internal:{port}"})
    res = invoke(docker_client, inv, Log())
    assert res.succeeded, res
    assert res.result["pipelines"] == []
    targets = [h.get("X-Amz-Target") for h in fake_codepipeline.seen]
    assert "CodePipeline_20150709.ListPipelines" in targets


def test_missing_image_is_a_failure(docker_client, tmp_path):
    inv = make_inv("pipemu/no-such-image:never", "python3.12", tmp_path / "code",
                   {"app.py": "def handler(e, c):\n    return 1\n"})
    res = invoke(docker_client, inv, Log())
    assert not res.succeeded and "no-such-image" in res.error_message


# ---------------------------------------------------------------- node

def test_node_async_handler(docker_client, node_image, tmp_path):
    inv = make_inv(node_image, "nodejs20.x", tmp_path / "code", {
        "index.mjs": (
            "export const handler = async (event, context) => {\n"
            "  console.log('hi from node');\n"
            "  return { event, fn: context.functionName, mem: context.memoryLimitInMB,\n"
            "    arn: context.invokedFunctionArn, rid: context.awsRequestId,\n"
            "    version: context.functionVersion, group: context.logGroupName,\n"
            "    stream: context.logStreamName, wait: context.callbackWaitsForEmptyEventLoop,\n"
            "    remaining: context.getRemainingTimeInMillis(), node: process.version,\n"
            "    greeting: process.env.GREETING, handlerEnv: process.env._HANDLER,\n"
            "    execEnv: process.env.AWS_EXECUTION_ENV, cwd: process.cwd() };\n"
            "};\n"),
    }, handler="index.handler")
    log = Log()
    res = invoke(docker_client, inv, log)
    assert res.succeeded, (res, log.text)
    out = res.result
    assert out["event"] == inv.event and out["fn"] == "my-fn" and out["mem"] == "256"
    assert out["rid"] == inv.context["aws_request_id"] and out["version"] == "$LATEST"
    assert out["arn"] == inv.context["invoked_function_arn"] and out["wait"] is True
    assert out["group"] == "/aws/lambda/my-fn" and 0 < out["remaining"] <= 60_000
    assert (out["greeting"], out["handlerEnv"], out["execEnv"], out["cwd"]) == (
        "hello", "index.handler", "AWS_Lambda_nodejs20.x", "/var/task")
    assert out["node"].startswith("v18.")
    assert "hi from node" in log.text
    assert f"START RequestId: {inv.context['aws_request_id']} Version: $LATEST" in log
    assert f"END RequestId: {inv.context['aws_request_id']}" in log


def test_node_callback_handler(docker_client, node_image, tmp_path):
    inv = make_inv(node_image, "nodejs18.x", tmp_path / "code", {
        "lib/handler.js": (
            "exports.run = function (event, context, callback) {\n"
            "  setTimeout(() => callback(null, { doubled: event.n * 2 }), 50);\n"
            "};\n"),
    }, handler="lib/handler.run", event={"n": 21})
    res = invoke(docker_client, inv, Log())
    assert res.succeeded and res.result == {"doubled": 42}, res


def test_node_callback_error_and_throw(docker_client, node_image, tmp_path):
    inv = make_inv(node_image, "nodejs20.x", tmp_path / "a", {
        "index.js": "exports.handler = (event, context, cb) => cb(new TypeError('nope'));\n"},
        handler="index.handler")
    res = invoke(docker_client, inv, Log())
    assert (res.succeeded, res.error_type, res.error_message) == (False, "TypeError", "nope")

    inv = make_inv(node_image, "nodejs20.x", tmp_path / "b", {
        "index.js": ("class JobError extends Error { constructor(m) { super(m); "
                     "this.name = 'JobError'; } }\n"
                     "exports.handler = async () => { throw new JobError('broken'); };\n")},
        handler="index.handler")
    log = Log()
    res = invoke(docker_client, inv, log)
    assert (res.succeeded, res.error_type, res.error_message) == (False, "JobError", "broken")
    assert any('"errorType":"JobError"' in line for line in log)


def test_node_missing_export(docker_client, node_image, tmp_path):
    inv = make_inv(node_image, "nodejs20.x", tmp_path / "code",
                   {"index.js": "exports.other = async () => 1;\n"}, handler="index.handler")
    res = invoke(docker_client, inv, Log())
    assert not res.succeeded and res.error_type == "Runtime.HandlerNotFound"


def test_node_sdk_honours_endpoint_url(docker_client, node_image, tmp_path, fake_codepipeline):
    port = fake_codepipeline.server_address[1]
    inv = make_inv(node_image, "nodejs20.x", tmp_path / "code", {
        "index.mjs": (
            "import { CodePipelineClient, ListPipelinesCommand } from "
            "'@aws-sdk/client-codepipeline';\n"
            "import { createRequire } from 'module';\n"
            "const require = createRequire(import.meta.url);\n"
            "export const handler = async () => {\n"
            "  require('@aws-sdk/client-codepipeline');\n"
            "  const out = await new CodePipelineClient({}).send(new ListPipelinesCommand({}));\n"
            "  return { pipelines: out.pipelines };\n"
            "};\n"),
    }, handler="index.handler")
    inv = make_inv(node_image, "nodejs20.x", inv.code_dir, {}, handler="index.handler",
                   environment={**inv.environment,
                                "AWS_ENDPOINT_URL": f"http://host.docker.internal:{port}"})
    log = Log()
    res = invoke(docker_client, inv, log)
    assert res.succeeded, (res, log.text)
    assert res.result == {"pipelines": []}
    targets = [h.get("X-Amz-Target") for h in fake_codepipeline.seen]
    assert "CodePipeline_20150709.ListPipelines" in targets


# ---------------------------------------------------------------- cancel and re-attach

def test_cancel_stops_the_invocation(docker_client, python_image, tmp_path):
    inv = make_inv(python_image, "python3.12", tmp_path / "code", {
        "app.py": "import time\ndef handler(event, context):\n"
                  "    print('sleeping', flush=True)\n    time.sleep(60)\n"})
    cancel = threading.Event()
    log = Log()
    timer = threading.Timer(1.5, cancel.set)
    timer.start()
    t0 = time.monotonic()
    res = invoke(docker_client, inv, log, cancel=cancel)
    timer.cancel()
    assert time.monotonic() - t0 < 15
    assert not res.succeeded and res.error_type == "Cancelled"
    assert_removed(docker_client, inv.name)


def test_reattach_to_a_running_invocation(docker_client, python_image, tmp_path):
    inv = make_inv(python_image, "python3.12", tmp_path / "code", {
        "app.py": "import time\ndef handler(event, context):\n"
                  "    print('working', flush=True)\n    time.sleep(3)\n"
                  "    return {'done': event['n']}\n"}, event={"n": 7})
    # A first daemon starts the invocation and dies (the interrupt) while it runs.
    def interrupting_log(line):
        if line == "working":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        invoke(docker_client, inv, interrupting_log)
    assert docker_client.containers.get(inv.name).status == "running"
    # The next daemon re-attaches: the handler is not run a second time.
    log = Log()
    res = invoke(docker_client, inv, log, keep_container=True)
    assert res.succeeded and res.result == {"done": 7}, res
    assert any("re-attaching" in line for line in log)
    assert log.text.count("START RequestId") == 1
    # With keep_container the exited container stays until the caller removes it; invoking
    # again re-attaches to the result instead of running the function again.
    again = invoke(docker_client, inv, Log())
    assert again == res
    assert remove_named(docker_client, inv.name)
    assert remove_named(docker_client, inv.name)  # idempotent
    assert_removed(docker_client, inv.name)
