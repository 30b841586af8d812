"""The state folder's disk fills up under a running daemon (a small tmpfs the test mounts).

While it is full, every change the API is asked for is either saved or refused with 503
ServiceUnavailable saying "No space left on device" (never a 500, never an id that was not
saved, not even to a client that retries with the same clientRequestToken); an action that ends
meanwhile is stored as failed once space is freed. After a restart, the API shows exactly what
it showed before, and no execution the API did not acknowledge.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e import article_pipeline
from tests.e2e.waiting import action_of, settle, stage_of, wait_for
from tests.support.daemon import Daemon, commit, init_repo
from tests.support.tmpfs import fill, small_tmpfs

pytestmark = pytest.mark.docker
GATES = "gates-pipeline"
BUILD = "build-pipeline"


def approval(name: str) -> dict:
    return {"name": name, "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}}


def definition(name: str, repo, stages: list[dict], **resources) -> dict:
    source = {**article_pipeline.codecommit_source(f"{name}-repo"), "namespace": "SourceVariables"}
    return {"pipeline": {"name": name, "stages": [{"name": "Source", "actions": [source]}, *stages]},
            "repositories": {f"{name}-repo": {"path": str(repo)}}, **resources}


def view(client, pipeline: str) -> dict:
    """What the API shows of a pipeline: its executions, each in detail, and its state."""
    def plain(answer: dict) -> dict:
        answer.pop("ResponseMetadata", None)
        return answer

    summaries = plain(client.list_pipeline_executions(pipelineName=pipeline))["pipelineExecutionSummaries"]
    details = {s["pipelineExecutionId"]: plain(client.get_pipeline_execution(
        pipelineName=pipeline, pipelineExecutionId=s["pipelineExecutionId"]))["pipelineExecution"] for s in summaries}
    return {"executions": summaries, "details": details, "state": plain(client.get_pipeline_state(name=pipeline))}


def retrying_client(daemon: Daemon):
    """As users call it: boto3's standard retries resend a failed start with the same token."""
    return boto3.client("codepipeline", endpoint_url=daemon.endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"mode": "standard", "max_attempts": 4}))


def build_pipeline(tmp_path, image: str, commands: list[str], output: bool) -> None:
    """BUILD: a source, then one build of `commands` (its output artifact the folder out/)."""
    repo = init_repo(tmp_path / "repo")
    commit(repo, "initial")
    build = {"name": "build", "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
             "configuration": {"ProjectName": "slow"}, "inputArtifacts": [{"name": "SourceOutput"}]}
    spec = {"version": 0.2, "phases": {"build": {"commands": commands}}}
    if output:
        build["outputArtifacts"] = [{"name": "BuildOutput"}]
        spec["artifacts"] = {"files": ["**/*"], "base-directory": "out"}
    article_pipeline.write(tmp_path / "pipelines", definition(
        BUILD, repo, [{"name": "Build", "actions": [build]}], projects={"slow": {"image": image, "buildspec": spec}}))


def start_and_fill_while_building(daemon: Daemon, state):
    """Start BUILD, fill the disk while its build runs, wait until its end could not be saved:
    (client, execution id, the filler file)."""
    client = daemon.client()
    execution = client.start_pipeline_execution(name=BUILD)["pipelineExecutionId"]
    wait_for(lambda: action_of(client.get_pipeline_state(name=BUILD), "Build", "build")
             .get("latestExecution", {}).get("status") == "InProgress", what="the build running")
    filler = fill(state)
    wait_for(lambda: "not saved" in daemon.log(), timeout=90, what="the build's end not saved")
    return client, execution, filler


def assert_refused_for_space(error: ClientError) -> None:
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 503, error.response
    assert error.response["Error"]["Code"] == "ServiceUnavailable"
    assert "No space left on device" in error.response["Error"]["Message"]


def restarted(daemon: Daemon) -> Daemon:
    daemon.kill()
    return Daemon(daemon.pipelines, daemon.state, port=daemon.port).start()


def approval_token(client, pipeline: str, stage: str) -> str:
    state = client.get_pipeline_state(name=pipeline)
    return action_of(state, stage, "approve")["latestExecution"]["token"]


