"""Event rules as declared: `eventRules:` in a definition file (errors at file:line:column with
the field path, warnings for what is not carried out) and AWS::Events::Rule with an EventPattern
in a CloudFormation template (import and the pipelines folder alike)."""

from __future__ import annotations

import textwrap

from emulator.definitions import load_folder
from emulator.definitions.cfn_import import import_template
from emulator.definitions.loader import load_text
from emulator.events import rules_from_folder


def test_a_bad_pattern_is_an_error_where_it_is_written():
    text = textwrap.dedent("""\
        eventRules:
          - name: failed-deploys
            eventPattern:
              source: [aws.codepipeline]
              detail:
                state: [FAILED]
                type:
                  category: [Deploy, {numeric: [">", "one"]}]
            targets:
              - url: http://localhost:9000/alerts
        """)
    errors = [str(e) for e in load_text(text, "alerts.yml").errors]
    assert errors == ["alerts.yml:8:30: eventRules[0].eventPattern.detail.type.category[1]: "
                      "Event pattern is not valid. Reason: Value of > must be numeric"]


def test_targets_are_one_kind_each_and_input_is_json():
    text = textwrap.dedent("""\
        eventRules:
          - name: r1
            eventPattern: '{"source": ["aws.codepipeline"]}'
            targets:
              - {function: f, pipeline: p}
              - {url: "http://localhost:1/", input: "not json"}
          - name: "bad name!"
            eventPattern: {source: aws.codepipeline}
        """)
    errors = [str(e) for e in load_text(text, "r.yml").errors]
    assert "r.yml:5:9: eventRules[0].targets[0]: give exactly one of arn, function, pipeline, topic, url" in errors
    assert any(e.startswith("r.yml:6:9: eventRules[0].targets[1]: input must be valid JSON text") for e in errors)
    assert any(e.startswith("r.yml:7:5: eventRules[1].name: string should match pattern") for e in errors)


def test_what_is_not_carried_out_is_a_warning_that_names_it():
    text = textwrap.dedent("""\
        eventRules:
          - name: to-a-queue
            eventPattern: {source: [aws.codepipeline]}
            targets:
              - arn: arn:aws:sqs:us-east-1:123456789012:pipeline-events
              - function: notifier
                inputTransformer:
                  InputPathsMap: {state: $.detail.state}
                  InputTemplate: '"<state>"'
        """)
    loaded = load_text(text, "q.yml")
    assert loaded.errors == []
    warnings = [str(w) for w in loaded.warnings]
    assert any("q.yml:5:9: warning: eventRules[0].targets[0].arn: arn:aws:sqs:us-east-1:123456789012:pipeline-events: "
               "sqs targets are not emulated" in w for w in warnings), warnings
    assert any("eventRules[0].targets[1].inputTransformer: is not carried out" in w for w in warnings), warnings


def test_rules_of_a_folder_reach_the_bus_with_their_targets(tmp_path):
    (tmp_path / "a.yml").write_text(textwrap.dedent("""\
        eventRules:
          - name: on-failure
            state: DISABLED
            eventPattern: {source: [aws.codepipeline], detail: {state: [FAILED]}}
            targets:
              - arn: arn:aws:lambda:us-east-1:123456789012:function:pager
                inputPath: $.detail
              - arn: arn:aws:codepipeline:us-east-1:123456789012:rollback
              - topic: alerts
        """))
    (tmp_path / "b.yml").write_text("eventRules:\n  - name: on-failure\n    eventPattern: {source: [x]}\n")
    folder = load_folder(tmp_path)
    assert [str(e) for e in folder.errors] == [
        f"{tmp_path / 'b.yml'}:2:5: eventRules[0].name: event rule on-failure is also declared in {tmp_path / 'a.yml'}"]
    (rule,) = rules_from_folder(folder)
    assert (rule.name, rule.enabled) == ("on-failure", False)
    assert [(t.kind, t.name, t.input_path) for t in rule.targets] == [
        ("function", "pager", "$.detail"), ("pipeline", "rollback", None), ("topic", "alerts", None)]


