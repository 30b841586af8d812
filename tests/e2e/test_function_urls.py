"""Functions over HTTP: a function URL (AWS::Lambda::Url), SAM's FunctionUrlConfig and a SAM
HttpApi event each get a port on 127.0.0.1; requests arrive as AWS's payload 2.0 events, answers
map back as function URLs map them, and the URL in the stack's outputs still answers after the
daemon restarts."""

from __future__ import annotations

import json
import socket
import textwrap
import urllib.parse
import urllib.error
import urllib.request

import boto3
import pytest
import yaml

from tests.e2e.waiting import settle
from tests.support.daemon import Daemon, commit, init_repo

pytestmark = pytest.mark.docker

APP = textwrap.dedent('''
    import json

    def api(event, context):
        return {"statusCode": 201, "headers": {"X-Route": event["rawPath"]}, "cookies": ["a=1"],
                "body": json.dumps({"method": event["requestContext"]["http"]["method"],
                                    "query": event.get("queryStringParameters"), "body": event.get("body")})}

    def plain(event, context):
        return {"hello": event["rawPath"]}

    def broken(event, context):
        raise RuntimeError("no")
''')
TEMPLATE = textwrap.dedent('''
    AWSTemplateFormatVersion: "2010-09-09"
    Transform: AWS::Serverless-2016-10-31
    Globals:
      Function:
        Runtime: python3.12
        CodeUri: src/
    Resources:
      Api:
        Type: AWS::Serverless::Function
        Properties:
          Handler: app.api
          FunctionUrlConfig: {AuthType: NONE}
      Plain:
        Type: AWS::Serverless::Function
        Properties:
          Handler: app.plain
          Events:
            Hello: {Type: HttpApi, Properties: {Path: "/hello/{name}", Method: get}}
            Other: {Type: HttpApi, Properties: {Path: /other, Method: get}}
      Broken:
        Type: AWS::Serverless::Function
        Properties:
          Handler: app.broken
      BrokenUrl:
        Type: AWS::Lambda::Url
        Properties:
          TargetFunctionArn: !GetAtt Broken.Arn
          AuthType: NONE
    Outputs:
      ApiUrl: {Value: !GetAtt ApiUrl.FunctionUrl}
      BrokenUrl: {Value: !GetAtt BrokenUrl.FunctionUrl}
''')


def fetch(url: str, data: bytes | None = None):
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def announced(url: str, length: int) -> tuple[int, bytes]:
    """POST announcing a body of `length` bytes but sending only its start: what the endpoint
    answers before reading the rest."""
    parts = urllib.parse.urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Length: {length}\r\n"
                     "Content-Type: application/json\r\n\r\n".encode() + b"x" * 1024)
        answer = sock.makefile("rb").read()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_urls_and_http_apis_serve_the_functions(tmp_path, docker_client):
    from emulator.runner.lambda_images import ensure_runtime_image

    ensure_runtime_image(docker_client, "python3.12")
    repo = init_repo(tmp_path / "repo")
    commit(repo, "sam app", {"template.yml": TEMPLATE, "src/app.py": APP})
    action = lambda name, category, provider, **more: {  # noqa: E731
        "name": name, "actionTypeId": {"category": category, "owner": "AWS", "provider": provider, "version": "1"}, **more}
    definition = {"pipeline": {"name": "web", "stages": [
        {"name": "Source", "actions": [action("source", "Source", "CodeCommit", outputArtifacts=[{"name": "src"}],
                                              configuration={"RepositoryName": "web", "BranchName": "main",
                                                             "PollForSourceChanges": "false"})]},
        {"name": "Deploy", "actions": [action("deploy", "Deploy", "CloudFormation", inputArtifacts=[{"name": "src"}],
                                              configuration={"ActionMode": "CREATE_UPDATE", "StackName": "web",
                                                             "TemplatePath": "src::template.yml",
                                                             "Capabilities": "CAPABILITY_IAM,CAPABILITY_AUTO_EXPAND"})]}]},
        "repositories": {"web": {"path": str(repo)}}}
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "web.yml").write_text(yaml.safe_dump(definition))
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    try:
        client = daemon.client()
        client.start_pipeline_execution(name="web")
        state = settle(client, "web")
        assert state["stageStates"][1]["latestExecution"]["status"] == "Succeeded", daemon.log()
        cfn = boto3.client("cloudformation", endpoint_url=daemon.endpoint, region_name="us-east-1",
                           aws_access_key_id="t", aws_secret_access_key="t")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName="web")["Stacks"][0]["Outputs"]}
        assert outputs["ApiUrl"].startswith("http://127.0.0.1:") and outputs["ApiUrl"].endswith("/")

        status, headers, body = fetch(outputs["ApiUrl"] + "items?color=red", b'{"n": 1}')
        assert status == 201 and headers["X-Route"] == "/items" and headers["Set-Cookie"] == "a=1"
        assert json.loads(body) == {"method": "POST", "query": {"color": "red"}, "body": '{"n": 1}'}
        # Past Lambda's 6 MB payload quota: refused before the body is read (as a function URL does).
        assert announced(outputs["ApiUrl"] + "items", 7 * 1024 * 1024) == (413, b'{"message":"Request Entity Too Large"}')
        status, _, body = fetch(outputs["BrokenUrl"])
        assert (status, json.loads(body)) == (502, {"message": "Internal Server Error"})

        resources = {r["LogicalResourceId"]: r for r in cfn.describe_stack_resources(StackName="web")["StackResources"]}
        api = resources["ServerlessHttpApi"]["PhysicalResourceId"]
        status, _, body = fetch(api + "hello/ada")
        assert (status, json.loads(body)) == (200, {"hello": "/hello/ada"})
        assert json.loads(fetch(api + "other")[2]) == {"hello": "/other"}
        assert fetch(api + "other", b"{}")[0] == 404  # the route is GET only
        assert fetch(api + "elsewhere")[0] == 404

        daemon.stop()
        daemon = Daemon(tmp_path / "pipelines", tmp_path / "state", port=daemon.port).start()
        status, _, body = fetch(outputs["ApiUrl"] + "again")
        assert status == 201 and json.loads(body)["method"] == "GET"  # the same URL, after a restart
    finally:
        daemon.stop()
