"""The S3 deploy, the CodePipeline invoke and the ECS deploy's checks before any container, on
real files with a real ActionRunner (no Docker: the ECS cases fail before one would start)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from emulator.definitions.models import Bucket, Cluster
from emulator.engine import RunAction
from emulator.engine.events import ArtifactOutput
from emulator.engine.plan import ActionPlan
from emulator.runner.actions import ActionRunner
from emulator.runner.ecs_deploy import deploy as ecs_deploy
from emulator.runner.failures import ActionFailure
from emulator.runner.pipeline_invoke import invoke
from emulator.runner.s3_deploy import deploy as s3_deploy, object_key


class Refused(Exception):
    """What the service raises (ServiceError's shape: code and message)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


@pytest.fixture
def world(tmp_path):
    state = tmp_path / "state"
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    lines: list[str] = []
    resources = SimpleNamespace(
        buckets={"site": Bucket(path=bucket)},
        clusters={"prod": Cluster.model_validate({"services": {"web": {"container": "web", "port": 80}}})})
    runner = ActionRunner(state, resources=lambda: resources, write_log=lambda _id, line: lines.append(line))
    return SimpleNamespace(runner=runner, state=state, bucket=bucket, lines=lines, runs=0)


def artifact(world, files: dict[str, str]) -> ArtifactOutput:
    folder = world.state / "artifacts" / "e1" / "BuildArtifact"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return ArtifactOutput("BuildArtifact", "artifacts/e1/BuildArtifact")


def command(world, category, provider, inputs=(), **configuration) -> RunAction:
    world.runs += 1
    plan = ActionPlan("act", category, "AWS", provider, "1", input_artifacts=tuple(a.name for a in inputs))
    return RunAction("release", "e1", "Deploy", plan, f"00000000-0000-0000-0000-00000000000{world.runs}",
                     tuple(configuration.items()), tuple(inputs))


def test_object_key_fills_in_awss_datetime_and_uuid():
    at = datetime(2019, 1, 10, 7, 39, 57, tzinfo=timezone.utc)
    assert object_key("js-application/{datetime}.zip", at) == "js-application/2019-01-10_07-39-57.zip"
    assert re.fullmatch(r"js-application/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\.zip",
                        object_key("js-application/{uuid}.zip"))


def test_s3_deploy_overwrites_objects_and_keeps_the_others(world):
    (world.bucket / "old.txt").write_text("stays")
    (world.bucket / "index.html").write_text("old")
    source = artifact(world, {"index.html": "new", "img/logo.svg": "<svg/>"})
    out = s3_deploy(world.runner, command(world, "Deploy", "S3", [source], BucketName="site", Extract="TRUE"), None)
    assert (world.bucket / "index.html").read_text() == "new" and (world.bucket / "old.txt").read_text() == "stays"
    assert (world.bucket / "img" / "logo.svg").read_text() == "<svg/>"
    assert out.summary == "2 files extracted to s3://site/"


@pytest.mark.parametrize("configuration, words", [
    ({"Extract": "false"}, "ObjectKey is required when Extract is false"),
    ({"Extract": "yes"}, "Extract must be true or false, not 'yes'"),
    ({"Extract": "true", "ObjectKey": "../outside"}, "may not climb out of the bucket"),
    ({"Extract": "false", "ObjectKey": "a/../../x.zip"}, "may not climb out of the bucket"),
    ({"Extract": "true", "BucketName": "nope"}, "bucket nope does not exist: declare its stand-in under buckets:"),
])
def test_s3_deploy_refusals(world, configuration, words):
    source = artifact(world, {"index.html": "x"})
    with pytest.raises(ActionFailure, match=re.escape(words)):
        s3_deploy(world.runner, command(world, "Deploy", "S3", [source], **{"BucketName": "site", **configuration}), None)
    assert sorted(p.name for p in world.bucket.parent.iterdir()) == ["bucket", "state"]  # nothing written outside


def test_invoke_passes_variables_and_revisions_as_start_pipeline_execution_takes_them(world):
    asked = []
    world.runner.start_pipeline = lambda params: asked.append(params) or {"pipelineExecutionId": "exec-1"}
    variables = '[{"name":"VAR1","value":"v"}]'
    revisions = '[{"actionName":"Source","revisionType":"COMMIT_ID","revisionValue":"abc123"}]'
    run = command(world, "Invoke", "CodePipeline", PipelineName="target", Variables=variables, SourceRevisions=revisions)
    out = invoke(world.runner, run, None)
    assert (out.external_execution_id, out.summary) == ("exec-1", "Started pipeline target execution exec-1")
    assert asked == [{"name": "target", "clientRequestToken": run.action_execution_id,
                      "_caller": "arn:aws:codepipeline:us-east-1:123456789012:release",
                      "variables": [{"name": "VAR1", "value": "v"}],
                      "sourceRevisions": [{"actionName": "Source", "revisionType": "COMMIT_ID", "revisionValue": "abc123"}]}]


@pytest.mark.parametrize("configuration, words", [
    ({"Variables": "[{\"name\": \"A\"}]"}, 'Variables: {"name": "A"} lacks value'),
    ({"Variables": "{\"A\": \"b\"}"}, "Variables must be a JSON list of objects with name, value"),
    ({"SourceRevisions": "[{"}, "SourceRevisions is not valid JSON"),
    ({"SourceRevisions": '[{"actionName":"S","revisionType":"COMMIT_ID","revisionValue":"x","extra":"y"}]'},
     "has unknown extra"),
])
def test_invoke_refuses_malformed_lists_before_starting_anything(world, configuration, words):
    world.runner.start_pipeline = lambda params: pytest.fail("started")
    with pytest.raises(ActionFailure, match=re.escape(words)):
        invoke(world.runner, command(world, "Invoke", "CodePipeline", PipelineName="t", **configuration), None)


def test_invoke_fails_with_the_services_error(world):
    def refuse(params):
        raise Refused("ValidationException", "revisionType S3_OBJECT_KEY is not supported here: only COMMIT_ID")

    world.runner.start_pipeline = refuse
    with pytest.raises(ActionFailure, match="^ValidationException: revisionType S3_OBJECT_KEY is not supported"):
        invoke(world.runner, command(world, "Invoke", "CodePipeline", PipelineName="t"), None)


@pytest.mark.parametrize("files, configuration, words", [
    ({}, {}, "the image artifact file imagedefinitions.json: it is not in the input artifact BuildArtifact"),
    ({"imagedefinitions.json": "[{"}, {}, "Exception while trying to parse the image URI file imagedefinitions.json"),
    ({"imagedefinitions.json": '{"name": "web"}'}, {}, "must be a JSON list of"),
    ({"imagedefinitions.json": '[{"name": "worker", "imageUri": "w:1"}]'}, {},
     "imagedefinitions.json names no container web (it names worker)"),
    ({"images.json": '[{"name": "web", "imageUri": "w:1"}]'}, {"DeploymentTimeout": "90", "FileName": "images.json"},
     "DeploymentTimeout must be between 1 and 60 minutes, not 90"),
    ({"imagedefinitions.json": "[]"}, {"ServiceName": "api"},
     "ServiceNotFoundException: Service api not found in cluster prod"),
    ({"imagedefinitions.json": "[]"}, {"ClusterName": "staging"}, "cluster staging does not exist"),
])
def test_ecs_deploy_refusals_before_any_container(world, files, configuration, words):
    source = artifact(world, files)
    run = command(world, "Deploy", "ECS", [source], **{"ClusterName": "prod", "ServiceName": "web", **configuration})
    with pytest.raises(ActionFailure, match=re.escape(words)):
        ecs_deploy(world.runner, run, None)
    assert world.runner.deploy_targets.get(run.action_execution_id) == []  # nothing was deployed to


def test_ecs_deploy_never_reads_a_link_out_of_the_artifact(world, tmp_path):
    outside = tmp_path / "secret.json"
    outside.write_text(json.dumps([{"name": "web", "imageUri": "x"}]))
    source = artifact(world, {})
    (world.state / source.location / "imagedefinitions.json").symlink_to(outside)
    with pytest.raises(ActionFailure, match="is a link that leads outside the artifact"):
        ecs_deploy(world.runner, command(world, "Deploy", "ECS", [source], ClusterName="prod", ServiceName="web"), None)


def test_s3_deploy_replaces_links_in_the_bucket_never_writing_through_them(world, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    (world.bucket / "index.html").symlink_to(victim)
    (world.bucket / "hard.txt").hardlink_to(victim)
    source = artifact(world, {"index.html": "new", "hard.txt": "new too"})
    s3_deploy(world.runner, command(world, "Deploy", "S3", [source], BucketName="site", Extract="true"), None)
    assert victim.read_text() == "untouched"
    assert not (world.bucket / "index.html").is_symlink() and (world.bucket / "index.html").read_text() == "new"
    assert (world.bucket / "hard.txt").read_text() == "new too"
    assert sorted(p.name for p in world.bucket.iterdir()) == ["hard.txt", "index.html"]  # no partial left


def test_an_ecs_deploy_that_breaks_midway_leaves_no_target_in_progress(world):
    def engine_gone(image):
        raise ConnectionError("Connection aborted: the Docker engine went away")

    world.runner._client = SimpleNamespace(images=SimpleNamespace(get=engine_gone))
    source = artifact(world, {"imagedefinitions.json": '[{"name": "web", "imageUri": "shop/web:2"}]'})
    run = command(world, "Deploy", "ECS", [source], ClusterName="prod", ServiceName="web")
    with pytest.raises(ConnectionError):
        ecs_deploy(world.runner, run, None)
    [target] = world.runner.deploy_targets.get(run.action_execution_id)
    assert (target["targetId"], target["status"]) == ("prod:web", "Failed")
    assert [(e["name"], e["status"], e["context"]["message"]) for e in target["events"]] == [
        ("ImageCheck", "Failed", "Connection aborted: the Docker engine went away")]
    assert target["startTime"] <= target["endTime"]
