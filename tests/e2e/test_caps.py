"""Caps and closed artifacts through the real daemon and real containers: an output past its size
limit fails naming it (and the state folder does not grow by it), a 20 MB line without a newline
stays cheap and readable, a huge exported variable fails naming its cap without the daemon's
memory growing, and a bucket folder's links and FIFO are neither followed nor opened."""

from __future__ import annotations

import os
import time
import zipfile
from pathlib import Path

import pytest
import yaml

from emulator.runner.containers import MAX_LINE
from tests.e2e.waiting import settle
from tests.support.daemon import Daemon, commit, init_repo

pytestmark = pytest.mark.docker
CAP = 8 * 1024 * 1024  # PIPEMU_MAX_ARTIFACT_BYTES for this daemon
SOURCE = {"name": "source", "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
          "configuration": {"RepositoryName": "repo", "BranchName": "main", "PollForSourceChanges": "false"},
          "outputArtifacts": [{"name": "Src"}]}


def _pipeline(name: str, source: dict, outputs: bool = True) -> dict:
    build = {"name": "build", "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
             "configuration": {"ProjectName": name}, "inputArtifacts": [{"name": "Src"}],
             "outputArtifacts": [{"name": "Out"}] if outputs else []}
    return {"name": name, "stages": [{"name": "Source", "actions": [source]}, {"name": "Build", "actions": [build]}]}


def _project(image: str, commands: list[str], **extra) -> dict:
    return {"image": image, "buildspec": {"version": 0.2, "phases": {"build": {"commands": commands}}, **extra}}


def _usage(pid: int) -> tuple[float, int]:
    """(CPU seconds, resident bytes) of the process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = next(int(line.split()[1]) * 1024 for line in Path(f"/proc/{pid}/status").read_text().splitlines()
               if line.startswith("VmRSS:"))
    return cpu, rss


def _disk(folder: Path) -> int:
    """Bytes the files under `folder` take on disk (blocks: a sparse file counts what it holds)."""
    return sum(p.lstat().st_blocks * 512 for p in folder.rglob("*"))


@pytest.fixture
def capped(tmp_path, busybox_image):
    repo = init_repo(tmp_path / "repo")
    commit(repo, "first", {"app.txt": "app\n"})
    bucket = tmp_path / "bucket" / "drop"
    bucket.mkdir(parents=True)
    (bucket / "app.txt").write_text("from the bucket\n")
    (bucket / "x").symlink_to("/etc/hostname")
    (bucket / "up").symlink_to("../../..")
    os.mkfifo(bucket / "pipe")  # copying would block on it: it must be left out
    (bucket.parent / "big").mkdir()
    with open(bucket.parent / "big" / "sparse.bin", "wb") as sparse:
        sparse.truncate(CAP + 1)  # takes no disk, counts its size
    with zipfile.ZipFile(bucket.parent / "big.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", bytes(CAP + 1))  # ~8 KB compressed, 8 MiB + 1 declared
    big_line = "head -c 20000000 /dev/zero | tr '\\0' a; echo; echo after-the-line"
    definitions = {
        "sparse": (_pipeline("sparse", SOURCE),
                   _project(busybox_image, ["truncate -s 1G big.bin", "echo small > small.txt"],
                            artifacts={"files": ["**/*"]})),
        "longline": (_pipeline("longline", SOURCE, outputs=False), _project(busybox_image, [big_line])),
        "exported": (_pipeline("exported", SOURCE, outputs=False),
                     _project(busybox_image, ["BIG=\"$(head -c 100000000 /dev/zero | tr '\\0' x)\""],
                              env={"exported-variables": ["BIG"]})),
        "bucket": (_pipeline("bucket", {**SOURCE, "actionTypeId": {**SOURCE["actionTypeId"], "provider": "S3"},
                                        "configuration": {"S3Bucket": "drops", "S3ObjectKey": "drop"}}, outputs=False),
                   _project(busybox_image, ["ls -la", 'test "$(cat x)" = "$(hostname)" && echo x-is-the-containers-own',
                                            "readlink up", "cat app.txt"])),
    }
    for key in ("big", "big.zip"):
        name = "bigzip" if key.endswith(".zip") else "bigfolder"
        definitions[name] = (_pipeline(name, {**SOURCE, "actionTypeId": {**SOURCE["actionTypeId"], "provider": "S3"},
                                              "configuration": {"S3Bucket": "drops", "S3ObjectKey": key}}, outputs=False),
                             _project(busybox_image, ["true"]))
    folder = tmp_path / "pipelines"
    folder.mkdir()
    for name, (pipeline, project) in definitions.items():
        shared = {"repositories": {"repo": {"path": str(repo)}}, "buckets": {"drops": {"path": str(bucket.parent)}}}
        (folder / f"{name}.yml").write_text(yaml.safe_dump({
            "pipeline": pipeline, "projects": {name: project}, **(shared if name == "sparse" else {})}))
    daemon = Daemon(folder, tmp_path / "state", env={"PIPEMU_MAX_ARTIFACT_BYTES": str(CAP)}).start()
    yield daemon
    daemon.stop()


def _run(daemon: Daemon, name: str, timeout: float = 180) -> tuple[dict, str]:
    """The build action's latest execution details and its kept log, once the run ended."""
    client = daemon.client()
    execution = client.start_pipeline_execution(name=name)["pipelineExecutionId"]
    time.sleep(0.5)
    settle(client, name, timeout)
    history = client.list_action_executions(pipelineName=name, filter={"pipelineExecutionId": execution})
    details = {d["actionName"]: d for d in history["actionExecutionDetails"]}
    build = details.get("build") or details["source"]
    return {**details, "execution": execution}, daemon.action_log(build["actionExecutionId"])


