"""Inputs streamed through a container's stdin (runner/streaming.py): the build sees them as with
put_archive, a build step reading stdin does not wait, an image without tar or root gets put_archive, and
a container whose inputs never arrived whole is run afresh, not re-attached to."""

from __future__ import annotations

import io
import uuid

import pytest

from emulator.runner import streaming
from emulator.runner.codebuild import run_build
from tests.runner.test_codebuild import Log, make_job

pytestmark = pytest.mark.docker

READS = {"version": 0.2, "phases": {"build": {"commands": ["cat input.txt", "cat", "echo done"]}}}


@pytest.fixture(scope="module")
def no_tar_image(docker_client):
    """A Debian image without tar (busybox's shell would find its tar applet anyway)."""
    from emulator.runner.lambda_images import ensure_runtime_image

    base = ensure_runtime_image(docker_client, "python3.12")
    tag = f"pipemu-test/debian-without-tar:{uuid.uuid4().hex[:8]}"  # removed after: never a shared tag
    dockerfile = f"FROM {base}\nRUN [\"rm\", \"-f\", \"/usr/bin/tar\"]\n"
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    yield tag
    docker_client.images.remove(tag, force=True)


def test_streamed_inputs_arrive_and_stdin_is_empty_for_the_build(docker_client, busybox_image, tmp_path):
    assert streaming.can_stream(docker_client, busybox_image)
    job = make_job(busybox_image, tmp_path, READS, outputs=[])
    (job.primary_input / "input.txt").write_text("streamed in\n")
    log = Log()
    result = run_build(docker_client, job, log)
    assert result.succeeded, (result.message, log)
    assert "streamed in" in log and "done" in log
    created = [c for c in docker_client.api.containers(all=True, filters={"name": job.name})]
    assert created == []  # removed


def test_an_image_without_tar_gets_put_archive(docker_client, no_tar_image, tmp_path):
    assert not streaming.can_stream(docker_client, no_tar_image)
    job = make_job(no_tar_image, tmp_path, READS, outputs=[])
    (job.primary_input / "input.txt").write_text("put in\n")
    log = Log()
    result = run_build(docker_client, job, log)
    assert result.succeeded, (result.message, log)
    assert "put in" in log


def cut_container(docker_client, image: str, name: str) -> None:
    """What a daemon that died while it wrote the inputs leaves: a container that got half a tar
    and gave up before running anything."""
    cut = docker_client.containers.create(image, streaming.command("sh", ["echo", "ran anyway"]),
                                          name=name, **streaming.create_kwargs())
    attached = docker_client.api.attach_socket(cut.id, params={"stdin": 1, "stream": 1})
    cut.start()
    attached._sock.sendall(b"not a whole tar archive" * 50)
    attached._sock.shutdown(1)
    attached.close()
    assert cut.wait(timeout=30)["StatusCode"] == streaming.INCOMPLETE
    assert b"ran anyway" not in cut.logs() and streaming.cut_short(docker_client.containers.get(name))


def test_a_container_whose_inputs_were_cut_is_run_afresh(docker_client, busybox_image, tmp_path):
    job = make_job(busybox_image, tmp_path, READS, outputs=[])
    (job.primary_input / "input.txt").write_text("whole\n")
    cut_container(docker_client, busybox_image, job.name)
    log = Log()
    result = run_build(docker_client, job, log)
    assert result.succeeded, (result.message, log)
    assert "whole" in log and not any("re-attaching" in line for line in log)


def test_a_function_whose_inputs_were_cut_is_invoked_afresh(docker_client, tmp_path):
    """The same for an Invoke action's one-shot container: its code and event come in whole."""
    from emulator.runner.lambda_images import ensure_runtime_image
    from emulator.runner.lambda_invoke import invoke
    from tests.runner.test_lambda import make_inv

    image = ensure_runtime_image(docker_client, "python3.12")
    inv = make_inv(image, "python3.12", tmp_path / "code",
                   {"app.py": "def handler(event, context):\n    return {'job': event['CodePipeline.job']['id']}\n"})
    cut_container(docker_client, image, inv.name)
    log = Log()
    result = invoke(docker_client, inv, log)
    assert result.succeeded and result.result == {"job": "job-1"}, (result, log)
    assert not any("re-attaching" in line for line in log)


def test_a_function_that_itself_exits_86_is_not_taken_for_cut_inputs(docker_client, tmp_path):
    from emulator.runner.lambda_images import ensure_runtime_image
    from emulator.runner.lambda_invoke import invoke
    from tests.runner.test_lambda import make_inv

    image = ensure_runtime_image(docker_client, "python3.12")
    inv = make_inv(image, "python3.12", tmp_path / "code", {"app.py": "import os\ndef handler(e, c):\n    os._exit(86)\n"})
    result = invoke(docker_client, inv, Log(), keep_container=True)
    try:
        container = docker_client.containers.get(inv.name)
        assert container.attrs["State"]["ExitCode"] == streaming.INCOMPLETE and not result.succeeded
        assert not streaming.cut_short(container)  # its inputs were whole: a restart re-attaches
    finally:
        docker_client.containers.get(inv.name).remove(force=True)


def test_a_probe_left_behind_is_removed_when_its_daemon_starts_again(docker_client, busybox_image, tmp_path):
    """A daemon killed while it probed an image leaves the probe's container: the probe carries
    the daemon's label, and the daemon's next start (ActionRunner.reap) removes it; another
    daemon's probe stays."""
    import uuid

    from emulator.runner.actions import ActionRunner

    ours, theirs = f"pipemu-test-{uuid.uuid4().hex[:8]}", f"pipemu-test-{uuid.uuid4().hex[:8]}"
    streaming._probed.pop((busybox_image, "sh"), None)  # probe again, labelled
    assert streaming.can_stream(docker_client, busybox_image, labels={"pipemu.daemon": ours})
    left = {daemon: docker_client.containers.create(busybox_image, ["true"], labels={
        "pipemu.daemon": daemon, streaming.PROBE_LABEL: "tar"}).id for daemon in (ours, theirs)}
    try:
        runner = ActionRunner(tmp_path / "state", resources=lambda: None, write_log=lambda _id, line: None,
                              daemon_id=ours)
        runner.reap(keep=set())
        remaining = {c["Id"] for c in docker_client.api.containers(all=True, filters={"label": streaming.PROBE_LABEL})}
        assert left[ours] not in remaining
        assert left[theirs] in remaining
    finally:
        for container in left.values():
            try:
                docker_client.api.remove_container(container, force=True)
            except Exception:
                pass


def test_a_probe_that_cannot_start_leaves_nothing(docker_client, busybox_image):
    """A shell the image lacks (busybox has no bash): the probe's container cannot start, the
    answer is put_archive, and the container is removed all the same."""
    import uuid

    daemon = f"pipemu-test-{uuid.uuid4().hex[:8]}"
    streaming._probed.pop((busybox_image, "/bin/bash"), None)
    assert not streaming.can_stream(docker_client, busybox_image, "/bin/bash", labels={"pipemu.daemon": daemon})
    assert docker_client.api.containers(all=True, filters={"label": f"pipemu.daemon={daemon}"}) == []
