"""EventBridge rules on CodePipeline's events, against the real daemon: a YAML rule on one
pipeline's SUCCEEDED invokes a Python Lambda stand-in (which records the event it got), starts a
second pipeline, POSTs to a local HTTP endpoint and publishes to an SNS topic stand-in; targets that cannot take the event are shown
as failed deliveries and fail nothing; a CloudFormation template in the pipelines folder declares
the same with AWS::Events::Rule, EventPattern and `!GetAtt Fn.Arn`."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import yaml

from tests.e2e.waiting import wait_for
from tests.support.daemon import ROOT, Daemon, commit, init_repo

pytestmark = pytest.mark.docker

# What a team's notifier does, in short: it writes down what it was told, here as tags on the
# pipeline the event is about (through the daemon's API, signed by boto3 like any function's call).
RECORDER = textwrap.dedent('''
    import os
    import boto3

    def handler(event, context):
        prefix = os.environ["PREFIX"]
        detail = event["detail"]
        boto3.client("codepipeline").tag_resource(resourceArn=event["resources"][0], tags=[
            {"key": prefix + "state", "value": detail["state"]},
            {"key": prefix + "execution", "value": detail["execution-id"]},
            {"key": prefix + "type", "value": event["detail-type"]},
            {"key": prefix + "source", "value": event["source"]},
        ])
        return {"recorded": detail["state"]}
''')

TEMPLATE = textwrap.dedent('''
    AWSTemplateFormatVersion: "2010-09-09"
    Description: Nightly report pipeline, and who hears about it
    Parameters:
      Team:
        Type: String
        Default: reports
    Resources:
      Pipeline:
        Type: AWS::CodePipeline::Pipeline
        Properties:
          Name: !Sub "${Team}-pipeline"
          RoleArn: !Sub "arn:aws:iam::${AWS::AccountId}:role/pipeline"
          ArtifactStore: {Type: S3, Location: artifacts-bucket}
          Stages:
            - Name: Source
              Actions:
                - Name: Source
                  ActionTypeId: {Category: Source, Owner: AWS, Provider: CodeCommit, Version: "1"}
                  Configuration: {RepositoryName: app, BranchName: main, PollForSourceChanges: "false"}
                  OutputArtifacts: [{Name: SourceOutput}]
            - Name: Approve
              Actions:
                - Name: SignOff
                  ActionTypeId: {Category: Approval, Owner: AWS, Provider: Manual, Version: "1"}
      NotifyFunction:
        Type: AWS::Lambda::Function
        Properties:
          FunctionName: !Sub "${Team}-notify"
          Runtime: python3.12
          Handler: index.handler
          Role: !Sub "arn:aws:iam::${AWS::AccountId}:role/notify"
          Environment:
            Variables: {PREFIX: "cfn-"}
          Code:
            ZipFile: |
    %s
      PipelineSucceededRule:
        Type: AWS::Events::Rule
        Properties:
          Description: Tell the team when the report pipeline succeeds
          EventPattern:
            source: [aws.codepipeline]
            detail-type: [CodePipeline Pipeline Execution State Change]
            detail:
              state: [SUCCEEDED]
              pipeline: [!Ref Pipeline]
          State: ENABLED
          Targets:
            - Arn: !GetAtt NotifyFunction.Arn
              Id: notify
      NotifyPermission:
        Type: AWS::Lambda::Permission
        Properties:
          Action: lambda:InvokeFunction
          FunctionName: !Ref NotifyFunction
          Principal: events.amazonaws.com
          SourceArn: !GetAtt PipelineSucceededRule.Arn
''') % textwrap.indent(RECORDER.strip("\n"), " " * 14)


def source_and_approval(name: str) -> dict:
    return {"name": name, "stages": [
        {"name": "Source", "actions": [{
            "name": "Source", "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
            "configuration": {"RepositoryName": "app", "BranchName": "main", "PollForSourceChanges": "false"},
            "outputArtifacts": [{"name": "src"}]}]},
        {"name": "Approve", "actions": [{
            "name": "SignOff", "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}}]},
    ]}


class Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append({"path": self.path, "type": self.headers["Content-Type"], "body": json.loads(body)})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def hook():
    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/deploys"
    server.shutdown()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, docker_client, python_image, hook):
    root = tmp_path_factory.mktemp("event-rules")
    (root / "recorder").mkdir()
    (root / "recorder" / "app.py").write_text(RECORDER)
    repo = init_repo(root / "repo")
    commit(repo, "initial", {"README.md": "app\n"})
    (root / "pipelines").mkdir()
    release = {
        "pipeline": source_and_approval("release"),
        "repositories": {"app": {"path": str(repo)}},
        # An SNS topic stand-in (emulator/topics) whose HTTP subscriber is the same local endpoint.
        "topics": {"release-news": {"subscriptions": [{"protocol": "http", "endpoint": hook + "/sns"}]}},
        "functions": {"recorder": {"runtime": "python3.12", "handler": "app.handler", "code": str(root / "recorder"),
                                   "timeout": 60, "environment": {"PREFIX": "yaml-"}}},
        "eventRules": [
            {"name": "release-succeeded",
             "description": "Record the release, start the smoke tests, tell the deploy hook",
             "eventPattern": {"source": ["aws.codepipeline"],
                              "detail-type": ["CodePipeline Pipeline Execution State Change"],
                              "detail": {"pipeline": ["release"], "state": ["SUCCEEDED"]}},
             "targets": [{"function": "recorder"},
                         {"arn": "arn:aws:codepipeline:us-east-1:123456789012:smoke"},
                         {"url": hook},
                         {"arn": "arn:aws:sns:us-east-1:123456789012:release-news"}]},
            {"name": "release-broken-targets",
             "eventPattern": {"source": ["aws.codepipeline"],
                              "detail-type": [{"suffix": "Pipeline Execution State Change"}],
                              "detail": {"pipeline": ["release"], "state": [{"prefix": "SUCC"}]}},
             "targets": [{"url": "http://127.0.0.1:1/nobody-listens"},
                         {"topic": "arn:aws:sns:us-east-1:123456789012:nobody-declared-it"},
                         {"function": "no-such-function"}]},
            {"name": "approvals-only", "state": "DISABLED",
             "eventPattern": {"source": ["aws.codepipeline"], "detail": {"type": {"category": ["Approval"]}}},
             "targets": [{"url": hook}]},
        ],
    }
    (root / "pipelines" / "release.yml").write_text(yaml.safe_dump(release, sort_keys=False))
    (root / "pipelines" / "smoke.yml").write_text(yaml.safe_dump({"pipeline": source_and_approval("smoke")}))
    (root / "pipelines" / "reports.yaml").write_text(TEMPLATE)
    running = Daemon(root / "pipelines", root / "state").start()
    yield running
    running.stop()


def approve(client, pipeline: str) -> str:
    def token():
        for stage in client.get_pipeline_state(name=pipeline)["stageStates"]:
            for action in stage["actionStates"]:
                found = action.get("latestExecution", {}).get("token")
                if found and action["latestExecution"]["status"] == "InProgress":
                    return found
        return None

    found = wait_for(token, 60, f"{pipeline}'s approval")
    client.put_approval_result(pipelineName=pipeline, stageName="Approve", actionName="SignOff",
                               result={"summary": "ship it", "status": "Approved"}, token=found)
    return found


def deliveries(daemon) -> dict:
    with urllib.request.urlopen(daemon.endpoint + "/pipemu/deliveries", timeout=10) as answer:
        return json.loads(answer.read())


def tags(client, pipeline: str) -> dict:
    arn = f"arn:aws:codepipeline:us-east-1:123456789012:{pipeline}"
    return {t["key"]: t["value"] for t in client.list_tags_for_resource(resourceArn=arn)["tags"]}


def test_a_yaml_rule_delivers_a_release_s_success_to_its_targets(daemon, hook):
    client = daemon.client()
    assert daemon.health()["definitionErrors"] == []
    execution = client.start_pipeline_execution(name="release")["pipelineExecutionId"]
    approve(client, "release")
    wait_for(lambda: client.get_pipeline_execution(pipelineName="release", pipelineExecutionId=execution)
             ["pipelineExecution"]["status"] == "Succeeded", 60, "release to succeed")

    # The function got the event as EventBridge shapes it.
    seen = wait_for(lambda: tags(client, "release").get("yaml-state") and tags(client, "release"), 120, "the recorder")
    assert seen == {"yaml-state": "SUCCEEDED", "yaml-execution": execution, "yaml-source": "aws.codepipeline",
                    "yaml-type": "CodePipeline Pipeline Execution State Change"}

    # The second pipeline was started as EventBridge starts one.
    smoke = wait_for(lambda: client.list_pipeline_executions(pipelineName="smoke")["pipelineExecutionSummaries"],
                     30, "smoke to start")
    assert smoke[0]["trigger"] == {"triggerType": "CloudWatchEvent",
                                   "triggerDetail": "arn:aws:events:us-east-1:123456789012:rule/release-succeeded"}

    # The HTTP endpoint got the whole event as JSON, once (the disabled rule sent nothing).
    posted = wait_for(lambda: [p for p in Hook.received if p["path"] == "/deploys"], 30, "the hook")
    assert len(posted) == 1 and posted[0]["type"] == "application/json"
    event = posted[0]["body"]
    assert event["detail-type"] == "CodePipeline Pipeline Execution State Change"
    assert event["resources"] == ["arn:aws:codepipeline:us-east-1:123456789012:release"]
    assert event["detail"]["execution-id"] == execution and event["account"] == "123456789012"

    # Targets that could not take it are failed deliveries, each with its reason; the release is fine.
    def failures():
        found = [d for d in deliveries(daemon)["deliveries"] if d["rule"] == "release-broken-targets"]
        return found if len(found) == 3 else None

    failed = {d["target"]: d for d in wait_for(failures, 30, "the broken targets' deliveries")}
    assert all(d["status"] == "failed" for d in failed.values())
    assert "nobody-declared-it" in failed["topic:arn:aws:sns:us-east-1:123456789012:nobody-declared-it"]["reason"]
    # The topic stand-in took the event and notified its subscriber, the event as the message.
    notified = wait_for(lambda: [p for p in Hook.received if p["path"] == "/deploys/sns"], 30, "the topic's subscriber")
    assert notified[0]["body"]["Type"] == "Notification"
    assert json.loads(notified[0]["body"]["Message"]) == event
    assert "no-such-function" in failed["function:no-such-function"]["reason"]
    assert "127.0.0.1:1" in failed["url:http://127.0.0.1:1/nobody-listens"]["reason"]
    ok = {d["target"] for d in deliveries(daemon)["deliveries"] if d["status"] == "ok"}
    assert {"function:recorder", "pipeline:smoke", f"url:{hook}", "topic:arn:aws:sns:us-east-1:123456789012:release-news"} <= ok
    assert client.get_pipeline_execution(pipelineName="release", pipelineExecutionId=execution)[
        "pipelineExecution"]["status"] == "Succeeded"

    # The CLI shows them too.
    shown = subprocess.run([sys.executable, "-m", "emulator.cli", "events", "--failed", "--endpoint", daemon.endpoint],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "FAILED  rule release-broken-targets -> topic:arn:aws:sns:us-east-1:123456789012:nobody-declared-it" in shown.stdout
    assert "ok    " not in shown.stdout  # --failed: the good deliveries are left out
    assert "pipeline  SUCCEEDED   release" in shown.stdout  # the recent events


def test_events_stream_beside_the_change_notices(daemon):
    client = daemon.client()
    lines: list[str] = []
    ready = threading.Event()

    def listen():
        with urllib.request.urlopen(daemon.endpoint + "/pipemu/events?aws=true", timeout=60) as stream:
            for raw in stream:
                lines.append(raw.decode().rstrip("\n"))
                ready.set()
                if any('"state": "STARTED"' in line and '"Pipeline Execution' in line for line in lines):
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(10)
    client.start_pipeline_execution(name="smoke")
    thread.join(30)
    assert "event: aws" in lines
    data = [json.loads(line[5:]) for line in lines if line.startswith("data:")]
    assert any("changes" in d for d in data)  # the change notices are still there, unnamed
    assert any(d.get("detail-type") == "CodePipeline Pipeline Execution State Change"
               and d["detail"]["pipeline"] == "smoke" for d in data)


def test_a_template_s_rule_with_an_event_pattern_invokes_its_function(daemon):
    client = daemon.client()
    assert "reports-pipeline" in [p["name"] for p in client.list_pipelines()["pipelines"]]
    execution = client.start_pipeline_execution(name="reports-pipeline")["pipelineExecutionId"]
    approve(client, "reports-pipeline")
    seen = wait_for(lambda: tags(client, "reports-pipeline").get("cfn-state") and tags(client, "reports-pipeline"),
                    120, "the template's function")
    assert seen["cfn-state"] == "SUCCEEDED" and seen["cfn-execution"] == execution
    rules = {d["rule"] for d in deliveries(daemon)["deliveries"]}
    assert "reports-PipelineSucceededRule" in rules


def test_the_cli_follows_events_and_deliveries(daemon):
    follow = subprocess.Popen([sys.executable, "-m", "emulator.cli", "events", "--follow", "--json",
                               "--endpoint", daemon.endpoint], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        seen: list[dict] = []

        def read():
            for line in follow.stdout:
                seen.append(json.loads(line))
                if any(s["kind"] == "aws" and s["aws"]["detail"].get("pipeline") == "reports-pipeline" for s in seen):
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        time.sleep(2)  # connected (the stream's first notice is not printed)
        daemon.client().start_pipeline_execution(name="reports-pipeline")
        reader.join(30)
        started = [s["aws"] for s in seen if s["kind"] == "aws" and s["aws"]["detail"].get("state") == "STARTED"]
        assert started and started[0]["detail-type"] == "CodePipeline Pipeline Execution State Change"
        assert started[0]["detail"]["execution-trigger"]["trigger-type"] == "StartPipelineExecution"
    finally:
        follow.terminate()
        follow.wait(10)