TEMPLATE = textwrap.dedent("""\
    AWSTemplateFormatVersion: "2010-09-09"
    Parameters:
      PipelineName: {Type: String, Default: web-release}
    Resources:
      Alerts:
        Type: AWS::SNS::Topic
        Properties: {TopicName: release-alerts}
      Webhook:
        Type: AWS::Events::ApiDestination
        Properties:
          ConnectionArn: !GetAtt WebhookConnection.Arn
          HttpMethod: POST
          InvocationEndpoint: https://hooks.example.com/deploys
      WebhookConnection:
        Type: AWS::Events::Connection
        Properties:
          AuthorizationType: API_KEY
          AuthParameters: {ApiKeyAuthParameters: {ApiKeyName: x-api-key, ApiKeyValue: k}}
      FailedStages:
        Type: AWS::Events::Rule
        Properties:
          Name: web-release-failed-stages
          EventPattern: !Sub |
            {"source": ["aws.codepipeline"],
             "detail-type": ["CodePipeline Stage Execution State Change"],
             "detail": {"pipeline": ["${PipelineName}"], "state": ["FAILED"]}}
          Targets:
            - {Arn: !Ref Alerts, Id: alerts, InputPath: $.detail}
            - {Arn: !GetAtt Webhook.Arn, Id: hook, RoleArn: arn:aws:iam::123456789012:role/events,
               RetryPolicy: {MaximumRetryAttempts: 2}}
            - Arn: !Sub "arn:aws:codepipeline:${AWS::Region}:${AWS::AccountId}:web-rollback"
              Id: rollback
              Input: '{"reason": "stage failed"}'
      OnCommit:
        Type: AWS::Events::Rule
        Properties:
          EventPattern: {source: [aws.codecommit], detail-type: [CodeCommit Repository State Change]}
          Targets: [{Arn: !Sub "arn:aws:codepipeline:${AWS::Region}:${AWS::AccountId}:web-release", Id: p}]
    """)


def test_an_events_rule_with_an_event_pattern_is_imported():
    result = import_template(TEMPLATE, stack_name="web")
    (definition,) = result.definitions
    (rule,) = definition["eventRules"]
    assert rule["name"] == "web-release-failed-stages"
    assert rule["eventPattern"]["detail"] == {"pipeline": ["web-release"], "state": ["FAILED"]}
    assert rule["targets"] == [
        {"arn": "arn:aws:sns:us-east-1:123456789012:release-alerts", "id": "alerts", "inputPath": "$.detail"},
        {"url": "https://hooks.example.com/deploys", "id": "hook"},
        {"arn": "arn:aws:codepipeline:us-east-1:123456789012:web-rollback", "id": "rollback",
         "input": '{"reason": "stage failed"}'},
    ]
    assert any("RetryPolicy: has no local effect here" in w for w in result.warnings), result.warnings
    # A rule on CodeCommit's events: pipemu's commit watchers do that work; said, and left out.
    assert "OnCommit (AWS::Events::Rule)" in result.ignored
    assert any("OnCommit.Properties.EventPattern.source: aws.codecommit" in w for w in result.warnings)


def test_a_template_in_the_pipelines_folder_gives_its_rules_to_the_bus(tmp_path):
    (tmp_path / "web.yaml").write_text(TEMPLATE)
    folder = load_folder(tmp_path)
    assert folder.errors == []
    (rule,) = rules_from_folder(folder)
    assert [(t.kind, t.name) for t in rule.targets] == [
        ("topic", "arn:aws:sns:us-east-1:123456789012:release-alerts"), ("url", "https://hooks.example.com/deploys"),
        ("pipeline", "web-rollback")]


