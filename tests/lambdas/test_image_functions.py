"""Image functions (PackageType Image): the image holds the code and names the handler in its
CMD (or the template's ImageConfig.Command); pipemu finds its interpreter and runs it, warm
through the API and once for an action."""

from __future__ import annotations

import io
import json
import uuid

import pytest

from emulator.lambdas.functions import FunctionConfig
from emulator.lambdas.service import Lambdas
from emulator.runner.lambda_images import ensure_runtime_image

pytestmark = pytest.mark.docker

APP = "def handler(event, context):\n    return {'from': 'image', 'event': event}\n\ndef other(event, context):\n    return 'other'\n"


@pytest.fixture(scope="module")
def image(docker_client):
    base = ensure_runtime_image(docker_client, "python3.12")
    tag = f"pipemu-test/image-function:{uuid.uuid4().hex[:8]}"  # removed after: never a shared tag
    context = io.BytesIO()
    import tarfile

    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, text in (("Dockerfile", f'FROM {base}\nCOPY app.py /var/task/app.py\nCMD ["app.handler"]\n'),
                           ("app.py", APP)):
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    context.seek(0)
    docker_client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True)
    yield tag
    docker_client.images.remove(tag, force=True)


def service(docker_client, functions: list[FunctionConfig]) -> Lambdas:
    return Lambdas(client=lambda: docker_client, declared=lambda: {}, deployed=lambda: functions,
                   environment=lambda: {}, region="us-east-1", daemon_id=f"pipemu-test-images-{uuid.uuid4().hex[:8]}")


def test_an_image_function_runs_its_cmd_warm_and_once(docker_client, image):
    fn = FunctionConfig(name="img", runtime=None, handler=None, code_dir=None, image=image, timeout=30)
    lambdas = service(docker_client, [fn])
    try:
        answer = lambdas.call(lambdas.find("img"), {"n": 1})
        assert json.loads(answer.payload) == {"from": "image", "event": {"n": 1}}
        result = lambdas.invoke(fn, {"n": 2}, container="pipemu-test-image-once")
        assert result.succeeded and result.result == {"from": "image", "event": {"n": 2}}
        assert fn.configuration("us-east-1")["PackageType"] == "Image"
    finally:
        lambdas.close()


def test_image_config_command_overrides_the_cmd_and_a_missing_image_says_so(docker_client, image):
    other = FunctionConfig(name="other", runtime=None, handler="app.other", code_dir=None, image=image, timeout=30)
    missing = FunctionConfig(name="gone", runtime=None, handler=None, code_dir=None,
                             image="123456789012.dkr.ecr.us-east-1.amazonaws.com/nope:latest", timeout=30)
    lambdas = service(docker_client, [other, missing])
    try:
        assert json.loads(lambdas.call(lambdas.find("other"), {}).payload) == "other"
        answer = lambdas.call(lambdas.find("gone"), {})
        error = json.loads(answer.payload)
        assert answer.function_error == "Unhandled" and error["errorType"] == "Runtime.ImageNotFound"
        assert "is not here and could not be pulled" in error["errorMessage"]
    finally:
        lambdas.close()