def test_a_full_disk_refuses_changes_and_a_restart_shows_what_the_api_showed(tmp_path):
    repo = init_repo(tmp_path / "repo")
    commit(repo, "initial")
    article_pipeline.write(tmp_path / "pipelines", definition(GATES, repo, [
        {"name": "Review", "actions": [approval("approve")]},
        {"name": "Release", "actions": [approval("approve")]},
    ]))
    with small_tmpfs(tmp_path / "state") as state:
        daemon = Daemon(tmp_path / "pipelines", state).start()
        try:
            client = daemon.client()
            first = client.start_pipeline_execution(name=GATES)["pipelineExecutionId"]
            wait_for(lambda: action_of(client.get_pipeline_state(name=GATES), "Review", "approve")
                     .get("latestExecution", {}).get("status") == "InProgress", what="the first at Review")
            second = client.start_pipeline_execution(name=GATES)["pipelineExecutionId"]
            wait_for(lambda: stage_of(settle(client, GATES), "Review").get("inboundExecution"),
                     what="the second waiting at Review")
            acknowledged = {first, second}
            token = approval_token(client, GATES, "Review")
            before_fill = view(client, GATES)

            filler = fill(state)
            with pytest.raises(ClientError) as refused:
                retrying_client(daemon).start_pipeline_execution(name=GATES, clientRequestToken="full-1")
            assert_refused_for_space(refused.value)
            with pytest.raises(ClientError) as refused:  # the same token again: still no id
                client.start_pipeline_execution(name=GATES, clientRequestToken="full-1")
            assert_refused_for_space(refused.value)
            with pytest.raises(ClientError) as refused:
                client.put_approval_result(pipelineName=GATES, stageName="Review", actionName="approve",
                                           result={"summary": "while full", "status": "Approved"}, token=token)
            assert_refused_for_space(refused.value)
            with pytest.raises(ClientError) as refused:
                client.stop_pipeline_execution(pipelineName=GATES, pipelineExecutionId=second, abandon=True)
            assert_refused_for_space(refused.value)
            assert view(client, GATES) == before_fill  # nothing changed that was not saved

            filler.unlink()
            third = client.start_pipeline_execution(name=GATES, clientRequestToken="full-1")["pipelineExecutionId"]
            assert third not in acknowledged
            acknowledged.add(third)
            assert client.start_pipeline_execution(name=GATES, clientRequestToken="full-1")["pipelineExecutionId"] == third
            client.put_approval_result(pipelineName=GATES, stageName="Review", actionName="approve",
                                       result={"summary": "space freed", "status": "Approved"}, token=token)
            wait_for(lambda: stage_of(settle(client, GATES), "Release")["latestExecution"]["pipelineExecutionId"] == first,
                     what="the first at Release")
            before = view(client, GATES)

            daemon = restarted(daemon)
            client = daemon.client()
            after = view(client, GATES)
            assert after == before
            assert {s["pipelineExecutionId"] for s in after["executions"]} == acknowledged
            assert approval_token(client, GATES, "Release")  # still answerable after the restart
        finally:
            daemon.stop()


def test_a_build_that_ends_while_the_disk_is_full_is_failed_once_space_is_freed(tmp_path, busybox_image):
    build_pipeline(tmp_path, busybox_image, ["sleep 4", "mkdir -p out", "head -c 1048576 /dev/urandom > out/big",
                                             "echo built"], output=True)
    with small_tmpfs(tmp_path / "state") as state:
        daemon = Daemon(tmp_path / "pipelines", state).start()
        try:
            client, execution, filler = start_and_fill_while_building(daemon, state)
            # Nothing was saved, so nothing changed: the build still shows as running.
            assert action_of(client.get_pipeline_state(name=BUILD), "Build", "build")["latestExecution"]["status"] == "InProgress"

            filler.unlink()
            ended = wait_for(lambda: (lambda a: a if a["status"] != "InProgress" else None)(
                action_of(client.get_pipeline_state(name=BUILD), "Build", "build")["latestExecution"]),
                timeout=30, what="the build's failure saved")
            assert ended["status"] == "Failed"
            assert "could not write its state folder" in ended["errorDetails"]["message"]
            assert client.get_pipeline_execution(pipelineName=BUILD, pipelineExecutionId=execution)[
                "pipelineExecution"]["status"] == "Failed"
            before = view(client, BUILD)

            daemon = restarted(daemon)
            client = daemon.client()
            assert view(client, BUILD) == before  # not reopened, not run again
            assert [s["pipelineExecutionId"] for s in before["executions"]] == [execution]
        finally:
            daemon.stop()


def test_a_build_whose_end_was_not_saved_when_the_daemon_died_ends_after_the_restart(tmp_path, busybox_image):
    """Killed while the result waits to be saved: the build's container was kept, so the restarted
    daemon re-attaches to it and saves how it ended; the execution ends, and stays ended."""
    build_pipeline(tmp_path, busybox_image, ["sleep 3", "echo built"], output=False)
    with small_tmpfs(tmp_path / "state") as state:
        daemon = Daemon(tmp_path / "pipelines", state).start()
        try:
            client, execution, filler = start_and_fill_while_building(daemon, state)
            daemon.kill()
            filler.unlink()
            daemon = Daemon(daemon.pipelines, daemon.state, port=daemon.port).start()
            client = daemon.client()
            status = wait_for(lambda: (lambda s: s if s != "InProgress" else None)(client.get_pipeline_execution(
                pipelineName=BUILD, pipelineExecutionId=execution)["pipelineExecution"]["status"]),
                timeout=60, what="the execution ended after the restart")
            assert status == "Succeeded"  # how the kept container ended, read again
            before = view(client, BUILD)
            daemon = restarted(daemon)
            assert view(daemon.client(), BUILD) == before
        finally:
            daemon.stop()