def test_a_template_s_bad_pattern_is_an_error_with_its_path(tmp_path):
    (tmp_path / "bad.yaml").write_text(TEMPLATE.replace('"state": ["FAILED"]', '"state": [{"anything-but": {"x": 1}}]'))
    errors = [str(e) for e in load_folder(tmp_path).errors]
    assert errors == [f"{tmp_path / 'bad.yaml'}:1:1: eventRules[0].eventPattern.detail.state[0]: Event pattern is not "
                      "valid. Reason: Unsupported anything-but pattern: x"]


def test_export_writes_the_rules_naming_the_pipeline_and_import_reads_them_back(tmp_path):
    from emulator.definitions.cfn_export import export_cloudformation, exported_rules
    from tests.engine.harness import article_declaration

    declaration = {**article_declaration("web"), "roleArn": "arn:aws:iam::123456789012:role/p",
                   "artifactStore": {"type": "S3", "location": "bucket"}}
    for stage in declaration["stages"]:
        for action in stage["actions"]:
            action["configuration"] = {"RepositoryName": "web", "BranchName": "main"} \
                if action["actionTypeId"]["category"] == "Source" else ({"ProjectName": "build"}
                                                                         if action["actionTypeId"]["provider"] == "CodeBuild" else {})
    rules = [{"name": "web-succeeded", "description": "tell the team",
              "eventPattern": {"source": ["aws.codepipeline"], "detail": {"pipeline": ["web"], "state": ["SUCCEEDED"]}},
              "targets": [{"function": "notify", "inputPath": "$.detail"}, {"url": "https://hooks.example.com/x"},
                          {"pipeline": "smoke"}]},
             {"name": "other", "eventPattern": {"detail": {"pipeline": ["api"]}}}]
    functions = {"notify": {"runtime": "python3.12", "handler": "index.handler", "code": str(tmp_path)}}
    (tmp_path / "index.py").write_text("def handler(event, context):\n    return event\n")
    assert [r["name"] for r in exported_rules(rules, "web")] == ["web-succeeded"]
    text = export_cloudformation(declaration, {}, functions, [], {}, event_rules=exported_rules(rules, "web"))
    assert "pipeline:\n          - !Ref 'Pipeline'" in text
    assert "Arn: !GetAtt 'NotifyFunction.Arn'" in text and "AWS::Events::ApiDestination" in text
    imported = import_template(text, stack_name="web")
    (rule,) = imported.definitions[0]["eventRules"]
    assert rule["name"] == "web-succeeded" and rule["description"] == "tell the team"
    assert rule["eventPattern"] == {"source": ["aws.codepipeline"], "detail": {"pipeline": ["web"], "state": ["SUCCEEDED"]}}
    assert rule["targets"] == [
        {"arn": "arn:aws:lambda:us-east-1:123456789012:function:notify", "id": "target1", "inputPath": "$.detail"},
        {"url": "https://hooks.example.com/x", "id": "target2"},
        {"arn": "arn:aws:codepipeline:us-east-1:123456789012:smoke", "id": "target3"}]


def test_a_target_naming_a_function_or_pipeline_nobody_declared_is_a_warning(tmp_path):
    (tmp_path / "a.yml").write_text(textwrap.dedent("""\
        eventRules:
          - name: r
            eventPattern: {source: [aws.codepipeline]}
            targets:
              - function: ghost
              - arn: arn:aws:codepipeline:us-east-1:123456789012:nope
        """))
    folder = load_folder(tmp_path)
    assert folder.errors == []
    assert [str(w) for w in folder.warnings] == [
        f"{tmp_path / 'a.yml'}:5:9: warning: eventRules[0].targets[0].function: function ghost is not declared in any "
        f"file of {tmp_path}: unless a stack or the API makes it, delivering to it fails",
        f"{tmp_path / 'a.yml'}:6:9: warning: eventRules[0].targets[1].arn: pipeline nope is not declared in any "
        f"file of {tmp_path}: unless a stack or the API makes it, delivering to it fails"]
