"""Webhooks through the real daemon: PutWebhook, ListWebhooks, DeleteWebhook,
Register/DeregisterWebhookWithThirdParty with boto3 (every answer held against botocore's output
shapes by the Daemon's client), their modeled errors, and POSTs to a webhook's URL the way GitHub
sends them: signed with the secret (X-Hub-Signature), or refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
import uuid

import pytest
import yaml
from botocore.exceptions import ClientError

from tests.e2e.waiting import wait_for
from tests.support.daemon import Daemon, commit, init_repo

SECRET = "d3v-webhook-s3cret-7a91"


def _pipeline_file(folder, repo) -> None:
    # A GitHub (version 1) source, the action AWS's webhooks were made for, and an approval after it.
    (folder / "release.yml").write_text(yaml.safe_dump({
        "pipeline": {
            "name": "release",
            "stages": [
                {"name": "Source", "actions": [{
                    "name": "Checkout",
                    "actionTypeId": {"category": "Source", "owner": "ThirdParty", "provider": "GitHub", "version": "1"},
                    "configuration": {"Owner": "octo-org", "Repo": "web-app", "Branch": "main",
                                      "OAuthToken": "{{resolve:secretsmanager:github-token}}",
                                      "PollForSourceChanges": "false"},
                    "outputArtifacts": [{"name": "SourceOutput"}],
                }]},
                {"name": "Approve", "actions": [{
                    "name": "Ship",
                    "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"},
                }]},
            ],
        },
        "repositories": {"octo-org/web-app": {"path": str(repo)}},
    }))


@pytest.fixture
def daemon(tmp_path):
    repo = init_repo(tmp_path / "web-app")
    commit(repo, "first page", {"index.html": "<h1>hi</h1>"})
    folder = tmp_path / "pipelines"
    folder.mkdir()
    _pipeline_file(folder, repo)
    running = Daemon(folder, tmp_path / "state").start()
    yield running
    running.stop()


def definition(name: str = "release-webhook", **changes) -> dict:
    return {
        "name": name,
        "targetPipeline": "release",
        "targetAction": "Checkout",
        "filters": [{"jsonPath": "$.ref", "matchEquals": "refs/heads/{Branch}"}],
        "authentication": "GITHUB_HMAC",
        "authenticationConfiguration": {"SecretToken": SECRET},
        **changes,
    }


def push_payload(ref: str = "refs/heads/main") -> bytes:
    """A push event as GitHub sends it (trimmed to what a receiver reads)."""
    head = "6f1c2e0a9b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e"
    return json.dumps({
        "ref": ref,
        "before": "0d1a2b3c4d5e6f708192a3b4c5d6e7f809a1b2c3",
        "after": head,
        "created": False, "deleted": False, "forced": False,
        "compare": "https://github.com/octo-org/web-app/compare/0d1a2b3c4d5e...6f1c2e0a9b8d",
        "repository": {"id": 81723948, "name": "web-app", "full_name": "octo-org/web-app", "private": True,
                       "owner": {"name": "octo-org", "login": "octo-org"}, "default_branch": "main",
                       "html_url": "https://github.com/octo-org/web-app"},
        "pusher": {"name": "mona", "email": "mona@example.com"},
        "sender": {"login": "mona", "type": "User"},
        "head_commit": {"id": head, "message": "Tweak the landing page", "timestamp": "2026-11-30T19:02:11Z",
                        "author": {"name": "Mona", "email": "mona@example.com", "username": "mona"},
                        "added": [], "removed": [], "modified": ["index.html"]},
        "commits": [{"id": head, "message": "Tweak the landing page", "distinct": True,
                     "added": [], "removed": [], "modified": ["index.html"]}],
    }).encode()


def deliver(url: str, body: bytes, secret: str | None = SECRET) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/5e3f1a2",
               "X-GitHub-Event": "push", "X-GitHub-Delivery": str(uuid.uuid4())}
    if secret is not None:
        headers["X-Hub-Signature"] = "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
        headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def executions(client, trigger_type: str) -> list[dict]:
    summaries = client.list_pipeline_executions(pipelineName="release")["pipelineExecutionSummaries"]
    return [s for s in summaries if s["trigger"]["triggerType"] == trigger_type]


@pytest.mark.both_protocols  # JSON 1.1 and Smithy RPC v2 CBOR
def test_put_list_tag_delete_and_the_secret_never_shown(daemon):
    client = daemon.client()
    put = client.put_webhook(webhook=definition(), tags=[{"key": "team", "value": "web"}])["webhook"]
    assert put["definition"]["authenticationConfiguration"] == {"SecretToken": "****"}
    assert put["definition"]["filters"] == [{"jsonPath": "$.ref", "matchEquals": "refs/heads/{Branch}"}]
    assert put["arn"] == "arn:aws:codepipeline:us-east-1:123456789012:webhook:release-webhook"
    assert put["url"].startswith(f"{daemon.endpoint}/webhooks/trigger?t=") and put["url"].endswith("&v=1")
    assert put["tags"] == [{"key": "team", "value": "web"}]

    listed = client.list_webhooks()["webhooks"]
    assert [w["url"] for w in listed] == [put["url"]]
    assert SECRET not in json.dumps(listed, default=str)
    assert "lastTriggered" not in listed[0]

    client.tag_resource(resourceArn=put["arn"], tags=[{"key": "stage", "value": "prod"}])
    tags = client.list_tags_for_resource(resourceArn=put["arn"])["tags"]
    assert {t["key"]: t["value"] for t in tags} == {"team": "web", "stage": "prod"}

    # A PutWebhook again changes the definition and keeps the URL.
    again = client.put_webhook(webhook=definition(filters=[{"jsonPath": "$.repository.full_name",
                                                           "matchEquals": "{Owner}/{Repo}"}]))["webhook"]
    assert again["url"] == put["url"]
    assert again["definition"]["filters"][0]["jsonPath"] == "$.repository.full_name"

    client.register_webhook_with_third_party(webhookName="release-webhook")
    client.deregister_webhook_with_third_party(webhookName="release-webhook")
    client.delete_webhook(name="release-webhook")
    assert client.list_webhooks()["webhooks"] == []
    client.delete_webhook(name="release-webhook")  # AWS: deleting what is gone is no error
    for call in (client.register_webhook_with_third_party, client.deregister_webhook_with_third_party):
        with pytest.raises(ClientError) as error:
            call(webhookName="release-webhook")
        assert error.value.response["Error"]["Code"] == "WebhookNotFoundException"
    assert SECRET not in daemon.log()


@pytest.mark.both_protocols  # JSON 1.1 and Smithy RPC v2 CBOR
@pytest.mark.parametrize("changes, code", [
    ({"targetPipeline": "nope"}, "PipelineNotFoundException"),
    ({"targetAction": "Ship"}, "ValidationException"),
    ({"filters": [{"jsonPath": "$.ref[?(@ =="}]}, "InvalidWebhookFilterPatternException"),
    ({"authenticationConfiguration": {}}, "InvalidWebhookAuthenticationParametersException"),
    ({"authentication": "IP", "authenticationConfiguration": {"AllowedIPRange": "10.0.0.0/33"}},
     "InvalidWebhookAuthenticationParametersException"),
    ({"authentication": "UNAUTHENTICATED"}, "InvalidWebhookAuthenticationParametersException"),
])
def test_put_webhook_errors(daemon, changes, code):
    with pytest.raises(ClientError) as error:
        daemon.client().put_webhook(webhook=definition(**changes))
    assert error.value.response["Error"]["Code"] == code
    assert daemon.client().list_webhooks()["webhooks"] == []


def test_a_placeholder_the_action_does_not_have_is_accepted_and_said(daemon):
    # {BranchName} is a CodeCommit or connection key; this GitHub (version 1) action's is Branch.
    client = daemon.client()
    put = client.put_webhook(webhook=definition(filters=[{"jsonPath": "$.ref", "matchEquals": "refs/heads/{BranchName}"}]))
    item = put["webhook"]
    assert item["errorCode"] == "InvalidWebhookFilterPattern"
    assert "{BranchName}" in item["errorMessage"] and "Branch" in item["errorMessage"]
    assert client.list_webhooks()["webhooks"][0]["errorCode"] == "InvalidWebhookFilterPattern"
    assert "{BranchName}" in daemon.log()
    status, answer = deliver(item["url"], push_payload())  # the placeholder stays literal: no match
    assert status == 200 and "pipelineExecutionId" not in answer


def test_a_signed_push_starts_the_pipeline_and_others_do_not(daemon):
    client = daemon.client()
    url = client.put_webhook(webhook=definition())["webhook"]["url"]

    status, answer = deliver(url, push_payload(), secret="not-the-secret")
    assert (status, answer["message"]) == (403, "Signature verification failed")
    status, answer = deliver(url, push_payload(), secret=None)
    assert status == 403
    status, answer = deliver(url, push_payload("refs/heads/experiment"))
    assert status == 200 and "pipelineExecutionId" not in answer
    assert "refs/heads/experiment" in answer["message"] and "refs/heads/main" in answer["message"]
    status, _ = deliver(url.replace("?t=", "?t=x"), push_payload())
    assert status == 404
    assert executions(client, "Webhook") == []

    status, answer = deliver(url, push_payload())
    assert status == 200, answer
    execution = client.get_pipeline_execution(pipelineName="release", pipelineExecutionId=answer["pipelineExecutionId"])
    assert execution["pipelineExecution"]["trigger"] == {
        "triggerType": "Webhook", "triggerDetail": "arn:aws:codepipeline:us-east-1:123456789012:webhook:release-webhook"}
    assert [e["pipelineExecutionId"] for e in executions(client, "Webhook")] == [answer["pipelineExecutionId"]]
    assert "lastTriggered" in client.list_webhooks()["webhooks"][0]
    source = wait_for(lambda: [d for d in client.list_action_executions(
        pipelineName="release", filter={"pipelineExecutionId": answer["pipelineExecutionId"]})["actionExecutionDetails"]
        if d["actionName"] == "Checkout" and d["status"] == "Succeeded"], what="the source action")
    assert source[0]["output"]["outputVariables"]["BranchName"] == "main"


@pytest.mark.parametrize("allowed, started", [("127.0.0.0/8", True), ("203.0.113.0/24", False)])
def test_ip_authentication(daemon, allowed, started):
    client = daemon.client()
    url = client.put_webhook(webhook=definition(authentication="IP",
                                                authenticationConfiguration={"AllowedIPRange": allowed}))["webhook"]["url"]
    status, answer = deliver(url, push_payload(), secret=None)
    assert (status == 200 and "pipelineExecutionId" in answer) is started
    if not started:
        assert status == 403 and "127.0.0.1" in answer["message"]
    assert len(executions(client, "Webhook")) == (1 if started else 0)


def test_unauthenticated_webhook_and_one_that_survives_a_restart(tmp_path, daemon):
    client = daemon.client()
    put = client.put_webhook(webhook=definition("open-hook", authentication="UNAUTHENTICATED",
                                                authenticationConfiguration={},
                                                filters=[{"jsonPath": "$.head_commit.modified[0]"}]),
                             tags=[{"key": "team", "value": "web"}])["webhook"]
    token = put["url"].split("?t=", 1)[1]
    daemon.stop()
    again = Daemon(daemon.pipelines, daemon.state).start()
    try:
        client = again.client()
        listed = client.list_webhooks()["webhooks"]
        assert [w["url"].split("?t=", 1)[1] for w in listed] == [token]
        assert listed[0]["tags"] == [{"key": "team", "value": "web"}]
        status, answer = deliver(listed[0]["url"], push_payload(), secret=None)
        assert status == 200 and "pipelineExecutionId" in answer, answer
        # A payload the filter selects nothing in: not started.
        status, answer = deliver(listed[0]["url"], json.dumps({"zen": "Keep it logically awesome."}).encode(), secret=None)
        assert status == 200 and "pipelineExecutionId" not in answer
        assert len(executions(client, "Webhook")) == 1
    finally:
        again.stop()


def test_malformed_calls_get_4xx_never_5xx(daemon):
    client = daemon.client()
    url = client.put_webhook(webhook=definition("open-hook", authentication="UNAUTHENTICATED",
                                                authenticationConfiguration={},
                                                filters=[{"jsonPath": "$.ref[?(@.name == 'x')]"}]))["webhook"]["url"]
    for body in (b"{not json", b"\xff\xfe", b"[1, 2]", b'"refs/heads/main"', b'{"ref": {"name": "x"}}'):
        status, answer = deliver(url, body, secret=None)
        assert status < 500 and "pipelineExecutionId" not in answer, (body, status, answer)
    for body in ({"event": "OPEN", "repository": ["x"]}, {"event": "MERGE"}, {"event": "UPDATED", "repository": "octo-org/web-app", "id": {"n": 1}},
                 {"event": "OPEN", "repository": "octo-org/web-app", "source": 3, "destination": "main"}, [1]):
        request = urllib.request.Request(f"{daemon.endpoint}/pipemu/pull-requests", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        try:
            urllib.request.urlopen(request, timeout=10)
            raise AssertionError(f"{body} was accepted")
        except urllib.error.HTTPError as error:
            assert 400 <= error.code < 500, (body, error.code)


# A template in the style of the GitHub (version 1) pipelines AWS's docs and public repos declare:
# the pipeline, and its webhook reading its secret from Secrets Manager.
TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  GitHubBranch: {Type: String, Default: main}
Resources:
  AppPipeline:
    Type: AWS::CodePipeline::Pipeline
    Properties:
      Name: web-release
      RoleArn: arn:aws:iam::123456789012:role/web-release-pipeline
      ArtifactStore: {Type: S3, Location: web-release-artifacts}
      Stages:
        - Name: Source
          Actions:
            - Name: GitHubSource
              ActionTypeId: {Category: Source, Owner: ThirdParty, Provider: GitHub, Version: '1'}
              Configuration:
                Owner: octo-org
                Repo: web-app
                Branch: !Ref GitHubBranch
                OAuthToken: '{{resolve:secretsmanager:github-oauth:SecretString:token}}'
                PollForSourceChanges: false
              OutputArtifacts: [{Name: SourceOutput}]
        - Name: Approve
          Actions:
            - Name: Ship
              ActionTypeId: {Category: Approval, Owner: AWS, Provider: Manual, Version: '1'}
  AppPipelineWebhook:
    Type: AWS::CodePipeline::Webhook
    Properties:
      Authentication: GITHUB_HMAC
      AuthenticationConfiguration:
        SecretToken: '{{resolve:secretsmanager:github-webhook:SecretString:token}}'
      Filters:
        - JsonPath: $.ref
          MatchEquals: refs/heads/{Branch}
      TargetPipeline: !Ref AppPipeline
      TargetAction: GitHubSource
      TargetPipelineVersion: !GetAtt AppPipeline.Version
      RegisterWithThirdParty: true
Outputs:
  WebhookUrl:
    Value: !GetAtt AppPipelineWebhook.Url
"""


