"""An idle daemon costs nothing: CPU seconds over 30 s of idleness with 100 pipelines loaded
(half of them watching a repository for commits, all with a nightly schedule), and its memory,
beside the floor of an idle Python process measured in the same run."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api import pipelines_folder  # noqa: E402
from tests.support.daemon import Daemon  # noqa: E402

TICKS = 100  # os.sysconf("SC_CLK_TCK") on Linux


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def definition(n: int) -> dict:
    config = {"RepositoryName": "repo", "BranchName": "main"}
    if n % 2:
        config["PollForSourceChanges"] = "false"
    return {
        "pipeline": {"name": f"idle-{n:03d}", "stages": [
            {"name": "Source", "actions": [{
                "name": "source", "outputArtifacts": [{"name": "src"}], "configuration": config,
                "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"}}]},
            {"name": "Gate", "actions": [{"name": "approve", "actionTypeId": {
                "category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}}]},
        ]},
        "schedules": [{"expression": "cron(0 1 ? * MON-FRI *)"}],
    }


def run(pipelines: int = 100, seconds: float = 30) -> dict:
    with tempfile.TemporaryDirectory(prefix="pipemu-idle-") as tmp:
        tmp = Path(tmp)
        folder = pipelines_folder(tmp, "idle")
        for n in range(pipelines):
            (folder / f"idle-{n:03d}.yml").write_text(yaml.safe_dump(definition(n)))
        daemon = Daemon(folder, tmp / "state").start()
        floor = subprocess.Popen([sys.executable, "-c", "import emulator.daemon.main, time; time.sleep(600)"], cwd=ROOT)
        try:
            time.sleep(5)  # the creation runs settle at their approvals
            pid = daemon.process.pid
            before, floor_before = cpu_seconds(pid), cpu_seconds(floor.pid)
            time.sleep(seconds)
            used, floor_used = cpu_seconds(pid) - before, cpu_seconds(floor.pid) - floor_before
            memory, floor_memory = rss_mb(pid), rss_mb(floor.pid)
        finally:
            floor.kill()
            daemon.stop()
    return {
        "name": f"idle daemon, {pipelines} pipelines, {seconds:g} s",
        "cpu_seconds": round(used, 3),
        "cpu_percent": round(100 * used / seconds, 3),
        "floor_cpu_seconds": round(floor_used, 3),
        "rss_mb": round(memory, 1),
        "floor_rss_mb": round(floor_memory, 1),
        "goal": "~0% CPU (no polling loops)",
    }


if __name__ == "__main__":
    print(yaml.safe_dump(run(), sort_keys=False))
