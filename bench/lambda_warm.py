"""Invocation latency through the Lambda API (`aws lambda invoke`'s path, with boto3): warm (an
execution environment kept from the previous call) and cold (none kept: a container starts),
against a plain `docker run --rm` of the same image running `python3 -c pass`, sample after
sample in turns so that machine noise hits all alike. Goal: warm well under 100 ms, and far
below `docker run`."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import docker
import yaml
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator.runner.lambda_images import ensure_runtime_image  # noqa: E402
from tests.support.daemon import Daemon  # noqa: E402

IDLE = 1.0  # seconds an environment is kept: a cold sample waits it out


def run(samples: int = 15) -> dict:
    image = ensure_runtime_image(docker.from_env(), "python3.12", log=lambda line: None)
    with tempfile.TemporaryDirectory(prefix="pipemu-bench-") as tmp:
        tmp = Path(tmp)
        (tmp / "code").mkdir()
        (tmp / "code" / "app.py").write_text("def handler(event, context):\n    return event\n")
        (tmp / "pipelines").mkdir()
        (tmp / "pipelines" / "fn.yml").write_text(yaml.safe_dump({"functions": {"noop": {
            "runtime": "python3.12", "handler": "app.handler", "code": str(tmp / "code")}}}))
        daemon = Daemon(tmp / "pipelines", tmp / "state", env={"PIPEMU_LAMBDA_IDLE_SECONDS": str(IDLE)}).start()
        client = boto3.client("lambda", endpoint_url=daemon.endpoint, region_name="us-east-1", aws_access_key_id="b",
                              aws_secret_access_key="b", config=Config(retries={"max_attempts": 1}))

        def invoke() -> float:
            began = time.perf_counter()
            answer = client.invoke(FunctionName="noop", Payload=json.dumps({"n": 1}))
            assert json.loads(answer["Payload"].read()) == {"n": 1}
            return (time.perf_counter() - began) * 1000

        try:
            invoke()  # the image's first use
            warm, cold, plain = [], [], []
            for _ in range(samples):
                time.sleep(IDLE * 2.5)  # the environment is recycled: the next call starts one
                cold.append(invoke())
                warm.extend(invoke() for _ in range(3))
                began = time.perf_counter()
                subprocess.run(["docker", "run", "--rm", image, "python3", "-c", "pass"], check=True, capture_output=True)
                plain.append((time.perf_counter() - began) * 1000)
        finally:
            daemon.stop()
    docker_run = statistics.median(plain)
    return {
        "name": "Lambda API invocation (boto3) vs docker run --rm of the runtime image",
        "warm_ms_median": round(statistics.median(warm), 1),
        "warm_ms_p90": round(sorted(warm)[int(len(warm) * 0.9)], 1),
        "cold_ms_median": round(statistics.median(cold), 1),
        "docker_run_ms_median": round(docker_run, 1),
        "warm_ratio": round(statistics.median(warm) / docker_run, 3),
        "cold_ratio": round(statistics.median(cold) / docker_run, 3),
        "goal": "warm well under 100 ms; warm_ratio far below 1",
    }


if __name__ == "__main__":
    print(yaml.safe_dump(run(), sort_keys=False))
