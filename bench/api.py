"""API throughput: requests per second and p50/p99 latency of GetPipelineState, GetPipeline,
ListPipelines (200 pipelines loaded) and PutApprovalResult (a fresh token each), from a few client
threads on raw keep-alive HTTP (http.client), side by side with moto's server answering the same
ListPipelines and GetPipeline for the same 200 pipelines (ratio of our throughput to moto's; goal
>= 2x). Then the release Lambda's approvals of 100 service pipelines, invoke to all approved."""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.daemon import Daemon, commit, free_port, init_repo  # noqa: E402

AUTH = ("AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/codepipeline/aws4_request, "
        "SignedHeaders=host;x-amz-target, Signature=" + "0" * 64)
ROLE = "arn:aws:iam::123456789012:role/pipeline"


class Raw:
    """One keep-alive connection speaking JSON 1.1 to CodePipeline."""

    def __init__(self, port: int):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, operation: str, body: dict) -> dict:
        try:
            return self._call(operation, body)
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            self.connection.close()  # the server closed an idle keep-alive connection: once more
            return self._call(operation, body)

    def _call(self, operation: str, body: dict) -> dict:
        self.connection.request("POST", "/", body=json.dumps(body), headers={
            "X-Amz-Target": "CodePipeline_20150709." + operation, "Content-Type": "application/x-amz-json-1.1",
            "Authorization": AUTH})
        answer = self.connection.getresponse()
        data = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{operation}: {answer.status} {data[:300]!r}")
        return json.loads(data or b"{}")


