"""Issue 17's acceptance, declared the AWS way in one CloudFormation template in the pipelines
folder: an EventBridge rule on the build pipeline's SUCCEEDED invokes a Python Lambda that starts
the release pipeline; the release's manual approval has a NotificationArn, whose topic's Lambda
subscriber approves it with the token from AWS's approval message; the release then deploys to
an S3 bucket folder. Real daemon, real containers, boto3 inside the functions."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from tests.e2e.waiting import wait_for
from tests.support.daemon import Daemon, commit

pytestmark = pytest.mark.docker

START_RELEASE = '''\
import os
import boto3

def handler(event, context):
    detail = event["detail"]
    answer = boto3.client("codepipeline").start_pipeline_execution(
        name=os.environ["RELEASE_PIPELINE"], clientRequestToken=detail["execution-id"],
        variables=[{"name": "BUILD_EXECUTION", "value": detail["execution-id"]}])
    return answer["pipelineExecutionId"]
'''

APPROVER = '''\
import json
import boto3

def handler(event, context):
    sns = event["Records"][0]["Sns"]
    approval = json.loads(sns["Message"])["approval"]
    boto3.client("codepipeline").put_approval_result(
        pipelineName=approval["pipelineName"], stageName=approval["stageName"],
        actionName=approval["actionName"], token=approval["token"],
        result={"status": "Approved", "summary": "auto-approved: " + approval["customData"]})
'''

TEMPLATE = '''\
AWSTemplateFormatVersion: "2010-09-09"
Description: Build, then release behind an approval answered by a bot
Parameters:
  App:
    Type: String
    Default: shop
Resources:
  BuildPipeline:
    Type: AWS::CodePipeline::Pipeline
    Properties:
      Name: !Sub ${App}-build
      PipelineType: V2
      RoleArn: !Sub arn:aws:iam::${AWS::AccountId}:role/pipelines
      ArtifactStore: {Type: S3, Location: !Sub "${App}-artifacts"}
      Stages:
        - Name: Source
          Actions:
            - Name: Source
              ActionTypeId: {Category: Source, Owner: AWS, Provider: CodeCommit, Version: "1"}
              Configuration: {RepositoryName: !Ref App, BranchName: main, PollForSourceChanges: "false"}
              OutputArtifacts: [{Name: SourceOutput}]
        - Name: Build
          Actions:
            - Name: Build
              ActionTypeId: {Category: Build, Owner: AWS, Provider: CodeBuild, Version: "1"}
              Configuration: {ProjectName: !Sub "${App}-build"}
              InputArtifacts: [{Name: SourceOutput}]
  ReleasePipeline:
    Type: AWS::CodePipeline::Pipeline
    Properties:
      Name: !Sub ${App}-release
      PipelineType: V2
      RoleArn: !Sub arn:aws:iam::${AWS::AccountId}:role/pipelines
      ArtifactStore: {Type: S3, Location: !Sub "${App}-artifacts"}
      Variables:
        - Name: BUILD_EXECUTION
          DefaultValue: none
      Stages:
        - Name: Source
          Actions:
            - Name: Source
              ActionTypeId: {Category: Source, Owner: AWS, Provider: CodeCommit, Version: "1"}
              Configuration: {RepositoryName: !Ref App, BranchName: main, PollForSourceChanges: "false"}
              OutputArtifacts: [{Name: SourceOutput}]
        - Name: Approval
          Actions:
            - Name: ReleaseApproval
              ActionTypeId: {Category: Approval, Owner: AWS, Provider: Manual, Version: "1"}
              Configuration:
                NotificationArn: !Ref ApprovalTopic
                CustomData: "release of build #{variables.BUILD_EXECUTION}"
        - Name: Deploy
          Actions:
            - Name: Site
              ActionTypeId: {Category: Deploy, Owner: AWS, Provider: S3, Version: "1"}
              Configuration: {BucketName: !Sub "${App}-site", Extract: "true"}
              InputArtifacts: [{Name: SourceOutput}]
  StartReleaseFunction:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: !Sub ${App}-start-release
      Runtime: python3.12
      Handler: index.handler
      Role: !Sub arn:aws:iam::${AWS::AccountId}:role/start-release
      Environment:
        Variables:
          RELEASE_PIPELINE: !Ref ReleasePipeline
      Code:
        ZipFile: |
START_RELEASE
  BuildSucceeded:
    Type: AWS::Events::Rule
    Properties:
      Description: Start the release when a build succeeds
      EventPattern:
        source: [aws.codepipeline]
        detail-type: [CodePipeline Pipeline Execution State Change]
        resources: [!Sub "arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:${BuildPipeline}"]
        detail:
          state: [SUCCEEDED]
      Targets:
        - Id: start-release
          Arn: !GetAtt StartReleaseFunction.Arn
  StartReleasePermission:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: !Ref StartReleaseFunction
      Principal: events.amazonaws.com
      SourceArn: !GetAtt BuildSucceeded.Arn
  ApprovalTopic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub ${App}-release-approvals
  ApproverFunction:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: !Sub ${App}-approver
      Runtime: python3.12
      Handler: index.handler
      Role: !Sub arn:aws:iam::${AWS::AccountId}:role/approver
      Code:
        ZipFile: |
APPROVER
  ApproverSubscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref ApprovalTopic
      Protocol: lambda
      Endpoint: !GetAtt ApproverFunction.Arn
  ApproverPermission:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: !Ref ApproverFunction
      Principal: sns.amazonaws.com
      SourceArn: !Ref ApprovalTopic
'''


def test_a_build_success_starts_the_release_whose_approval_a_bot_answers(tmp_path, service_repo, busybox_image,
                                                                           python_image):
    commit(service_repo, "v1", {"index.html": "<h1>shop v1</h1>\n"})
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    (tmp_path / "site").mkdir()
    # What a template cannot say locally: where the repository, the build's image and the bucket are.
    (pipelines / "local.yml").write_text(yaml.safe_dump({
        "repositories": {"shop": {"path": str(service_repo)}},
        "projects": {"shop-build": {"image": busybox_image, "buildspec": {
            "version": 0.2, "phases": {"build": {"commands": ["test -f index.html"]}}}}},
        "buckets": {"shop-site": {"path": str(tmp_path / "site")}},
    }))
    (pipelines / "shop.yaml").write_text(TEMPLATE.replace("START_RELEASE", textwrap.indent(START_RELEASE, " " * 10))
                                         .replace("APPROVER", textwrap.indent(APPROVER, " " * 10)))
    daemon = Daemon(pipelines, tmp_path / "state").start()
    try:
        health = daemon.health()
        assert health["definitionErrors"] == [] and health["pipelines"] == 2, health
        client = daemon.client()
        build = client.start_pipeline_execution(name="shop-build")["pipelineExecutionId"]

        def release_execution():
            found = client.list_pipeline_executions(pipelineName="shop-release")["pipelineExecutionSummaries"]
            return found[0] if found and found[0]["status"] == "Succeeded" else None

        summary = wait_for(release_execution, 300, "the release to be started, approved and deployed")
        assert client.get_pipeline_execution(pipelineName="shop-build", pipelineExecutionId=build)[
            "pipelineExecution"]["status"] == "Succeeded"
        release = client.get_pipeline_execution(pipelineName="shop-release",
                                                 pipelineExecutionId=summary["pipelineExecutionId"])["pipelineExecution"]
        # Started by the Lambda through the API (signed with the daemon's keys), passing the build's id.
        assert release["trigger"]["triggerType"] == "StartPipelineExecution"
        assert {"name": "BUILD_EXECUTION", "resolvedValue": build} in release["variables"]
        details = client.list_action_executions(pipelineName="shop-release", filter={
            "pipelineExecutionId": summary["pipelineExecutionId"]})["actionExecutionDetails"]
        approval = next(d for d in details if d["actionName"] == "ReleaseApproval")
        assert approval["status"] == "Succeeded"
        assert approval["output"]["executionResult"]["externalExecutionSummary"] == f"auto-approved: release of build {build}"
        assert (tmp_path / "site" / "index.html").read_text() == "<h1>shop v1</h1>\n"
        # Only the one release: the rule matched the build pipeline's success, not the release's own.
        assert len(client.list_pipeline_executions(pipelineName="shop-release")["pipelineExecutionSummaries"]) == 1
    finally:
        daemon.stop()
