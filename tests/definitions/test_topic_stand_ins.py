"""`topics:` stand-ins (SNS topics): declared in definition files or brought by a template's
AWS::SNS::Topic / AWS::SNS::Subscription, and an approval's NotificationArn checked against them."""

from __future__ import annotations

import textwrap

import yaml

from emulator.definitions import load_folder, load_text
from emulator.definitions.cfn_import import import_template


def test_topics_load_with_their_subscriptions(tmp_path):
    file = load_text(textwrap.dedent("""\
        topics:
          release-approvals:
            displayName: Release approvals
            subscriptions:
              - protocol: lambda
                endpoint: arn:aws:lambda:us-east-1:123456789012:function:approve-bot
              - {protocol: https, endpoint: "https://hooks.example.com/sns", rawMessageDelivery: true}
              - {protocol: email, endpoint: releases@example.com}
        """), tmp_path / "topics.yml")
    assert file.errors == [] and file.warnings == []
    topic = file.definition.topics["release-approvals"]
    assert [s.protocol for s in topic.subscriptions] == ["lambda", "https", "email"]
    assert topic.subscriptions[1].rawMessageDelivery is True


def test_topic_errors_name_file_line_column_and_field(tmp_path):
    file = load_text("topics:\n  ok-topic:\n    subscriptions:\n      - {protocol: carrier-pigeon, endpoint: x}\n"
                     "  'bad name!': {}\n", tmp_path / "t.yml")
    text = [str(e) for e in file.errors]
    assert any(t.startswith(f"{tmp_path / 't.yml'}:4:") and "topics.ok-topic.subscriptions[0].protocol" in t
               for t in text), text
    assert any(':5:3: topics["bad name!"]' in t and "letters, digits" in t for t in text), text


def test_what_is_not_carried_out_is_a_warning_naming_it(tmp_path):
    file = load_text(textwrap.dedent("""\
        topics:
          orders:
            kmsMasterKeyId: alias/aws/sns
            subscriptions:
              - {protocol: sqs, endpoint: "arn:aws:sqs:us-east-1:123456789012:orders"}
              - protocol: http
                endpoint: http://127.0.0.1:9000/
                filterPolicy: {store: [example_corp]}
        """), tmp_path / "t.yml")
    assert file.errors == []
    warned = {(w.line, w.path): w.message for w in file.warnings}
    assert "not encrypted" in warned[(3, "topics.orders.kmsMasterKeyId")]
    assert "sqs subscriptions are not delivered" in warned[(5, "topics.orders.subscriptions[0].protocol")]
    assert "filterPolicy is not carried out" in warned[(8, "topics.orders.subscriptions[1].filterPolicy")]


PIPELINE = """\
pipeline:
  name: release
  stages:
    - name: Source
      actions:
        - name: Source
          actionTypeId: {category: Source, owner: AWS, provider: CodeCommit, version: "1"}
          configuration: {RepositoryName: repo, BranchName: main}
          outputArtifacts: [{name: src}]
    - name: Gate
      actions:
        - name: ApproveRelease
          actionTypeId: {category: Approval, owner: AWS, provider: Manual, version: "1"}
          configuration:
            NotificationArn: arn:aws:sns:us-east-1:123456789012:TOPIC
            CustomData: Check staging first
repositories:
  repo: {path: repo}
"""


def test_an_approval_naming_an_undeclared_topic_is_a_warning(tmp_path):
    (tmp_path / "release.yml").write_text(PIPELINE.replace("TOPIC", "nobody-declared-this"))
    folder = load_folder(tmp_path)
    assert folder.errors == []
    assert "release" in folder.pipelines  # AWS accepts it: the approval still waits
    [warning] = [w for w in folder.warnings if "NotificationArn" in w.path]
    assert warning.line == 15 and "topic nobody-declared-this is not declared" in warning.message


