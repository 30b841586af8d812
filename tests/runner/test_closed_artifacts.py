"""Artifacts never lead the daemon outside themselves, and stop at their size: real containers and
real git repositories (links a build writes, a committed link to /etc/passwd, a FIFO in an input,
a sparse file past AWS's default size, OutputFileName names that climb out)."""

from __future__ import annotations

import os
import io
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from emulator.runner.artifact_files import OutsideArtifact, new_file
from emulator.runner.codebuild import run_build
from emulator.runner.limits import DEFAULTS, SETTING
from emulator.runner.source import SourceError, export_commit
from tests.runner.test_codebuild import Log, make_job
from tests.support.daemon import commit, init_repo


def _disk(folder: Path) -> int:
    return sum(p.lstat().st_blocks * 512 for p in folder.rglob("*"))


@pytest.fixture(params=["filters", "no filters"])
def tar_filters(request, monkeypatch):
    """Both ways outputs are read back: with tarfile's filters, and as on a Python without them
    (before 3.11.4: Debian bookworm's 3.11.2, the daemon's own image)."""
    if request.param == "no filters":
        monkeypatch.delattr(tarfile, "data_filter")
    return request.param


@pytest.mark.docker
def test_links_a_build_writes_stay_links_and_lead_inside_the_next_container(docker_client, busybox_image, tmp_path,
                                                                            tar_filters):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = make_job(busybox_image, tmp_path / "one", {
        "version": 0.2,
        "phases": {"build": {"commands": ["mkdir out", "ln -s /etc/hostname out/x", "ln -s ../../.. out/up",
                                          "echo kept > out/file.txt"]}},
        "artifacts": {"files": ["**/*"], "base-directory": "out"},
    }, outputs=[("Out", tmp_path / "artifact")])
    result = run_build(docker_client, first, Log())
    assert result.succeeded, result.message
    artifact = tmp_path / "artifact"
    assert os.readlink(artifact / "x") == "/etc/hostname"  # the link, never the host file's content
    assert os.readlink(artifact / "up") == "../../.."
    assert (artifact / "file.txt").read_text() == "kept\n"
    second = make_job(busybox_image, tmp_path / "two", {
        "version": 0.2,
        "phases": {"build": {"commands": ['test "$(cat x)" = "$(hostname)" && echo read-inside',
                                          "readlink up", "test -L up && echo still-a-link"]}},
    }, primary_input=artifact, outputs=[])
    log = Log()
    result = run_build(docker_client, second, log)
    assert result.succeeded, (result.message, log.text)
    assert "read-inside" in log and "../../.." in log and "still-a-link" in log


def test_a_crafted_output_cannot_write_through_its_own_link(tmp_path, tar_filters):
    from emulator.runner.buildspec import ArtifactSpec
    from emulator.runner.build_outputs import write_artifacts

    outside = tmp_path / "outside"
    outside.mkdir()
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for name, link in (("src/d", str(outside)), ("src/rel", "../outside")):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, link
            tar.addfile(info)
        for name, payload in (("src/d/x.txt", b"escaped"), ("src/rel/y.txt", b"escaped"), ("src/ok.txt", b"ok")):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(payload), 0o4777  # set-id bits and world-writable: dropped
            tar.addfile(info, io.BytesIO(payload))

    class Crafted:  # a container whose get_archive answers that tar
        def get_archive(self, path):
            return (chunk for chunk in [data.getvalue()]), {}

    dest = tmp_path / "dest"
    write_artifacts(Crafted(), "/codebuild/output/src", [("Out", ArtifactSpec(files=("**/*",)), dest)], "build output")
    assert list(outside.iterdir()) == []
    assert (dest / "ok.txt").read_text() == "ok"
    assert (dest / "ok.txt").stat().st_mode & 0o7777 == 0o755
    assert os.readlink(dest / "d") == str(outside)


