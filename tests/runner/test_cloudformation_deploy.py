"""The CloudFormation deploy action's modes (runner/cloudformation.py), as AWS's CloudFormation
action reference describes them, on real files: no container runs in a deploy (functions run
when invoked), so these need no Docker."""

from __future__ import annotations

import json
import zipfile
from types import SimpleNamespace

import pytest

from emulator.engine import RunAction
from emulator.engine.events import ArtifactOutput
from emulator.engine.plan import ActionPlan
from emulator.runner.actions import ActionRunner
from emulator.runner.cloudformation import deploy
from emulator.runner.failures import ActionFailure

TEMPLATE = """AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Bucket: {Type: String}
  Key: {Type: String}
  Greeting: {Type: String, Default: hello}
Resources:
  Topic: {Type: AWS::SNS::Topic}
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.9
      Handler: app.handler
      Code: {S3Bucket: !Ref Bucket, S3Key: !Ref Key}
      Environment: {Variables: {GREETING: !Ref Greeting}}
  Inline:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      Code:
        ZipFile: "exports.handler = async () => 'inline';"
Outputs:
  Name: {Value: !Ref Fn, Export: {Name: shared-fn}}
  TopicArn: {Value: !Ref Topic}
"""
OVERRIDES = json.dumps({"Bucket": {"Fn::GetArtifactAtt": ["Build", "BucketName"]},
                        "Key": {"Fn::GetArtifactAtt": ["Build", "ObjectKey"]}})


@pytest.fixture
def world(tmp_path):
    state = tmp_path / "state"
    lines: list[str] = []
    resources = SimpleNamespace(stacks={}, functions={}, buckets={})
    runner = ActionRunner(state, resources=lambda: resources, write_log=lambda _id, line: lines.append(line))
    return SimpleNamespace(runner=runner, state=state, lines=lines, resources=resources, runs=0)


def build(world, files: dict[str, str], execution: str = "e1") -> ArtifactOutput:
    folder = world.state / "artifacts" / execution / "Build"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return ArtifactOutput("Build", f"artifacts/{execution}/Build")


def run(world, artifact: ArtifactOutput | None, outputs=("Out",), **configuration):
    world.runs += 1
    configuration = {"StackName": "svc-dev", "ActionMode": "CREATE_UPDATE", **configuration}
    plan = ActionPlan("deploy", "Deploy", "AWS", "CloudFormation", "1", output_artifacts=tuple(outputs),
                      input_artifacts=("Build",) if artifact else ())
    command = RunAction("p", "e1", "Dev", plan, f"x{world.runs}", tuple(configuration.items()),
                        (artifact,) if artifact else ())
    return deploy(world.runner, command, None)


def functions(world) -> dict:
    return {f.name: f for f in world.runner.lambdas._deployed()}


def test_create_then_update_replaces_the_code_and_keeps_what_did_not_change(world):
    first = build(world, {"template.yml": TEMPLATE, "app.py": "V = 1\n"})
    out = run(world, first, TemplatePath="Build::template.yml", ParameterOverrides=OVERRIDES, OutputFileName="o.json")
    made = functions(world)
    assert set(made) == {"svc-dev-Fn", "svc-dev-Inline"}
    fn = made["svc-dev-Fn"]
    assert (fn.runtime, fn.local_runtime, fn.environment) == ("python3.9", None, {"GREETING": "hello"})
    assert (fn.code_dir / "app.py").read_text() == "V = 1\n" and fn.code_dir.is_relative_to(world.state / "lambda")
    assert (made["svc-dev-Inline"].code_dir / "index.js").read_text().startswith("exports.handler")
    assert dict(out.output_variables) == {"Name": "svc-dev-Fn", "TopicArn": "arn:aws:sns:us-east-1:123456789012:svc-dev-Topic"}
    written = world.state / "artifacts" / "e1" / "Out" / "o.json"
    assert json.loads(written.read_text()) == {"Name": "svc-dev-Fn", "TopicArn": "arn:aws:sns:us-east-1:123456789012:svc-dev-Topic"}
    assert any("Topic (AWS::SNS::Topic): not emulated" in line for line in world.lines)
    record = world.runner.stacks.get("svc-dev")
    assert record["StackStatus"] == "CREATE_COMPLETE" and world.runner.stacks.exports()["shared-fn"]["Value"] == "svc-dev-Fn"

    second = build(world, {"template.yml": TEMPLATE, "app.py": "V = 2\n"}, execution="e2")
    run(world, second, TemplatePath="Build::template.yml", ParameterOverrides=OVERRIDES)
    after = functions(world)
    assert (after["svc-dev-Fn"].code_dir / "app.py").read_text() == "V = 2\n"
    assert not fn.code_dir.exists()  # the replaced code is gone
    assert after["svc-dev-Inline"] == made["svc-dev-Inline"]  # unchanged: same folder, same time
    statuses = {r["LogicalResourceId"]: r["ResourceStatus"] for r in world.runner.stacks.get("svc-dev")["Resources"]}
    assert statuses == {"Topic": "CREATE_COMPLETE", "Fn": "UPDATE_COMPLETE", "Inline": "CREATE_COMPLETE"}
    assert world.runner.stacks.get("svc-dev")["StackStatus"] == "UPDATE_COMPLETE"