def test_a_declared_topic_and_its_function_need_no_warning(tmp_path):
    (tmp_path / "release.yml").write_text(PIPELINE.replace("TOPIC", "approvals"))
    (tmp_path / "topics.yml").write_text(textwrap.dedent("""\
        functions:
          approve-bot: {runtime: python3.12, handler: index.handler, code: fn}
        topics:
          approvals:
            subscriptions:
              - {protocol: lambda, endpoint: approve-bot}
              - {protocol: lambda, endpoint: "arn:aws:lambda:us-east-1:123456789012:function:ghost"}
        """))
    folder = load_folder(tmp_path)
    assert folder.errors == []
    assert set(folder.topics) == {"approvals"}
    assert [(w.path, w.line) for w in folder.warnings] == [("topics.approvals.subscriptions[1].endpoint", 7)]
    assert "function ghost is not declared" in folder.warnings[0].message


# Written the way public pipeline templates declare an approval topic: an inline email
# Subscription on the topic, a separate AWS::SNS::Subscription for the bot, !Ref for the ARN.
TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  ApproverEmail:
    Type: String
    Default: team-lead@example.com
Resources:
  ApprovalTopic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub '${AWS::StackName}-approvals'
      Subscription:
        - Endpoint: !Ref ApproverEmail
          Protocol: email
  ApprovalTopicPolicy:
    Type: AWS::SNS::TopicPolicy
    Properties:
      Topics: [!Ref ApprovalTopic]
      PolicyDocument: {Version: '2012-10-17', Statement: []}
  BotSubscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref ApprovalTopic
      Protocol: lambda
      Endpoint: !GetAtt ApproveBot.Arn
  ApproveBot:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: arn:aws:iam::123456789012:role/bot
      Code:
        ZipFile: |
          def handler(event, context):
              return event["Records"][0]["Sns"]["Message"]
  BotPermission:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: !Ref ApproveBot
      Principal: sns.amazonaws.com
      SourceArn: !Ref ApprovalTopic
  Pipeline:
    Type: AWS::CodePipeline::Pipeline
    Properties:
      Name: gated
      RoleArn: arn:aws:iam::123456789012:role/pipeline
      ArtifactStore: {Type: S3, Location: artifacts}
      Stages:
        - Name: Source
          Actions:
            - Name: Source
              ActionTypeId: {Category: Source, Owner: AWS, Provider: CodeCommit, Version: 1}
              Configuration: {RepositoryName: repo, BranchName: main, PollForSourceChanges: false}
              OutputArtifacts: [{Name: src}]
        - Name: Approve
          Actions:
            - Name: Review
              ActionTypeId: {Category: Approval, Owner: AWS, Provider: Manual, Version: 1}
              Configuration:
                NotificationArn: !Ref ApprovalTopic
                CustomData: Approve the release
