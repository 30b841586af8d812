"""CodeBuild's local custom cache (runner/build_cache.py): the folders of a buildspec's
cache.paths kept in the project's volume between real builds on the real engine."""

from __future__ import annotations

import uuid

import pytest

from emulator.runner.build_cache import folder_of, remove_caches, volume_name
from emulator.runner.buildspec import BuildspecError, parse_buildspec, render_script
from emulator.runner.codebuild import run_build
from tests.runner.test_codebuild import Log, make_job


@pytest.mark.parametrize("pattern, folder", [
    ("node_modules/**/*", "node_modules"),
    ("/root/.m2/**/*", "/root/.m2"),
    ("/root/cachedir/**/*", "/root/cachedir"),
    (".gradle/caches/**/*", ".gradle/caches"),
    ("vendor/*.jar", "vendor"),
    ("**/*", None),                # the whole source: not a cache folder
    ("../outside/**/*", None),     # never above the source folder
    ("deps", "deps"),
])
def test_the_folder_a_cache_path_keeps(pattern, folder):
    assert folder_of(pattern) == folder


def test_buildspec_cache_paths_are_read_and_checked():
    spec = parse_buildspec({"version": 0.2, "phases": {"build": {"commands": ["true"]}},
                            "cache": {"paths": ["node_modules/**/*", "/root/.npm/**/*"], "key": "npm-#{hash}"}})
    assert spec.cache_paths == ("node_modules/**/*", "/root/.npm/**/*")
    with pytest.raises(BuildspecError, match="cache.pahts"):
        parse_buildspec({"version": 0.2, "phases": {"build": {"commands": ["true"]}}, "cache": {"pahts": ["x"]}})
    script = render_script(spec, cache=("/mnt/cache", "/src"))
    assert script.index("link the project's cached folders") < script.index("phase BUILD")
    assert "/src/node_modules" in script and "/root/.npm" in script
    assert "cached folders" not in render_script(spec)  # no cache volume: nothing linked


DOWNLOADING = {
    "version": 0.2,
    "phases": {
        # A stand-in for a dependency download: made only when the cache did not bring it.
        "install": {"commands": ["if [ -f deps/lib.txt ]; then echo HIT; else echo MISS; mkdir -p deps /root/.tool; "
                                 "echo $RUN > deps/lib.txt; echo tool-$RUN > /root/.tool/t; fi"]},
        "build": {"commands": ["cat deps/lib.txt /root/.tool/t > result.txt", "test \"$FAIL\" != 1"]},
    },
    "artifacts": {"files": ["result.txt"]},
    "cache": {"paths": ["deps/**/*", "/root/.tool/**/*"]},
}


@pytest.mark.docker
def test_a_second_build_gets_the_first_builds_cached_folders(docker_client, busybox_image, tmp_path):
    daemon = f"pipemu-test-{uuid.uuid4().hex[:8]}"
    volume = volume_name(daemon, "deps-project")
    labels = {"pipemu.daemon": daemon, "pipemu.test": "cache"}

    def build(run: str, fail: str = "0"):
        out = tmp_path / f"out-{run}"
        job = make_job(busybox_image, tmp_path, DOWNLOADING, env={"RUN": run, "FAIL": fail}, labels=labels,
                       outputs=[("BuildOutput", out)], cache_volume=volume)
        log = Log()
        result = run_build(docker_client, job, log)
        return result, log, out

    try:
        first, log, out = build("one")
        assert first.succeeded, log.text
        assert "MISS" in log and not any(line.startswith("[Container] Using cache") for line in log)
        assert (out / "result.txt").read_text() == "one\ntool-one\n"
        # The sources' own file in a cached folder wins over the cached one, as in CodeBuild.
        (tmp_path / "in" / "deps").mkdir()
        (tmp_path / "in" / "deps" / "pinned.txt").write_text("from the sources\n")
        second, log, out = build("two")
        assert second.succeeded, log.text
        assert "HIT" in log and "[Container] Using cache /root/.tool" in log
        assert (out / "result.txt").read_text() == "one\ntool-one\n"  # both folders came from the cache
        (tmp_path / "in" / "deps" / "pinned.txt").unlink()
        (tmp_path / "in" / "deps" / "lib.txt").write_text("vendored\n")
        third, log, out = build("three")
        assert third.succeeded and (out / "result.txt").read_text() == "vendored\ntool-one\n", log.text
        (tmp_path / "in" / "deps" / "lib.txt").unlink()
        # Without the project's cache the buildspec's cache.paths keep nothing, as in CodeBuild.
        job = make_job(busybox_image, tmp_path, DOWNLOADING, env={"RUN": "four", "FAIL": "0"}, labels=labels,
                       outputs=[("BuildOutput", tmp_path / "out-four")])
        log = Log()
        assert run_build(docker_client, job, log).succeeded
        assert "MISS" in log and "the project has no cache" in log.text
    finally:
        assert remove_caches(docker_client, daemon) == [volume]


