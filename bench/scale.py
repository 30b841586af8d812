"""Scale: loading 1,000 pipeline files (load_folder in-process, and the daemon's start until
/health counts them all), hot-reload of one edited file among them (until GetPipeline shows the
new version), ListPipelineExecutions latency as one pipeline's history grows from 1k to 10k
executions (made through the real API: StartPipelineExecution; `bench/run.py --history 100000`
for the issue's 100k), and the daemon's RSS then."""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api import Raw, definition, pipelines_folder  # noqa: E402
from bench.idle import rss_mb  # noqa: E402
from emulator.definitions import load_folder, loader  # noqa: E402
from tests.support.daemon import Daemon  # noqa: E402


def list_latency_ms(raw: Raw, name: str, calls: int = 30) -> dict:
    times = []
    for _ in range(calls):
        began = time.perf_counter()
        page = raw.call("ListPipelineExecutions", {"pipelineName": name})
        times.append(time.perf_counter() - began)
    times.sort()
    return {"p50_ms": round(1000 * times[len(times) // 2], 2), "max_ms": round(1000 * times[-1], 2),
            "page": len(page["pipelineExecutionSummaries"])}


def grow(port: int, name: str, target: int, have: int, deadline: float, threads: int = 8) -> int:
    """Start executions of `name` until it has `target` (or the deadline passes); the count made."""
    lock = threading.Lock()
    made = [have]

    def client():
        raw = Raw(port)
        while time.monotonic() < deadline:
            with lock:
                if made[0] >= target:
                    return
                made[0] += 1
            raw.call("StartPipelineExecution", {"name": name})

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return made[0]


def run(pipelines: int = 1000, histories: tuple[int, ...] = (1000, 10000), budget: float = 200) -> dict:
    with tempfile.TemporaryDirectory(prefix="pipemu-scale-") as tmp:
        tmp = Path(tmp)
        folder = pipelines_folder(tmp, "scale")
        names = [f"scale-{n:04d}" for n in range(pipelines)]
        for name in names:
            (folder / f"{name}.yml").write_text(yaml.safe_dump({"pipeline": definition(name)}))
        loads, cached = [], []
        for _ in range(3):  # cold: the loader's per-file cache emptied first (a daemon's start)
            loader._PARSED.clear()
            began = time.perf_counter()
            loaded = load_folder(folder)
            loads.append(time.perf_counter() - began)
            began = time.perf_counter()
            load_folder(folder)  # nothing changed: every file's bytes compared, none parsed
            cached.append(time.perf_counter() - began)
        assert not loaded.errors, loaded.errors[:3]
        began = time.perf_counter()
        daemon = Daemon(folder, tmp / "state").start(timeout=120)
        while daemon.health()["pipelines"] < pipelines:
            time.sleep(0.02)
        start = time.perf_counter() - began
        result = {"name": f"{pipelines} pipeline files; history of one pipeline",
                  "load_folder_seconds": round(statistics.median(loads), 3),
                  "load_folder_unchanged_seconds": round(statistics.median(cached), 3),
                  "daemon_start_seconds": round(start, 3)}
        try:
            raw = Raw(daemon.port)
            result["rss_mb_1000_pipelines"] = round(rss_mb(daemon.process.pid), 1)
            # Hot reload: one file edited (a second approval in its gate), until GetPipeline shows it.
            edited = definition(names[500])
            edited["stages"][1]["actions"].append({**edited["stages"][1]["actions"][0], "name": "second", "runOrder": 2})
            began = time.perf_counter()
            (folder / f"{names[500]}.yml").write_text(yaml.safe_dump({"pipeline": edited}))
            while raw.call("GetPipeline", {"name": names[500]})["pipeline"].get("version", 1) < 2:
                assert time.perf_counter() - began < 60, "the edit was not picked up in 60 s"
                time.sleep(0.01)
            result["hot_reload_seconds"] = round(time.perf_counter() - began, 3)
            # History: executions of one pipeline through the API, measured as it grows.
            history, have, deadline = {}, 0, time.monotonic() + budget
            began = time.perf_counter()
            for target in histories:
                have = grow(daemon.port, names[0], target, have, deadline)
                history[str(have)] = list_latency_ms(raw, names[0])
                if have < target:
                    break
            result["executions_per_second_made"] = round(have / (time.perf_counter() - began), 1)
            result["list_executions"] = history
            result["largest_history"] = have
            if have < histories[-1]:
                result["scaled_down"] = (f"{histories[-1]} not reached in the {budget:g} s budget; "
                                         f"stopped at {have}")
            result["rss_mb_with_history"] = round(rss_mb(daemon.process.pid), 1)
        finally:
            daemon.stop()
    sizes = sorted(result["list_executions"], key=int)
    first, last = result["list_executions"][sizes[0]], result["list_executions"][sizes[-1]]
    result["list_growth"] = round(last["p50_ms"] / first["p50_ms"], 2)
    result["goal"] = f"ListPipelineExecutions flat (1k -> 100k; measured 1k -> {sizes[-1]})"
    return result


if __name__ == "__main__":
    print(yaml.safe_dump(run(), sort_keys=False))