"""


def test_template_topics_and_subscriptions_are_imported(tmp_path):
    result = import_template(TEMPLATE, stack_name="shop")
    topics = result.definition["topics"]
    assert list(topics) == ["shop-approvals"]
    subscriptions = topics["shop-approvals"]["subscriptions"]
    assert subscriptions[0] == {"protocol": "email", "endpoint": "team-lead@example.com"}
    assert subscriptions[1]["protocol"] == "lambda"
    function = subscriptions[1]["endpoint"].rsplit(":", 1)[-1]
    assert function in result.definition["functions"]  # !GetAtt Fn.Arn names the declared function
    assert "ApprovalTopicPolicy (AWS::SNS::TopicPolicy)" in result.ignored
    configuration = result.definition["pipeline"]["stages"][1]["actions"][0]["configuration"]
    assert configuration["NotificationArn"].endswith(":sns:us-east-1:123456789012:shop-approvals")


def test_a_template_in_the_pipelines_folder_declares_its_topics(tmp_path):
    (tmp_path / "shop.yml").write_text(TEMPLATE)
    folder = load_folder(tmp_path)
    assert folder.errors == []
    assert "gated" in folder.pipelines and set(folder.topics) == {"shop-approvals"}
    assert not [w for w in folder.warnings if "NotificationArn" in w.path or "endpoint" in w.path], folder.warnings


def test_a_subscription_to_a_topic_of_another_stack_is_a_warning():
    result = import_template(textwrap.dedent("""\
        Resources:
          Sub:
            Type: AWS::SNS::Subscription
            Properties:
              TopicArn: arn:aws:sns:us-east-1:123456789012:elsewhere
              Protocol: https
              Endpoint: https://example.com/hook
        """), stack_name="s")
    assert "topics" not in result.definition
    assert any("elsewhere is not declared in this template" in w for w in result.warnings), result.warnings


def test_a_pipeline_created_through_the_api_is_checked_the_same_way():
    from emulator.definitions.loader import check_declaration

    data = yaml.safe_load(PIPELINE.replace("TOPIC", "approvals"))["pipeline"]
    _, problems, warnings = check_declaration(data, {"repositories": {"repo": object()}})
    assert problems == []
    assert [(path, message.split(" is ")[0]) for path, message in warnings] == [
        ("pipeline.stages[1].actions[0].configuration.NotificationArn", "topic approvals")]
    _, _, warnings = check_declaration(data, {"repositories": {"repo": object()}, "topics": {"approvals": object()}})
    assert warnings == []


def test_export_writes_the_approval_topic_and_imports_back(tmp_path):
    from emulator.definitions.cfn_export import export_cloudformation
    from tests.definitions.test_cfn_export import cfn_lint

    code = tmp_path / "fn"
    code.mkdir()
    (code / "index.py").write_text("def handler(event, context):\n    return None\n")
    (tmp_path / "release.yml").write_text(PIPELINE.replace("TOPIC", "approvals"))
    (tmp_path / "topics.yml").write_text(textwrap.dedent("""\
        functions:
          approve-bot: {runtime: python3.12, handler: index.handler, code: fn}
        topics:
          approvals:
            displayName: Approvals
            subscriptions:
              - {protocol: lambda, endpoint: approve-bot}
              - {protocol: email, endpoint: releases@example.com}
              - {protocol: https, endpoint: "https://hooks.example.com/sns", rawMessageDelivery: true}
        """))
    folder = load_folder(tmp_path)
    assert folder.errors == []
    text = export_cloudformation(folder.pipelines["release"][1], folder.projects, folder.functions, [],
                                 folder.repositories, folder.topics)
    template = tmp_path / "exported.yml"
    template.write_text(text)
    cfn_lint(template)
    assert "Type: AWS::SNS::Topic" in text and "Principal: sns.amazonaws.com" in text
    assert "NotificationArn: !Ref 'ApprovalsTopic'" in text
    back = import_template(text, stack_name="release", maps={"repo:repo": "repo"})
    topic = back.definition["topics"]["approvals"]
    assert topic["displayName"] == "Approvals"
    protocols = sorted((s["protocol"], s.get("rawMessageDelivery", False)) for s in topic["subscriptions"])
    assert protocols == [("email", False), ("https", True), ("lambda", False)]
    lambda_endpoint = next(s["endpoint"] for s in topic["subscriptions"] if s["protocol"] == "lambda")
    assert lambda_endpoint.endswith(":function:approve-bot")
    configuration = back.definition["pipeline"]["stages"][1]["actions"][0]["configuration"]
    assert configuration["NotificationArn"].endswith(":sns:us-east-1:123456789012:approvals")


def test_a_template_whose_file_name_makes_no_valid_topic_name_still_loads(tmp_path):
    (tmp_path / "shop.v2.yml").write_text(TEMPLATE.replace("      TopicName: !Sub '${AWS::StackName}-approvals'\n", ""))
    folder = load_folder(tmp_path)
    assert folder.errors == [] and "gated" in folder.pipelines and folder.topics == {}
    said = " ".join(w.message for w in folder.warnings)
    assert "shop.v2-ApprovalTopic is not a valid SNS topic name" in said
    assert "is not declared in any file of the folder" in said  # the approval's NotificationArn