def hammer(port: int, operation: str, bodies, threads: int = 4, seconds: float = 3.0,
           count: int | None = None) -> dict:
    """`threads` clients call `operation` with bodies(i) for `seconds` (or until `count` calls)."""
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(10**9))
    stop = time.perf_counter() + seconds

    def client():
        raw, mine = Raw(port), []
        while True:
            with lock:
                i = next(counter)
            if (count is not None and i >= count) or (count is None and time.perf_counter() > stop):
                break
            began = time.perf_counter()
            raw.call(operation, bodies(i))
            mine.append(time.perf_counter() - began)
        with lock:
            latencies.extend(mine)

    began = time.perf_counter()
    workers = [threading.Thread(target=client) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {"requests": len(latencies), "rps": round(len(latencies) / elapsed, 1),
            "p50_ms": round(1000 * latencies[len(latencies) // 2], 2),
            "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2)}


def definition(name: str) -> dict:
    return {"name": name, "roleArn": ROLE, "stages": [
        {"name": "Source", "actions": [{
            "name": "source", "outputArtifacts": [{"name": "src"}],
            "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
            "configuration": {"RepositoryName": "repo", "BranchName": "main", "PollForSourceChanges": "false"}}]},
        {"name": "StagingDEV", "actions": [{"name": "approve", "actionTypeId": {
            "category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}}]},
    ]}


NAMES = [f"aa-svc-{n:03d}" for n in range(100)] + [f"zz-svc-{n:03d}" for n in range(100)]


def waiting_tokens(raw: Raw, names: list[str], timeout: float = 120) -> dict[str, str]:
    tokens: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while len(tokens) < len(names):
        assert time.monotonic() < deadline, f"only {len(tokens)} of {len(names)} approvals wait"
        for name in names:
            if name in tokens:
                continue
            action = raw.call("GetPipelineState", {"name": name})["stageStates"][1]["actionStates"][0]
            latest = action.get("latestExecution", {})
            if latest.get("status") == "InProgress" and latest.get("token"):
                tokens[name] = latest["token"]
        time.sleep(0.1)
    return tokens


def pipelines_folder(tmp: Path, label: str) -> Path:
    """tmp/pipelines, declaring the repository `repo` (tmp/repo, one commit) that definitions use."""
    repo = init_repo(tmp / "repo")
    commit(repo, label)
    folder = tmp / "pipelines"
    folder.mkdir()
    (folder / "repo.yml").write_text(yaml.safe_dump({"repositories": {"repo": {"path": str(repo)}}}))
    return folder


def ours(tmp: Path) -> tuple[dict, float]:
    folder = pipelines_folder(tmp, "api")
    for name in NAMES:
        (folder / f"{name}.yml").write_text(yaml.safe_dump({"pipeline": definition(name)}))
    daemon = Daemon(folder, tmp / "state").start()
    try:
        port = daemon.port
        raw = Raw(port)
        assert len(raw.call("ListPipelines", {"maxResults": 200})["pipelines"]) == 200
        results = {
            "GetPipelineState": hammer(port, "GetPipelineState", lambda i: {"name": NAMES[i % 200]}),
            "GetPipeline": hammer(port, "GetPipeline", lambda i: {"name": NAMES[i % 200]}),
            "ListPipelines": hammer(port, "ListPipelines", lambda i: {"maxResults": 200}),
        }
        for name in NAMES:
            raw.call("StartPipelineExecution", {"name": name})
        tokens = list(waiting_tokens(raw, NAMES).items())
        results["PutApprovalResult"] = hammer(port, "PutApprovalResult", lambda i: {
            "pipelineName": tokens[i][0], "stageName": "StagingDEV", "actionName": "approve",
            "token": tokens[i][1], "result": {"summary": "bench", "status": "Approved"}}, count=len(tokens))
        # The release Lambda, in-process with boto3 pointed at the daemon: 100 zz- pipelines wait.
        for name in NAMES[100:]:
            raw.call("StartPipelineExecution", {"name": name})
        waiting_tokens(raw, NAMES[100:])
        os.environ.update({"AWS_ENDPOINT_URL": daemon.endpoint, "AWS_DEFAULT_REGION": "us-east-1",
                           "AWS_ACCESS_KEY_ID": "lambda", "AWS_SECRET_ACCESS_KEY": "lambda"})
        spec = importlib.util.spec_from_file_location(
            "release_approval", ROOT / "sample_services" / "release-approval" / "release_approval.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.codepipeline.list_pipelines()  # the Lambda's client is warm, as on a warm Lambda
        began = time.perf_counter()
        approved = 0
        for pipeline in module.service_pipelines("zz", "zz-release-pipeline"):
            token = module.waiting_token(pipeline, "StagingDEV", "approve")
            if token:
                module.codepipeline.put_approval_result(
                    pipelineName=pipeline, stageName="StagingDEV", actionName="approve",
                    result={"summary": "Released by zz-release-pipeline", "status": "Approved"}, token=token)
                approved += 1
        release = time.perf_counter() - began
        assert approved == 100, approved
    finally:
        for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ.pop(key, None)
        daemon.stop()
    return results, release


def moto() -> dict:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        kw = dict(endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
        boto3.client("iam", **kw).create_role(RoleName="pipeline", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "codepipeline.amazonaws.com"}}]}))
        client = boto3.client("codepipeline", **kw)
        for name in NAMES:
            client.create_pipeline(pipeline={**definition(name), "artifactStore": {
                "type": "S3", "location": "bucket"}})
        assert len(Raw(port).call("ListPipelines", {"maxResults": 200})["pipelines"]) == 200
        return {
            "GetPipeline": hammer(port, "GetPipeline", lambda i: {"name": NAMES[i % 200]}),
            "ListPipelines": hammer(port, "ListPipelines", lambda i: {"maxResults": 200}),
        }
    finally:
        server.stop()


def run() -> dict:
    with tempfile.TemporaryDirectory(prefix="pipemu-api-") as tmp:
        mine, release = ours(Path(tmp))
    theirs = moto()
    ratios = {op: round(mine[op]["rps"] / theirs[op]["rps"], 2) for op in theirs}
    return {
        "name": "API, 200 pipelines, 4 keep-alive clients; release Lambda x100",
        "pipemu": mine,
        "moto": theirs,
        "ratio_vs_moto": ratios,
        "release_lambda_100_seconds": round(release, 2),
        "goal": ">= 2x moto; release < 3 s",
    }


if __name__ == "__main__":
    print(yaml.safe_dump(run(), sort_keys=False))
