"""Approval notifications end to end: a real daemon, a manual approval with a NotificationArn,
and a topic whose subscribers are a Python function (in its Lambda container, approving with
boto3 from the SNS message it gets), an HTTP endpoint (this test's http.server) and a mail file;
once declared in YAML, once in a CloudFormation template placed in the pipelines folder."""

from __future__ import annotations

import http.server
import json
import mailbox
import textwrap
import threading
import time
import urllib.request

import pytest
import yaml

from tests.e2e.waiting import wait_for
from tests.support.daemon import Daemon

pytestmark = pytest.mark.docker

# A function written for AWS: it reads CodePipeline's approval JSON from the SNS record and
# answers the approval with the token it carries.
APPROVE_BOT = textwrap.dedent('''
    import json
    import boto3

    codepipeline = boto3.client("codepipeline")


    def handler(event, context):
        record = event["Records"][0]
        if record["EventSource"] != "aws:sns" or record["Sns"]["Type"] != "Notification":
            raise ValueError("not an SNS notification")
        approval = json.loads(record["Sns"]["Message"])["approval"]
        codepipeline.put_approval_result(
            pipelineName=approval["pipelineName"], stageName=approval["stageName"],
            actionName=approval["actionName"], token=approval["token"],
            result={"status": "Approved",
                    "summary": f"approved by {context.function_name} after: {record['Sns']['Subject']}"})
        return approval["token"]
''')


def source():
    return {"name": "Source", "outputArtifacts": [{"name": "src"}],
            "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeCommit", "version": "1"},
            "configuration": {"RepositoryName": "repo", "BranchName": "main", "PollForSourceChanges": "false"}}


def gated(name: str, topic_arn: str) -> dict:
    return {"pipeline": {"name": name, "stages": [
        {"name": "Source", "actions": [source()]},
        {"name": "Gate", "actions": [{
            "name": "ApproveRelease",
            "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"},
            "configuration": {"NotificationArn": topic_arn, "CustomData": "Staging looks good?",
                              "ExternalEntityLink": "https://example.com/changes"}}]}]}}


TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Description: a gated pipeline whose approvals go to a bot and a webhook
Parameters:
  HookUrl:
    Type: String
    Default: HOOK
Resources:
  Approvals:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: cfn-approvals
      Subscription:
        - Protocol: http
          Endpoint: !Ref HookUrl
  BotSubscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Approvals
      Protocol: lambda
      Endpoint: !GetAtt ApproveBot.Arn
  ApproveBot:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: cfn-approve-bot
      Runtime: python3.12
      Handler: index.handler
      Role: arn:aws:iam::123456789012:role/approve-bot
      Code:
        ZipFile: |
CODE
  Pipeline:
    Type: AWS::CodePipeline::Pipeline
    Properties:
      Name: cfn-gated
      RoleArn: arn:aws:iam::123456789012:role/pipeline
      ArtifactStore: {Type: S3, Location: artifacts}
      Stages:
        - Name: Source
          Actions:
            - Name: Source
              ActionTypeId: {Category: Source, Owner: AWS, Provider: CodeCommit, Version: 1}
              Configuration: {RepositoryName: repo, BranchName: main, PollForSourceChanges: false}
              OutputArtifacts: [{Name: src}]
        - Name: Gate
          Actions:
            - Name: ApproveRelease
              ActionTypeId: {Category: Approval, Owner: AWS, Provider: Manual, Version: 1}
              Configuration:
                NotificationArn: !Ref Approvals
                CustomData: Approve the cfn release