def test_a_deprecated_runtime_runs_on_the_nearest_one_with_a_warning(world):
    old = TEMPLATE.replace("python3.9", "python2.7")
    run(world, build(world, {"template.yml": old, "app.py": ""}), TemplatePath="Build::template.yml",
        ParameterOverrides=OVERRIDES)
    fn = functions(world)["svc-dev-Fn"]
    assert (fn.runtime, fn.local_runtime, fn.runs_on) == ("python2.7", "python3.12", "python3.12")
    assert any("python2.7 is deprecated; svc-dev-Fn runs on python3.12" in line for line in world.lines)


def test_a_failed_create_rolls_back_and_only_replace_on_failure_starts_again(world):
    artifact = build(world, {"template.yml": TEMPLATE})
    missing = json.dumps({"Bucket": "nobody", "Key": "nothing.zip"})
    with pytest.raises(ActionFailure) as failed:
        run(world, artifact, TemplatePath="Build::template.yml", ParameterOverrides=missing)
    assert "NoSuchKey" in str(failed.value) and "s3://nobody/nothing.zip" in str(failed.value)
    assert world.runner.stacks.get("svc-dev")["StackStatus"] == "ROLLBACK_COMPLETE"
    assert list((world.state / "lambda").rglob("index.js")) == []  # what was made went with the rollback
    with pytest.raises(ActionFailure) as refused:
        run(world, artifact, TemplatePath="Build::template.yml", ParameterOverrides=OVERRIDES)
    assert "is in ROLLBACK_COMPLETE state and can not be updated" in str(refused.value)
    run(world, artifact, TemplatePath="Build::template.yml", ParameterOverrides=OVERRIDES, ActionMode="REPLACE_ON_FAILURE")
    assert world.runner.stacks.get("svc-dev")["StackStatus"] == "CREATE_COMPLETE"