def test_a_template_s_webhook_is_made_from_the_folder(tmp_path):
    repo = init_repo(tmp_path / "web-app")
    commit(repo, "first page", {"index.html": "<h1>hi</h1>"})
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "web-release.yml").write_text(TEMPLATE)
    (folder / "local.yml").write_text(yaml.safe_dump({
        "repositories": {"octo-org/web-app": {"path": str(repo)}},
        "secrets": {"github-webhook": {"env": "PIPEMU_TEST_WEBHOOK_SECRET"}, "github-oauth": {"value": '{"token": "x"}'}},
    }))
    daemon = Daemon(folder, tmp_path / "state",
                    env={"PIPEMU_TEST_WEBHOOK_SECRET": json.dumps({"token": SECRET})}).start()
    try:
        client = daemon.client()
        assert daemon.health()["definitionErrors"] == []
        (hook,) = client.list_webhooks()["webhooks"]
        # No Name: CloudFormation's STACK-LOGICAL, the stack being the file's stem.
        assert (hook["definition"]["name"], hook["definition"]["targetPipeline"]) == (
            "web-release-AppPipelineWebhook", "web-release")
        assert hook["definition"]["authenticationConfiguration"] == {"SecretToken": "****"}
        status, answer = deliver(hook["url"], push_payload(), secret="wrong")
        assert status == 403
        status, answer = deliver(hook["url"], push_payload())
        assert status == 200 and "pipelineExecutionId" in answer, answer
        execution = client.get_pipeline_execution(pipelineName="web-release",
                                                  pipelineExecutionId=answer["pipelineExecutionId"])["pipelineExecution"]
        assert execution["trigger"]["triggerType"] == "Webhook"
        name = hook["definition"]["name"]
        for call in (lambda: client.delete_webhook(name=name),
                     lambda: client.put_webhook(webhook={**hook["definition"], "authenticationConfiguration": {"SecretToken": "x"}})):
            with pytest.raises(ClientError) as error:
                call()
            assert error.value.response["Error"]["Code"] == "ValidationException"
            assert "pipelines folder" in error.value.response["Error"]["Message"]
        assert SECRET not in daemon.log()
    finally:
        daemon.stop()