def _error(daemon: Daemon, name: str) -> str:
    state = daemon.client().get_pipeline_state(name=name)
    build = next(s for s in state["stageStates"] if s["stageName"] == "Build")
    return build["actionStates"][0]["latestExecution"]["errorDetails"]["message"]


def test_an_output_past_its_cap_fails_naming_it_and_is_not_kept(capped):
    before = _disk(capped.state)
    started = time.monotonic()
    details, log = _run(capped, "sparse")
    took = time.monotonic() - started
    build = details["build"]
    assert build["status"] == "Failed", log
    message = _error(capped, "sparse")
    assert f"artifact Out is larger than {CAP} bytes (8 MiB)" in message and "PIPEMU_MAX_ARTIFACT_BYTES" in message
    grown = _disk(capped.state) - before
    print(f"sparse 1 GiB output against an 8 MiB cap: failed in {took:.1f}s, state folder grew {grown} bytes")
    assert grown < CAP  # nothing of the 1 GiB file was written (nor a temporary copy of it)


def test_a_20_mb_line_is_split_and_cheap(capped):
    cpu_before, _ = _usage(capped.process.pid)
    started = time.monotonic()
    details, log = _run(capped, "longline")
    took = time.monotonic() - started
    cpu = _usage(capped.process.pid)[0] - cpu_before
    assert details["build"]["status"] == "Succeeded", log[-2000:]
    lines = log.split("\n")
    pieces = [line for line in lines if line and set(line) == {"a"}]
    print(f"20 MB line: the action took {took:.1f}s, the daemon used {cpu:.2f} CPU seconds, {len(pieces)} log lines")
    assert sum(map(len, pieces)) == 20_000_000
    assert max(map(len, pieces)) <= MAX_LINE
    assert "after-the-line" in lines
    assert cpu < 15  # was 16 CPU seconds before the split; measured ~1-2 here


def test_a_huge_exported_variable_fails_naming_the_cap_and_memory_stays_flat(capped):
    _, rss_before = _usage(capped.process.pid)
    details, log = _run(capped, "exported")
    _, rss_after = _usage(capped.process.pid)
    build = details["build"]
    assert build["status"] == "Failed", log[-2000:]
    message = _error(capped, "exported")
    assert "pipemu reads at most 1048576 bytes (1 MiB)" in message, message
    print(f"100 MB exported variable: daemon RSS {rss_before >> 20} -> {rss_after >> 20} MiB")
    assert rss_after - rss_before < 50 * 1024 * 1024  # the 133 MB file is never read


def test_a_bucket_folder_keeps_its_links_and_leaves_its_fifo_out(capped):
    details, log = _run(capped, "bucket", timeout=60)
    assert details["source"]["status"] == "Succeeded", details["source"]
    assert details["build"]["status"] == "Succeeded", log
    artifact = capped.state / "artifacts" / details["execution"] / "Src"
    assert os.readlink(artifact / "x") == "/etc/hostname" and os.readlink(artifact / "up") == "../../.."
    assert not (artifact / "pipe").exists() and not (artifact / "pipe").is_symlink()
    assert (artifact / "app.txt").read_text() == "from the bucket\n"
    source_log = capped.action_log(details["source"]["actionExecutionId"])
    assert "pipe is not a file, folder or link: not copied" in source_log
    # In the build the links lead where the container's file system says: its own /etc/hostname.
    assert "from the bucket" in log and "../../.." in log and "x-is-the-containers-own" in log


@pytest.mark.parametrize("path, target", [("/", "CodePipeline_20150709.ListPipelines"),
                                          ("/2015-03-31/functions/any/invocations", None)])
def test_a_chunked_body_without_content_length_stops_at_its_cap(capped, path, target):
    """Request bodies are capped as they are read, so a client that sends no Content-Length
    (chunked transfer) gets 413 at the cap instead of the daemon buffering what it sends (the
    server reads the rest and drops it: its memory does not grow by it)."""
    import http.client

    _, rss_before = _usage(capped.process.pid)

    def body():
        for _ in range(64):  # 64 MiB offered, 1 MiB at a time
            yield b"x" * (1024 * 1024)

    connection = http.client.HTTPConnection("127.0.0.1", capped.port, timeout=30)
    headers = {"Content-Type": "application/x-amz-json-1.1", **({"X-Amz-Target": target} if target else {})}
    try:
        connection.request("POST", path, body=body(), headers=headers, encode_chunked=True)
        status = connection.getresponse().status
    except (BrokenPipeError, ConnectionResetError):
        status = 413  # the daemon answered and closed while the client still sent
    finally:
        connection.close()
    assert status == 413, status
    _, rss_after = _usage(capped.process.pid)
    assert rss_after - rss_before < 32 * 1024 * 1024, (rss_before >> 20, rss_after >> 20)


@pytest.mark.parametrize("name, key", [("bigfolder", "big"), ("bigzip", "big.zip")])
def test_a_bucket_object_past_its_cap_fails_the_source_naming_it(capped, name, key):
    before = _disk(capped.state)
    details, _ = _run(capped, name, timeout=60)
    assert details["source"]["status"] == "Failed"
    state = capped.client().get_pipeline_state(name=name)
    message = state["stageStates"][0]["actionStates"][0]["latestExecution"]["errorDetails"]["message"]
    assert f"s3://drops/{key}: artifact Src is larger than {CAP} bytes (8 MiB)" in message, message
    assert _disk(capped.state) - before < CAP