def test_a_failed_update_keeps_the_previous_functions(world):
    artifact = build(world, {"template.yml": TEMPLATE, "app.py": "V = 1\n"})
    run(world, artifact, TemplatePath="Build::template.yml", ParameterOverrides=OVERRIDES)
    before = functions(world)
    with pytest.raises(ActionFailure):
        run(world, artifact, TemplatePath="Build::template.yml", ParameterOverrides=json.dumps({"Bucket": "b", "Key": "k"}))
    assert world.runner.stacks.get("svc-dev")["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert functions(world) == before and (before["svc-dev-Fn"].code_dir / "app.py").exists()


def test_change_sets_wait_for_their_execution(world):
    artifact = build(world, {"template.yml": TEMPLATE, "app.py": "V = 1\n"})
    run(world, artifact, ActionMode="CHANGE_SET_REPLACE", ChangeSetName="review", TemplatePath="Build::template.yml",
        ParameterOverrides=OVERRIDES)
    assert world.runner.stacks.get("svc-dev")["StackStatus"] == "REVIEW_IN_PROGRESS" and functions(world) == {}
    with pytest.raises(ActionFailure, match=r"ChangeSet \[other\] does not exist"):
        run(world, None, ActionMode="CHANGE_SET_EXECUTE", ChangeSetName="other")
    run(world, None, ActionMode="CHANGE_SET_EXECUTE", ChangeSetName="review")
    assert world.runner.stacks.get("svc-dev")["StackStatus"] == "CREATE_COMPLETE" and "svc-dev-Fn" in functions(world)
    assert "ChangeSets" not in world.runner.stacks.get("svc-dev") or world.runner.stacks.get("svc-dev")["ChangeSets"] == {}


def test_delete_only_removes_the_functions_and_a_missing_stack_is_fine(world):
    artifact = build(world, {"template.yml": TEMPLATE, "app.py": ""})
    run(world, artifact, TemplatePath="Build::template.yml", ParameterOverrides=OVERRIDES)
    code = functions(world)["svc-dev-Fn"].code_dir
    run(world, None, ActionMode="DELETE_ONLY")
    assert functions(world) == {} and not code.exists() and world.runner.stacks.get("svc-dev") is None
    assert [s["StackStatus"] for s in world.runner.stacks.all()] == ["DELETE_COMPLETE"]
    run(world, None, ActionMode="DELETE_ONLY")
    assert any("does not exist: nothing to delete" in line for line in world.lines)


def test_code_from_a_bucket_stand_in_a_zip_and_sams_code_uri(world, tmp_path):
    bucket = tmp_path / "bucket"
    (bucket / "releases").mkdir(parents=True)
    with zipfile.ZipFile(bucket / "releases" / "fn.zip", "w") as z:
        z.writestr("app.py", "FROM_ZIP = True\n")
    world.resources.buckets = {"releases-bucket": SimpleNamespace(path=str(bucket))}
    sam = """Transform: AWS::Serverless-2016-10-31
Resources:
  Zipped:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: s3://releases-bucket/releases/fn.zip, Handler: app.handler, Runtime: python3.12}
  Local:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src/, Handler: app.handler, Runtime: python3.12}
"""
    run(world, build(world, {"template.yml": sam, "src/app.py": "LOCAL = True\n"}), TemplatePath="Build::template.yml")
    made = functions(world)
    assert (made["svc-dev-Zipped"].code_dir / "app.py").read_text() == "FROM_ZIP = True\n"
    assert (made["svc-dev-Local"].code_dir / "app.py").read_text() == "LOCAL = True\n"


def test_a_function_name_taken_elsewhere_fails_as_lambda_says(world):
    world.resources.functions = {"svc-dev-Fn": object()}
    with pytest.raises(ActionFailure, match="Function already exist: svc-dev-Fn"):
        run(world, build(world, {"template.yml": TEMPLATE, "app.py": ""}), TemplatePath="Build::template.yml",
            ParameterOverrides=OVERRIDES)


def test_output_file_without_an_output_artifact_is_said(world):
    run(world, build(world, {"template.yml": TEMPLATE, "app.py": ""}), outputs=(), TemplatePath="Build::template.yml",
        ParameterOverrides=OVERRIDES, OutputFileName="o.json")
    assert any("OutputFileName o.json is not written: the action has no output artifact" in line for line in world.lines)


@pytest.mark.parametrize("configuration, words", [
    ({"TemplatePath": "Build::nope.yml"}, "TemplatePath: nope.yml not found in input artifact Build"),
    ({"TemplatePath": "Build::../../etc/passwd"}, "the path leaves the artifact"),
    ({"TemplatePath": "Build::template.yml", "ParameterOverrides": "{nope"}, "ParameterOverrides is not JSON"),
    ({"TemplatePath": "Build::template.yml"}, "Parameters: [Bucket, Key] must have values"),
    ({"TemplatePath": "Build::template.yml", "StackName": "1-bad"}, "failed to satisfy constraint"),
])
def test_bad_configurations_fail_saying_what(world, configuration, words):
    with pytest.raises(ActionFailure) as failed:
        run(world, build(world, {"template.yml": TEMPLATE}), **configuration)
    assert words in str(failed.value)
    assert functions(world) == {}  # nothing was made


def test_any_error_of_a_resource_rolls_back_and_fails_the_action(world, monkeypatch):
    import os

    from emulator.runner import cloudformation

    artifact = build(world, {"template.yml": TEMPLATE, "app.py": "V = 1\n"})
    os.mkfifo(world.state / "artifacts" / "e1" / "Build" / "pipe")  # never opened: it would block
    run(world, artifact, TemplatePath="Build::template.yml", ParameterOverrides=OVERRIDES)
    assert not (functions(world)["svc-dev-Fn"].code_dir / "pipe").exists()

    def broken(archive, dest):
        raise NotImplementedError("That compression method is not supported")

    monkeypatch.setattr(cloudformation, "_extract", broken)
    bucket = world.state.parent / "bucket"
    bucket.mkdir()
    zipfile.ZipFile(bucket / "fn.zip", "w").close()
    world.resources.buckets = {"b": SimpleNamespace(path=str(bucket))}
    with pytest.raises(ActionFailure, match="NotImplementedError: That compression method"):
        run(world, artifact, TemplatePath="Build::template.yml", ParameterOverrides=json.dumps({"Bucket": "b", "Key": "fn.zip"}))
    assert world.runner.stacks.get("svc-dev")["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