"""


class Hook(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.headers, json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def hook():
    Hook.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/sns"
    server.shutdown()
    server.server_close()


@pytest.fixture
def daemon(tmp_path, service_repo, python_image, hook):
    code = tmp_path / "approve-bot"
    code.mkdir()
    (code / "bot.py").write_text(APPROVE_BOT)
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    (pipelines / "resources.yml").write_text(yaml.safe_dump({
        "repositories": {"repo": {"path": str(service_repo)}},
        "functions": {"approve-bot": {"runtime": "python3.12", "handler": "bot.handler", "code": str(code)}},
        "topics": {"release-approvals": {"subscriptions": [
            {"protocol": "lambda", "endpoint": "arn:aws:lambda:us-east-1:123456789012:function:approve-bot"},
            {"protocol": "http", "endpoint": hook},
            {"protocol": "email", "endpoint": "release-managers@example.com"},
        ]}},
    }))
    (pipelines / "release.yml").write_text(yaml.safe_dump(
        gated("release", "arn:aws:sns:us-east-1:123456789012:release-approvals")))
    (pipelines / "orphan.yml").write_text(yaml.safe_dump(
        gated("orphan", "arn:aws:sns:us-east-1:123456789012:nobody-declared-this")))
    (pipelines / "cfn-gated.yaml").write_text(TEMPLATE.replace("HOOK", hook).replace(
        "CODE", textwrap.indent(APPROVE_BOT.strip(), " " * 10)))
    daemon = Daemon(pipelines, tmp_path / "state").start()
    yield daemon
    daemon.stop()


def ended(client, pipeline: str, execution_id: str, timeout: float = 240) -> dict:
    def status():
        found = client.get_pipeline_execution(pipelineName=pipeline, pipelineExecutionId=execution_id)
        return found["pipelineExecution"] if found["pipelineExecution"]["status"] != "InProgress" else None
    return wait_for(status, timeout, f"{pipeline} to end")


def approval_of(client, pipeline: str, execution_id: str) -> dict:
    details = client.list_action_executions(pipelineName=pipeline, filter={"pipelineExecutionId": execution_id})
    return next(d for d in details["actionExecutionDetails"] if d["actionName"] == "ApproveRelease")


def test_a_subscribed_function_approves_from_the_sns_message(daemon, tmp_path):
    client = daemon.client()
    execution_id = client.start_pipeline_execution(name="release")["pipelineExecutionId"]
    assert ended(client, "release", execution_id)["status"] == "Succeeded"
    approval = approval_of(client, "release", execution_id)
    assert approval["output"]["executionResult"]["externalExecutionSummary"] == (
        "approved by approve-bot after: APPROVAL NEEDED: AWS CodePipeline release for action ApproveRelease")

    # The HTTP subscriber got SNS's POST, with CodePipeline's approval JSON as the message.
    [(headers, body)] = wait_for(lambda: [r for r in Hook.received if r[1]["TopicArn"].endswith(":release-approvals")],
                                 30, "the HTTP delivery")
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-topic-arn"] == "arn:aws:sns:us-east-1:123456789012:release-approvals"
    assert body["Subject"] == "APPROVAL NEEDED: AWS CodePipeline release for action ApproveRelease"
    message = json.loads(body["Message"])
    assert message["region"] == "us-east-1"
    assert message["consoleLink"] == f"{daemon.endpoint}/ui#/pipeline/release"
    notice = message["approval"]
    assert (notice["pipelineName"], notice["stageName"], notice["actionName"]) == ("release", "Gate", "ApproveRelease")
    assert notice["customData"] == "Staging looks good?"
    assert notice["externalEntityLink"] == "https://example.com/changes"
    assert notice["approvalReviewLink"] == (
        f"{daemon.endpoint}/ui#/pipeline/release/Gate/ApproveRelease/approve/{notice['token']}")
    expires = time.strptime(notice["expires"], "%Y-%m-%dT%H:%MZ")  # AWS's form, 7 days ahead by default
    assert 6.9 * 86400 < time.mktime(expires) - time.mktime(time.gmtime()) < 7.1 * 86400

    # The email subscriber's mail is in the state folder.
    box = tmp_path / "state" / "mail" / "release-approvals.mbox"
    wait_for(box.exists, 30, "the mail file")
    [mail] = list(mailbox.mbox(str(box)))
    assert mail["To"] == "release-managers@example.com"
    assert mail["Subject"] == "APPROVAL NEEDED: AWS CodePipeline release for action ApproveRelease"
    assert json.loads(mail.get_payload(decode=True).decode().split("\n\n--\n")[0])["approval"]["token"] == notice["token"]

    # The approval's log says where each delivery went.
    log = wait_for(lambda: (text := daemon.action_log(approval["actionExecutionId"])).count("delivered to") == 3
                   and text, 60, "three deliveries in the approval's log")
    assert "delivered to lambda" in log and "delivered to http" in log and "delivered to email" in log
    with urllib.request.urlopen(f"{daemon.endpoint}/pipemu/topics/deliveries?topic=release-approvals") as answer:
        deliveries = json.loads(answer.read())["deliveries"]
    assert sorted((d["Protocol"], d["Status"]) for d in deliveries) == [
        ("email", "Delivered"), ("http", "Delivered"), ("lambda", "Delivered")]
    assert {d["MessageId"] for d in deliveries} == {body["MessageId"]}


def test_topics_declared_in_a_template_in_the_pipelines_folder(daemon):
    client = daemon.client()
    execution_id = client.start_pipeline_execution(name="cfn-gated")["pipelineExecutionId"]
    assert ended(client, "cfn-gated", execution_id)["status"] == "Succeeded"
    summary = approval_of(client, "cfn-gated", execution_id)["output"]["executionResult"]["externalExecutionSummary"]
    assert summary.startswith("approved by cfn-approve-bot after: APPROVAL NEEDED: AWS CodePipeline cfn-gated")
    [(_, body)] = wait_for(lambda: [r for r in Hook.received if r[1]["TopicArn"].endswith(":cfn-approvals")],
                           30, "the HTTP delivery")
    assert json.loads(body["Message"])["approval"]["customData"] == "Approve the cfn release"


def test_an_undeclared_topic_never_fails_the_approval(daemon):
    assert any("nobody-declared-this is not declared" in w for w in daemon.health()["definitionWarnings"])
    client = daemon.client()
    execution_id = client.start_pipeline_execution(name="orphan")["pipelineExecutionId"]

    def waiting():
        state = client.get_pipeline_state(name="orphan")
        gate = next(s for s in state["stageStates"] if s["stageName"] == "Gate")
        latest = gate["actionStates"][0].get("latestExecution", {})
        return latest if latest.get("status") == "InProgress" and latest.get("token") else None

    latest = wait_for(waiting, 60, "the approval to wait")
    approval = approval_of(client, "orphan", execution_id)
    assert "notification NOT published" in daemon.action_log(approval["actionExecutionId"])
    with urllib.request.urlopen(f"{daemon.endpoint}/pipemu/topics/deliveries?topic=nobody-declared-this") as answer:
        [failed] = json.loads(answer.read())["deliveries"]
    assert failed["Status"] == "Failed" and "Topic does not exist" in failed["Detail"]
    client.put_approval_result(pipelineName="orphan", stageName="Gate", actionName="ApproveRelease",
                               token=latest["token"], result={"summary": "by hand", "status": "Approved"})
    assert ended(client, "orphan", execution_id)["status"] == "Succeeded"


def test_a_restart_does_not_notify_a_waiting_approval_again(tmp_path, service_repo):
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    (pipelines / "release.yml").write_text(yaml.safe_dump({
        **gated("release", "release-approvals"),  # a NotificationArn may name the topic alone, as SNS takes it
        "repositories": {"repo": {"path": str(service_repo)}},
        "topics": {"release-approvals": {"subscriptions": [{"protocol": "email", "endpoint": "qa@example.com"}]}},
    }))
    box = tmp_path / "state" / "mail" / "release-approvals.mbox"
    daemon = Daemon(pipelines, tmp_path / "state").start()
    try:
        client = daemon.client()
        execution_id = client.start_pipeline_execution(name="release")["pipelineExecutionId"]
        wait_for(lambda: box.exists() and len(mailbox.mbox(str(box))) == 1, 60, "the approval mail")
        daemon.stop()
        daemon.start()
        client = daemon.client()
        gate = next(s for s in client.get_pipeline_state(name="release")["stageStates"] if s["stageName"] == "Gate")
        latest = gate["actionStates"][0]["latestExecution"]
        assert latest["status"] == "InProgress" and latest["token"]
        time.sleep(2)  # what a second notification would take, had the restart sent one
        assert len(mailbox.mbox(str(box))) == 1
        # A new execution's approval is a new approval: it is notified, with its own token.
        client.stop_pipeline_execution(pipelineName="release", pipelineExecutionId=execution_id, abandon=True)
        ended(client, "release", execution_id, 60)
        client.start_pipeline_execution(name="release")
        wait_for(lambda: len(mailbox.mbox(str(box))) == 2, 60, "the second approval's mail")
        tokens = [json.loads(m.get_payload(decode=True).decode().split("\n\n--\n")[0])["approval"]["token"]
                  for m in mailbox.mbox(str(box))]
        assert tokens[0] == latest["token"] and tokens[1] != tokens[0]
    finally:
        daemon.stop()
