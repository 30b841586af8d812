"""Artifacts are closed: a symlink a build writes into its output, or one committed to a
repository, never makes the daemon read a host file (real containers, real git)."""

from __future__ import annotations

import io
import os
import tarfile
import time

import pytest
import yaml

from emulator.runner.artifact_files import OutsideArtifact, inside, writable
from tests.support.daemon import Daemon, commit, init_repo

pytestmark = pytest.mark.docker
SECRET = "TOP-SECRET-HOST-FILE-7d1c"


def _pipeline(name: str, image: str, first_build: dict, second: dict) -> dict:
    source = {"name": "src", "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
              "configuration": {"RepositoryName": "repo", "BranchName": "main", "PollForSourceChanges": "false"},
              "outputArtifacts": [{"name": "Src"}]}
    build = {"name": "make", "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
             "configuration": {"ProjectName": "make"}, "inputArtifacts": [{"name": "Src"}], "outputArtifacts": [{"name": "Out"}]}
    return {"pipeline": {"name": name, "stages": [{"name": "Source", "actions": [source]},
                                                  {"name": "Build", "actions": [build]},
                                                  {"name": "Next", "actions": [second]}]},
            "projects": {"make": {"image": image, "buildspec": first_build},
                         "reader": {"image": image}}}  # reads buildspec.yml from its input


def _ended(client, name):
    execution = client.start_pipeline_execution(name=name)["pipelineExecutionId"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = client.get_pipeline_execution(pipelineName=name, pipelineExecutionId=execution)["pipelineExecution"]["status"]
        if status != "InProgress":
            return status
        time.sleep(0.2)
    raise AssertionError("the execution did not end")


def _fails_outside(client, name: str, words: str = "leads outside the artifact") -> None:
    """`name` runs, fails in its stage Next, saying that a link leads outside the artifact."""
    assert _ended(client, name) == "Failed"
    message = _error(client, name, "Next")
    assert words in message, message


def _error(client, name, stage):
    state = client.get_pipeline_state(name=name)
    found = next(s for s in state["stageStates"] if s["stageName"] == stage)
    return found["actionStates"][0]["latestExecution"]["errorDetails"]["message"]


@pytest.fixture
def host_secret(tmp_path):
    path = tmp_path / "host-secret.txt"
    path.write_text(f"version: 0.2\n# {SECRET}\nphases: {{build: {{commands: [echo {SECRET}]}}}}\n")
    return path


def test_a_link_in_a_build_output_is_not_followed(tmp_path, busybox_image, host_secret):
    repo = init_repo(tmp_path / "repo")
    commit(repo, "first", {"app.txt": "app\n"})
    first = {"version": 0.2, "phases": {"build": {"commands": [f"ln -s {host_secret} buildspec.yml",
                                                                 f"ln -s {host_secret} params.json"]}},
             "artifacts": {"files": ["**/*"]}}
    reader = {"name": "read", "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
              "configuration": {"ProjectName": "reader"}, "inputArtifacts": [{"name": "Out"}]}
    folder = tmp_path / "pipelines"
    folder.mkdir()
    definition = _pipeline("links", busybox_image, first, reader)
    definition["repositories"] = {"repo": {"path": str(repo)}}
    deploy = {"name": "deploy", "actionTypeId": {"category": "Deploy", "owner": "AWS", "provider": "CloudFormation", "version": "1"},
              "configuration": {"ActionMode": "CREATE_UPDATE", "StackName": "s", "TemplatePath": "Out::buildspec.yml",
                                "ParameterOverrides": '{"P": {"Fn::GetParam": ["Out", "params.json", "P"]}}'},
              "inputArtifacts": [{"name": "Out"}]}
    (folder / "links.yml").write_text(yaml.safe_dump(definition))
    second = _pipeline("links-cfn", busybox_image, first, deploy)
    second["pipeline"]["stages"][0]["actions"][0]["configuration"]["RepositoryName"] = "repo"
    (folder / "links-cfn.yml").write_text(yaml.safe_dump({"pipeline": second["pipeline"]}))
    daemon = Daemon(folder, tmp_path / "state").start()
    try:
        client = daemon.client()
        _fails_outside(client, "links", "buildspec.yml is a link that leads outside the artifact")
        _fails_outside(client, "links-cfn")
        for answer in (client.get_pipeline_state(name="links"), client.get_pipeline_state(name="links-cfn")):
            assert SECRET not in str(answer)
        assert SECRET not in daemon.log()
    finally:
        daemon.stop()


def test_a_committed_link_is_not_followed(tmp_path, busybox_image, host_secret):
    repo = init_repo(tmp_path / "repo")
    commit(repo, "first", {"app.txt": "app\n"})
    os.symlink(host_secret, repo / "buildspec.yml")  # committed as a link to a host file
    commit(repo, "link", {})
    folder = tmp_path / "pipelines"
    folder.mkdir()
    reader = {"name": "read", "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
              "configuration": {"ProjectName": "reader"}, "inputArtifacts": [{"name": "Src"}]}
    definition = _pipeline("committed", busybox_image, {"version": 0.2, "phases": {"build": {"commands": ["true"]}}}, reader)
    definition["pipeline"]["stages"].pop(1)
    definition["repositories"] = {"repo": {"path": str(repo)}}
    (folder / "committed.yml").write_text(yaml.safe_dump(definition))
    daemon = Daemon(folder, tmp_path / "state").start()
    try:
        client = daemon.client()
        _fails_outside(client, "committed")
        assert SECRET not in daemon.log()
    finally:
        daemon.stop()


def test_inside_and_writable(tmp_path):
    root = tmp_path / "artifact"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "real.txt").write_text("ok")
    (root / "inner").symlink_to(root / "sub" / "real.txt")  # a link within: fine
    (root / "outer").symlink_to(tmp_path)
    (root / "file").symlink_to("/etc/hostname")
    (tmp_path / "other.txt").write_text("host")
    assert inside(root, "inner").read_text() == "ok"
    for name in ("file", "outer/other.txt", "../artifact/sub/real.txt", "/etc/hostname"):
        with pytest.raises(OutsideArtifact):
            inside(root, name)
    with pytest.raises(FileNotFoundError):
        inside(root, "missing.txt")
    assert writable(root, "sub/new.txt") == (root / "sub" / "new.txt").resolve()
    assert writable(root, "outer/escape.txt") is None


def test_a_crafted_output_tar_cannot_write_through_its_own_link(tmp_path):
    """A tar whose first member links a folder outside, and whose second writes into it."""
    from emulator.runner.buildspec import ArtifactSpec
    from emulator.runner.build_outputs import write_artifacts

    outside = tmp_path / "outside"
    outside.mkdir()
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        link = tarfile.TarInfo("src/d")
        link.type, link.linkname = tarfile.SYMTYPE, str(outside)
        tar.addfile(link)
        payload = b"escaped"
        member = tarfile.TarInfo("src/d/x.txt")
        member.size = len(payload)
        tar.addfile(member, io.BytesIO(payload))
        ok = tarfile.TarInfo("src/ok.txt")
        ok.size = 2
        tar.addfile(ok, io.BytesIO(b"ok"))

    class Crafted:  # a container whose get_archive answers that tar
        def get_archive(self, path):
            return (chunk for chunk in [data.getvalue()]), {}

    write_artifacts(Crafted(), "/codebuild/output/src", [("Out", ArtifactSpec(files=("**/*",)), tmp_path / "dest")],
                    "build output")
    assert list(outside.iterdir()) == []
    assert (tmp_path / "dest" / "ok.txt").read_text() == "ok"
