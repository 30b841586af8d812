"""run_build against the real Docker engine, with the locally built busybox image (never pulled)."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import docker.errors
import pytest

from emulator.runner.codebuild import BuildJob, run_build

pytestmark = pytest.mark.docker


def make_job(image: str, tmp_path: Path, buildspec, **kw) -> BuildJob:
    src = tmp_path / "in"
    src.mkdir(exist_ok=True)
    defaults = dict(
        name=f"pipemu-test-{uuid.uuid4().hex[:12]}", image=image, buildspec=buildspec,
        primary_input=src, secondary_inputs={}, outputs=[("BuildOutput", tmp_path / "out")],
        env={}, labels={"pipemu.test": "runner", "pipemu.pipeline": "demo"},
    )
    defaults.update(kw)
    return BuildJob(**defaults)


class Log(list):
    def __call__(self, line: str) -> None:
        self.append(line)

    @property
    def text(self) -> str:
        return "\n".join(self)


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def assert_removed(client, name: str) -> None:
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(name)


def test_build_collects_globbed_files_from_base_directory(docker_client, busybox_image, tmp_path):
    job = make_job(busybox_image, tmp_path, {
        "version": 0.2,
        "phases": {"build": {"commands": [
            "mkdir -p dist/a/b dist/c",
            "echo one > dist/a/one.txt; echo two > dist/a/b/two.txt; echo log > dist/c/x.log",
            "cp input.txt dist/copied.txt; echo top > top.txt",
        ]}},
        "artifacts": {"files": ["**/*.txt"], "base-directory": "dist"},
    })
    (job.primary_input / "input.txt").write_text("from input\n")
    log = Log()
    t0 = time.monotonic()
    result = run_build(docker_client, job, log)
    elapsed = time.monotonic() - t0
    assert result.succeeded, (result.message, log.text)
    out = tmp_path / "out"
    assert files_under(out) == {"a/one.txt", "a/b/two.txt", "copied.txt"}
    assert (out / "a/b/two.txt").read_text() == "two\n"
    assert (out / "copied.txt").read_text() == "from input\n"
    assert "[Container] Running command mkdir -p dist/a/b dist/c" in log
    assert "[Container] Phase complete: BUILD State: SUCCEEDED" in log
    assert not (job.primary_input / "dist").exists()  # the input folder is never modified
    assert_removed(docker_client, job.name)
    print(f"build took {elapsed:.2f}s")


def test_discard_paths_secondary_inputs_and_outputs(docker_client, busybox_image, tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "lib.txt").write_text("library\n")
    job = make_job(busybox_image, tmp_path, """
version: 0.2
phases:
  build:
    commands:
      - mkdir -p deep/er docs
      - cp "$CODEBUILD_SRC_DIR_Lib/lib.txt" deep/er/lib.txt
      - echo manual > docs/manual.md
artifacts:
  files: [deep/**/*]
  discard-paths: yes
  secondary-artifacts:
    Docs:
      files: [docs]
""", secondary_inputs={"Lib": lib},
        outputs=[("BuildOutput", tmp_path / "out"), ("Docs", tmp_path / "docs")])
    result = run_build(docker_client, job, Log())
    assert result.succeeded, result.message
    assert files_under(tmp_path / "out") == {"lib.txt"}
    assert files_under(tmp_path / "docs") == {"docs/manual.md"}


def test_env_precedence_and_exported_variables(docker_client, busybox_image, tmp_path):
    job = make_job(busybox_image, tmp_path, """
version: 0.2
env:
  variables:
    ONLY_SPEC: spec
    SPEC_AND_PROJECT: spec
  exported-variables: [ONLY_SPEC, SPEC_AND_PROJECT, COMPUTED, CODEBUILD_BUILD_ID, HOME]
phases:
  build:
    commands:
      - COMPUTED="$(echo computed) $CODEBUILD_INITIATOR $CODEBUILD_SRC_DIR $(pwd)"
