"""Runs every benchmark, prints a table and writes bench/results.json (with the machine it ran on)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench import api, cache, idle, lambda_warm, latency, overhead, scale  # noqa: E402

BENCHMARKS = {"overhead": overhead.run, "idle": idle.run, "latency": latency.run, "api": api.run,
              "scale": scale.run, "lambda": lambda_warm.run, "cache": cache.run}


HEADLINES = {
    "overhead": lambda r: f"ratio {r['ratio_median']}",
    "idle": lambda r: f"{r['cpu_percent']}% CPU, {r['rss_mb']} MB RSS",
    "latency": lambda r: f"{r['commit_to_start_median']} s; article {r['article_scenario_seconds']} s",
    "api": lambda r: (f"x moto {r['ratio_vs_moto']['GetPipeline']}/{r['ratio_vs_moto']['ListPipelines']}; "
                      f"release {r['release_lambda_100_seconds']} s"),
    "lambda": lambda r: (f"warm {r['warm_ms_median']} ms, cold {r['cold_ms_median']} ms, "
                         f"docker run {r['docker_run_ms_median']} ms"),
    "cache": lambda r: (f"ratio {r['ratio_cached_vs_uncached']} "
                        f"({r['again_seconds']['cached']} s vs {r['again_seconds']['uncached']} s)"),
    "scale": lambda r: (f"load {r['load_folder_seconds']} s, reload {r['hot_reload_seconds']} s, "
                        f"list x{r['list_growth']} to {r['largest_history']}, {r['rss_mb_with_history']} MB"),
}


def machine() -> dict:
    import docker

    info = docker.from_env().info()
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release(),
            "docker": info.get("ServerVersion"), "memory_gb": round(info.get("MemTotal", 0) / 2**30, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--history", type=int, default=10000,
                        help="executions made in one pipeline's history for the scale benchmark "
                             "(100000 takes ~10 more minutes: they are made through the API)")
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), help="run only these")
    args = parser.parse_args()
    results = {"machine": machine(), "results": {}}
    if args.only and (HERE / "results.json").exists():  # update those, keep the others' last results
        results["results"] = json.loads((HERE / "results.json").read_text())["results"]
    for name, bench in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        if name == "scale":
            results["results"][name] = bench(histories=(1000, args.history), budget=max(200, args.history / 50))
        else:
            results["results"][name] = bench()
    print(f"{'benchmark':<58} {'result':<34} goal")
    for name, result in results["results"].items():
        if args.only and name not in args.only:
            continue
        print(f"{result['name']:<58} {HEADLINES[name](result):<34} {result['goal']}")
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
