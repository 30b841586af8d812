"""Build caches: a dependency-heavy build (its install phase downloads and unpacks a 40 MB
archive of 4,000 files from a local package server that serves at 20 MB/s, a stand-in for a
registry over the network) run twice through the daemon, by a project with CodeBuild's local
custom cache (`cache.paths: deps/**/*`) and by the same project without one, side by side in one
run. The second build of the cached project restores the folder and skips the download: its
duration is compared with the uncached project's second build (ratio; goal well under 1)."""

from __future__ import annotations

import http.server
import io
import os
import statistics
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import docker
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator.runner.build_cache import remove_caches  # noqa: E402
from emulator.runner.images import ensure_busybox_image  # noqa: E402
from tests.support.daemon import Daemon, commit, init_repo  # noqa: E402

RATE = 20 * 1024 * 1024  # bytes per second the package server sends


def _archive(files: int = 4000, size: int = 10 * 1024) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for n in range(files):
            data = os.urandom(size)  # incompressible, as packages mostly are
            info = tarfile.TarInfo(f"pkgs/p{n // 100:02d}/f{n:05d}.bin")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _serve(payload: bytes) -> tuple[http.server.ThreadingHTTPServer, int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            chunk = RATE // 20
            for start in range(0, len(payload), chunk):
                self.wfile.write(payload[start:start + chunk])
                time.sleep(0.05)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def definitions(image: str, repo: Path, port: int) -> dict:
    install = (f"if [ -d deps/pkgs ]; then echo cached; else mkdir -p deps && "
               f"wget -q -O - http://host.docker.internal:{port}/deps.tar | tar -x -C deps; fi")
    buildspec = {"version": 0.2, "phases": {"install": {"commands": [install]},
                                            "build": {"commands": ["test $(find deps/ -type f | wc -l) = 4000"]}},
                 "cache": {"paths": ["deps/**/*"]}}

    def pipeline(name: str, project: str) -> dict:
        return {"name": name, "stages": [
            {"name": "Source", "actions": [{
                "name": "source", "outputArtifacts": [{"name": "src"}],
                "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
                "configuration": {"RepositoryName": "repo", "BranchName": "main", "PollForSourceChanges": "false"}}]},
            {"name": "Build", "actions": [{
                "name": "build", "inputArtifacts": [{"name": "src"}],
                "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
                "configuration": {"ProjectName": project}}]}]}

    return {
        "cached": {"pipeline": pipeline("cached", "with-cache"), "repositories": {"repo": {"path": str(repo)}},
                   "projects": {"with-cache": {"image": image, "buildspec": buildspec,
                                               "cache": {"type": "LOCAL", "modes": ["LOCAL_CUSTOM_CACHE"]}},
                                "without-cache": {"image": image, "buildspec": buildspec}}},
        "uncached": {"pipeline": pipeline("uncached", "without-cache")},
    }


def build_seconds(client, pipeline: str) -> float:
    execution = client.start_pipeline_execution(name=pipeline)["pipelineExecutionId"]
    while True:
        status = client.get_pipeline_execution(pipelineName=pipeline, pipelineExecutionId=execution)[
            "pipelineExecution"]["status"]
        if status != "InProgress":
            break
        time.sleep(0.05)
    assert status == "Succeeded", status
    details = client.list_action_executions(pipelineName=pipeline, filter={"pipelineExecutionId": execution})[
        "actionExecutionDetails"]
    build = next(d for d in details if d["stageName"] == "Build")
    return (build["lastUpdateTime"] - build["startTime"]).total_seconds()


def run(rounds: int = 2) -> dict:
    image = ensure_busybox_image(docker.from_env())
    server, port = _serve(_archive())
    with tempfile.TemporaryDirectory(prefix="pipemu-bench-") as tmp:
        tmp = Path(tmp)
        repo = init_repo(tmp / "repo")
        commit(repo, "bench")
        (tmp / "pipelines").mkdir()
        for name, document in definitions(image, repo, port).items():
            (tmp / "pipelines" / f"{name}.yml").write_text(yaml.safe_dump(document))
        daemon = Daemon(tmp / "pipelines", tmp / "state").start()
        daemon_id = (tmp / "state" / "daemon-id").read_text().strip()
        try:
            client = daemon.client()
            first = {"cached": build_seconds(client, "cached"), "uncached": build_seconds(client, "uncached")}
            again: dict[str, list[float]] = {"cached": [], "uncached": []}
            for _ in range(rounds):  # in turns: the machine's noise hits both alike
                for name in again:
                    again[name].append(build_seconds(client, name))
        finally:
            daemon.stop()
            remove_caches(docker.from_env(), daemon_id)
            server.shutdown()
    cached, uncached = statistics.median(again["cached"]), statistics.median(again["uncached"])
    return {
        "name": "second build of a dependency-heavy project, local cache vs none",
        "first_build_seconds": {k: round(v, 2) for k, v in first.items()},
        "again_seconds": {k: [round(x, 2) for x in v] for k, v in again.items()},
        "ratio_cached_vs_uncached": round(cached / uncached, 3),
        "goal": "well under 1 (the download skipped)",
    }


if __name__ == "__main__":
    print(yaml.safe_dump(run(), sort_keys=False))