@pytest.mark.docker
def test_hard_links_and_a_file_in_two_outputs_are_copies(docker_client, busybox_image, tmp_path):
    """The output archive streams by once: a file two outputs take, and a hard link to a file
    read earlier, are copied from what was written."""
    job = make_job(busybox_image, tmp_path, {
        "version": 0.2,
        "phases": {"build": {"commands": ["mkdir d", "echo shared > d/a.txt", "ln d/a.txt d/b.txt", "chmod 755 d/a.txt"]}},
        "artifacts": {"files": ["d/*"], "secondary-artifacts": {"Copy": {"files": ["d/b.txt", "d/a.txt"]}}},
    }, outputs=[("BuildOutput", tmp_path / "out"), ("Copy", tmp_path / "copy")])
    result = run_build(docker_client, job, Log())
    assert result.succeeded, result.message
    for folder in (tmp_path / "out", tmp_path / "copy"):
        for name in ("a.txt", "b.txt"):
            path = folder / "d" / name
            assert path.read_text() == "shared\n" and not path.is_symlink(), path
        assert (folder / "d" / "a.txt").stat().st_mode & 0o777 == 0o755
    assert os.stat(tmp_path / "out" / "d" / "a.txt").st_ino != os.stat(tmp_path / "copy" / "d" / "a.txt").st_ino


@pytest.mark.docker
def test_a_fifo_in_an_input_is_not_copied_in(docker_client, busybox_image, tmp_path):
    job = make_job(busybox_image, tmp_path, {
        "version": 0.2, "phases": {"build": {"commands": ["test -e pipe || echo no-pipe", "cat a.txt"]}}}, outputs=[])
    os.mkfifo(job.primary_input / "pipe")
    (job.primary_input / "a.txt").write_text("a\n")
    log = Log()
    result = run_build(docker_client, job, log)
    assert result.succeeded, (result.message, log.text)
    assert "no-pipe" in log


@pytest.mark.docker
def test_a_sparse_output_past_the_default_size_fails_at_once(docker_client, busybox_image, tmp_path, monkeypatch):
    monkeypatch.delenv(SETTING, raising=False)
    limit = DEFAULTS["build output"]
    job = make_job(busybox_image, tmp_path, {
        "version": 0.2, "phases": {"build": {"commands": [f"truncate -s {limit + 1} big.bin"]}},
        "artifacts": {"files": ["big.bin"]}})
    started = time.monotonic()
    result = run_build(docker_client, job, Log())
    took = time.monotonic() - started
    assert not result.succeeded
    assert f"artifact BuildOutput is larger than {limit} bytes (2 GiB)" in result.message, result.message
    print(f"a {limit + 1}-byte sparse output failed in {took:.1f}s")
    assert _disk(tmp_path) < 1024 * 1024  # neither the file nor a temporary copy of it


def test_a_committed_link_to_etc_passwd_stays_a_link(tmp_path):
    repo = init_repo(tmp_path / "repo")
    (repo / "passwd").symlink_to("/etc/passwd")
    (repo / "up").symlink_to("../../..")
    head = commit(repo, "links", {"a.txt": "a\n"})
    export_commit(repo, head, tmp_path / "out")
    assert os.readlink(tmp_path / "out" / "passwd") == "/etc/passwd"
    assert os.readlink(tmp_path / "out" / "up") == "../../.."
    assert (tmp_path / "out" / "a.txt").read_text() == "a\n"


def test_a_repository_past_its_size_fails_naming_the_limit(tmp_path, monkeypatch):
    repo = init_repo(tmp_path / "repo")
    head = commit(repo, "big", {"big.txt": "x" * 3_000_000})
    monkeypatch.setenv(SETTING, "1000000")
    with pytest.raises(SourceError, match="artifact Src is larger than 1000000 bytes"):
        export_commit(repo, head, tmp_path / "out", "Src")
    assert _disk(tmp_path / "out") < 1_000_000
    assert subprocess.run(["git", "-C", str(repo), "status"], capture_output=True).returncode == 0


@pytest.mark.parametrize("name", ["../outside.json", "/tmp/outside.json", "", "a/../../outside.json"])
def test_output_file_name_stays_in_its_artifact(tmp_path, name):
    (tmp_path / "artifact").mkdir()
    with pytest.raises(OutsideArtifact):
        new_file(tmp_path / "artifact", name, "OutputFileName")


def test_output_file_name_may_name_a_subfolder(tmp_path):
    (tmp_path / "artifact").mkdir()
    assert new_file(tmp_path / "artifact", "out/stack.json") == (tmp_path / "artifact" / "out" / "stack.json").resolve()