@pytest.mark.docker
def test_a_declared_project_cache_through_the_daemon_and_pipemu_down_caches(tmp_path, service_repo, busybox_image,
                                                                             docker_client):
    """YAML's `cache` reaches the build, the volume outlives the daemon, `down --caches` removes it."""
    import subprocess
    import sys

    import yaml

    from tests.e2e.waiting import settle
    from tests.support.daemon import Daemon

    buildspec = {"version": 0.2, "phases": {"install": {"commands": [
        "if [ -f deps/got ]; then echo CACHED; else mkdir -p deps && date > deps/got && echo FETCHED; fi"]},
        "build": {"commands": ["ls deps/"]}}, "cache": {"paths": ["deps/**/*"]}}
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "p.yml").write_text(yaml.safe_dump({
        "pipeline": {"name": "cached", "stages": [
            {"name": "Source", "actions": [{"name": "source", "outputArtifacts": [{"name": "src"}],
                "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
                "configuration": {"RepositoryName": "repo", "BranchName": "main", "PollForSourceChanges": "false"}}]},
            {"name": "Build", "actions": [{"name": "build", "inputArtifacts": [{"name": "src"}],
                "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
                "configuration": {"ProjectName": "deps"}}]}]},
        "repositories": {"repo": {"path": str(service_repo)}},
        "projects": {"deps": {"image": busybox_image, "buildspec": buildspec,
                              "cache": {"type": "LOCAL", "modes": ["LOCAL_CUSTOM_CACHE", "LOCAL_SOURCE_CACHE"]}}},
    }))
    state = tmp_path / "state"
    daemon = Daemon(tmp_path / "pipelines", state).start()
    daemon_id = (state / "daemon-id").read_text().strip()
    try:
        client = daemon.client()
        warnings = " ".join(daemon.health()["definitionWarnings"])
        assert "LOCAL_SOURCE_CACHE is not carried out" in warnings
        logs = []
        for _ in range(2):
            execution = client.start_pipeline_execution(name="cached")["pipelineExecutionId"]
            settle(client, "cached")
            build = next(d for d in client.list_action_executions(
                pipelineName="cached", filter={"pipelineExecutionId": execution})["actionExecutionDetails"]
                if d["stageName"] == "Build")
            assert build["status"] == "Succeeded"
            logs.append(daemon.action_log(build["actionExecutionId"]))
        assert "FETCHED" in logs[0].splitlines() and "CACHED" in logs[1].splitlines(), logs
    finally:
        daemon.stop()
    mine = {"label": f"pipemu.daemon={daemon_id}"}
    assert [v.name for v in docker_client.volumes.list(filters=mine)] == [f"{daemon_id}-cache-deps"]

    def down(*args):
        return subprocess.run([sys.executable, "-m", "emulator.cli", "down", "--state-dir", str(state), *args],
                              capture_output=True, text=True, timeout=120)

    kept = down()
    assert kept.returncode == 0 and docker_client.volumes.list(filters=mine), kept.stderr
    removed = down("--caches")
    assert removed.returncode == 0, removed.stderr
    assert f"removed build cache {daemon_id}-cache-deps" in removed.stdout
    assert docker_client.volumes.list(filters=mine) == []