def test_with_credentials_the_webhook_url_still_takes_unsigned_calls_and_nothing_else_does(tmp_path):
    repo = init_repo(tmp_path / "web-app")
    commit(repo, "first page", {"index.html": "<h1>hi</h1>"})
    folder = tmp_path / "pipelines"
    folder.mkdir()
    _pipeline_file(folder, repo)
    daemon = Daemon(folder, tmp_path / "state", env={"PIPEMU_ACCESS_KEY": "AKIDTEAMKEY", "PIPEMU_SECRET_KEY": "team-secret"}).start()
    try:
        client = daemon.client("AKIDTEAMKEY", "team-secret")
        url = client.put_webhook(webhook=definition())["webhook"]["url"]
        status, answer = deliver(url, push_payload())  # GitHub does not sign with AWS keys
        assert status == 200 and "pipelineExecutionId" in answer, answer
        status, _ = deliver(url, push_payload(), secret=None)  # the webhook's own authentication holds
        assert status == 403
        request = urllib.request.Request(f"{daemon.endpoint}/pipemu/pull-requests", method="POST",
                                         data=json.dumps({"event": "OPEN", "repository": "octo-org/web-app"}).encode(),
                                         headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert json.loads(refused.value.read())["__type"] == "MissingAuthenticationTokenException"
    finally:
        daemon.stop()