""", outputs=[], env={"SPEC_AND_PROJECT": "action"})
    result = run_build(docker_client, job, Log())
    assert result.succeeded, result.message
    assert result.exported_variables == {
        "ONLY_SPEC": "spec",
        "SPEC_AND_PROJECT": "action",
        "COMPUTED": "computed codepipeline/demo /codebuild/output/src /codebuild/output/src",
        "CODEBUILD_BUILD_ID": job.name,
        "HOME": "/root",
    }


def test_failing_build_runs_post_build_and_finally(docker_client, busybox_image, tmp_path):
    job = make_job(busybox_image, tmp_path, {
        "version": 0.2,
        "phases": {
            "build": {"commands": ["echo x", "sh -c 'exit 2'", "echo never"],
                      "finally": ["echo in-finally"]},
            "post_build": {"commands": ["echo in-post-build"]},
        },
        "artifacts": {"files": ["**/*"]},
    })
    log = Log()
    result = run_build(docker_client, job, log)
    assert not result.succeeded
    assert "BUILD" in result.message and "exit status 2" in result.message
    assert "sh -c 'exit 2'" in result.message
    assert "in-finally" in log and "in-post-build" in log and "never" not in log
    assert "[Container] Command did not exit successfully sh -c 'exit 2' exit status 2" in log
    assert "[Container] Phase complete: BUILD State: FAILED" in log
    assert not (tmp_path / "out").exists()
    assert_removed(docker_client, job.name)


def test_failing_install_skips_build(docker_client, busybox_image, tmp_path):
    job = make_job(busybox_image, tmp_path, {
        "version": 0.2,
        "phases": {"install": {"commands": ["false"]},
                   "build": {"commands": ["echo in-build"]}},
    }, outputs=[])
    log = Log()
    result = run_build(docker_client, job, log)
    assert not result.succeeded
    assert "INSTALL" in result.message
    assert "in-build" not in log.text
    assert "[Container] Entering phase BUILD" not in log


def test_buildspec_from_the_input_artifact(docker_client, busybox_image, tmp_path):
    job = make_job(busybox_image, tmp_path, None)
    (job.primary_input / "buildspec.yml").write_text(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo from-file > result.txt\n"
        "artifacts:\n  files:\n    - result.txt\n")
    result = run_build(docker_client, job, Log())
    assert result.succeeded, result.message
    assert (tmp_path / "out" / "result.txt").read_text() == "from-file\n"

    other = make_job(busybox_image, tmp_path, "ci/spec.yml", outputs=[])
    (other.primary_input / "ci").mkdir()
    (other.primary_input / "ci/spec.yml").write_text(
        "version: 0.2\nphases:\n  build:\n    commands: [echo ok]\n")
    assert run_build(docker_client, other, Log()).succeeded


def test_missing_or_invalid_buildspec_fails_without_a_container(docker_client, busybox_image, tmp_path):
    job = make_job(busybox_image, tmp_path, None)
    result = run_build(docker_client, job, Log())
    assert not result.succeeded
    assert result.message == "buildspec.yml not found in the primary input artifact"
    assert_removed(docker_client, job.name)

    bad = make_job(busybox_image, tmp_path, {"version": 0.2, "phases": {"compile": {}}})
    result = run_build(docker_client, bad, Log())
    assert not result.succeeded and "phases.compile" in result.message


def test_no_matching_artifacts_fails(docker_client, busybox_image, tmp_path):
    job = make_job(busybox_image, tmp_path, {
        "version": 0.2, "phases": {"build": {"commands": ["true"]}},
        "artifacts": {"files": ["nothing/**/*"]}})
    result = run_build(docker_client, job, Log())
    assert not result.succeeded and "no matching artifact paths" in result.message


def test_missing_image_fails_cleanly(docker_client, tmp_path):
    job = make_job("pipemu/does-not-exist:never", tmp_path,
                   {"version": 0.2, "phases": {"build": {"commands": ["true"]}}}, outputs=[])
    result = run_build(docker_client, job, Log())
    assert not result.succeeded
    assert "pipemu/does-not-exist:never" in result.message and "pulled" in result.message


def test_timeout_kills_the_build(docker_client, busybox_image, tmp_path):
    job = make_job(busybox_image, tmp_path,
                   {"version": 0.2, "phases": {"build": {"commands": ["sleep 30"]}}},
                   outputs=[], timeout_seconds=2)
    t0 = time.monotonic()
    result = run_build(docker_client, job, Log())
    elapsed = time.monotonic() - t0
    assert not result.succeeded
    assert result.message == "Build timed out after 2 seconds"
    assert elapsed < 10
    assert_removed(docker_client, job.name)


def test_cancel_stops_the_build(docker_client, busybox_image, tmp_path):
    job = make_job(busybox_image, tmp_path,
                   {"version": 0.2, "phases": {"build": {"commands": ["echo started", "sleep 30"]}}},
                   outputs=[])
    cancel = threading.Event()

    def log(line: str) -> None:
        if line == "started":
            cancel.set()

    t0 = time.monotonic()
    result = run_build(docker_client, job, log, cancel)
    assert not result.succeeded and result.message == "Build stopped"
    assert time.monotonic() - t0 < 10
    assert_removed(docker_client, job.name)


class DaemonGoingDown(BaseException):
    """Stands for the daemon being interrupted mid-build (KeyboardInterrupt, SystemExit)."""


@pytest.mark.parametrize("wait_for_exit", [False, True], ids=["running", "exited"])
def test_reattach_to_an_existing_container(docker_client, busybox_image, tmp_path, wait_for_exit):
    job = make_job(busybox_image, tmp_path, {
        "version": 0.2,
        "env": {"exported-variables": ["DONE"]},
        "phases": {"build": {"commands": ["echo first-call-sees-this", "sleep 2",
                                          "echo made > made.txt", "DONE=yes"]}},
        "artifacts": {"files": ["made.txt"]},
    })

    def interrupting_log(line: str) -> None:
        if line == "first-call-sees-this":
            raise DaemonGoingDown()

    with pytest.raises(DaemonGoingDown):
        run_build(docker_client, job, interrupting_log)
    container = docker_client.containers.get(job.name)  # left behind for the next daemon
    assert container.status == "running"
    if wait_for_exit:
        container.wait(timeout=30)

    log = Log()
    result = run_build(docker_client, job, log)
    assert result.succeeded, (result.message, log.text)
    assert result.exported_variables == {"DONE": "yes"}
    assert (tmp_path / "out" / "made.txt").read_text() == "made\n"
    assert any("re-attaching" in line for line in log)
    assert "[Container] Phase complete: BUILD State: SUCCEEDED" in log
    assert_removed(docker_client, job.name)


def test_noop_build_timing(docker_client, busybox_image, tmp_path):
    job = make_job(busybox_image, tmp_path, {"version": 0.2, "phases": {"build": {"commands": ["true"]}}},
                   outputs=[])
    timings = []
    for _ in range(3):
        t0 = time.monotonic()
        assert run_build(docker_client, job, Log()).succeeded
        timings.append(time.monotonic() - t0)
    print("no-op build seconds:", ", ".join(f"{t:.2f}" for t in timings))
    assert min(timings) < 5


def test_busybox_image_is_built_once_and_reused(docker_client, busybox_image):
    from emulator.runner.images import ensure_busybox_image, image_exists, is_static_elf

    tag = f"pipemu/busybox-test:{uuid.uuid4().hex[:8]}"
    assert not image_exists(docker_client, tag)
    try:
        t0 = time.monotonic()
        assert ensure_busybox_image(docker_client, tag) == tag
        built = time.monotonic() - t0
        first_id = docker_client.images.get(tag).id
        assert ensure_busybox_image(docker_client, tag) == tag  # exists: not rebuilt
        assert docker_client.images.get(tag).id == first_id
        out = docker_client.containers.run(tag, ["sh", "-c", "echo $((1+2)); ls -d /tmp"],
                                           remove=True)
        assert out.decode().split() == ["3", "/tmp"]
        print(f"busybox image built in {built:.2f}s")
    finally:
        if image_exists(docker_client, tag):
            docker_client.images.remove(tag, force=True)
    assert not is_static_elf(Path("/usr/bin/python3").resolve())


def test_limits_and_a_missing_shell(docker_client, busybox_image, tmp_path):
    # Default limits as CodeBuild's small compute type, no privileges: seen from inside.
    job = make_job(busybox_image, tmp_path, {"version": 0.2, "phases": {"build": {"commands": [
        "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
        "test ! -S /var/run/docker.sock"]}}}, outputs=[])
    log = Log()
    assert run_build(docker_client, job, log).succeeded, log.text
    assert str(3072 * 1024 * 1024) in log.text
    # env.shell bash on an image without bash: a clear failure, not a crash.
    job = make_job(busybox_image, tmp_path, {"version": 0.2, "env": {"shell": "bash"},
                                             "phases": {"build": {"commands": ["true"]}}}, outputs=[])
    result = run_build(docker_client, job, Log())
    assert not result.succeeded and "/bin/bash" in result.message
    assert_removed(docker_client, job.name)


def test_no_engine_fails_with_where_and_why(tmp_path, monkeypatch):
    """An engine that is not there (a socket nobody listens on): the build fails and says where."""
    socket = f"unix://{tmp_path}/no-engine.sock"
    monkeypatch.setenv("DOCKER_HOST", socket)
    client = docker.from_env(version="1.41")  # a fixed version: from_env would ask the engine
    job = make_job("pipemu/busybox:latest", tmp_path, {"version": 0.2, "phases": {"build": {"commands": ["true"]}}})
    result = run_build(client, job, Log())
    assert not result.succeeded
    assert result.message == f"Docker engine unavailable at {socket}: No such file or directory"


def test_a_long_line_without_newline_is_split_and_kept_whole(docker_client, busybox_image, tmp_path):
    """5 MB on one line: 64 KiB lines whose concatenation is the output (CodeBuild splits too)."""
    import queue

    from emulator.runner.containers import MAX_LINE, pump_logs

    size = 5 * 1024 * 1024 + 123
    container = docker_client.containers.run(
        busybox_image, ["sh", "-c", f"head -c {size} /dev/zero | tr '\\0' 'a'; echo; echo after"], detach=True)
    try:
        container.wait(timeout=60)
        lines: queue.Queue = queue.Queue()
        pump_logs(container, lines)
        got = []
        while (item := lines.get(timeout=10)) is not None:
            got.append(item)
    finally:
        container.remove(force=True)
    assert got[-1] == "after"
    assert all(len(line) <= MAX_LINE for line in got)
    assert "".join(got[:-1]) == "a" * size
    assert len(got) == -(-size // MAX_LINE) + 1


def test_huge_exported_variables_fail_the_build_with_the_limit(docker_client, busybox_image, tmp_path):
    from emulator.runner.codebuild import MAX_STATE_FILE

    job = make_job(busybox_image, tmp_path, """
version: 0.2
env:
  exported-variables: [BIG]
phases:
  build:
    commands:
      - BIG="$(head -c 2000000 /dev/zero | tr '\\0' 'x')"
""", outputs=[])
    result = run_build(docker_client, job, Log())
    assert not result.succeeded
    assert f"pipemu reads at most {MAX_STATE_FILE}" in result.message
    assert result.exported_variables == {}
