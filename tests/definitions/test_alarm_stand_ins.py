"""`alarms:` stand-ins: declared in definition files (errors located) or brought by a template's
`AWS::CloudWatch::Alarm` resources, written as AWS users write them."""

from __future__ import annotations

import yaml

from emulator.definitions import load_folder, load_text
from emulator.definitions.cfn_import import import_template


def test_alarms_load_with_aws_initial_state_by_default(tmp_path):
    file = load_text("alarms:\n  my-service-5xx:\n    description: too many errors\n  latency-p99:\n    state: ALARM\n",
                     tmp_path / "alarms.yml")
    assert file.errors == []
    assert file.definition.alarms["my-service-5xx"].state == "INSUFFICIENT_DATA"  # as AWS gives a new alarm
    assert file.definition.alarms["my-service-5xx"].description == "too many errors"
    assert file.definition.alarms["latency-p99"].state == "ALARM"


def test_alarm_errors_name_file_line_column_and_field(tmp_path):
    file = load_text("alarms:\n  broken:\n    state: RED\n  other:\n    threshold: 5\n", tmp_path / "a.yml")
    assert [str(e) for e in file.errors] == [
        f"{tmp_path / 'a.yml'}:3:5: alarms.broken.state: must be one of 'OK', 'ALARM' or 'INSUFFICIENT_DATA'",
        f"{tmp_path / 'a.yml'}:5:5: alarms.other.threshold: unknown field (expected one of: state, description)",
    ]


def test_an_alarm_name_is_unique_across_the_folder(tmp_path):
    (tmp_path / "a.yml").write_text("alarms:\n  errors: {}\n")
    (tmp_path / "b.yml").write_text("alarms:\n  errors: {state: OK}\n")
    folder = load_folder(tmp_path)
    assert [str(e) for e in folder.errors] == [f"{tmp_path / 'b.yml'}:2:3: alarms.errors: alarm errors is also "
                                               f"declared in {tmp_path / 'a.yml'}"]
    assert folder.alarms["errors"].state == "INSUFFICIENT_DATA"


# As the CloudFormation user guide's examples write an alarm: a metric, a threshold, an SNS action.
TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Env: {Type: String, Default: dev}
Resources:
  Topic:
    Type: AWS::SNS::Topic
  CPUAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub '${Env}-cpu-high'
      AlarmDescription: CPU alarm for my instance
      AlarmActions: [!Ref Topic]
      MetricName: CPUUtilization
      Namespace: AWS/EC2
      Statistic: Average
      Period: '60'
      EvaluationPeriods: '3'
      Threshold: '90'
      ComparisonOperator: GreaterThanThreshold
      Dimensions:
        - Name: InstanceId
          Value: i-1234567890abcdef0
  ErrorsAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Metrics:
        - Id: errors
          MetricStat:
            Metric: {Namespace: AWS/Lambda, MetricName: Errors}
            Period: 60
            Stat: Sum
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
Outputs:
  AlarmArn:
    Value: !GetAtt CPUAlarm.Arn
  AlarmRef:
    Value: !Ref ErrorsAlarm
"""


def test_template_alarms_become_stand_ins_named_as_aws_names_them(tmp_path):
    result = import_template(TEMPLATE, stack_name="ops")
    assert result.definition["alarms"] == {"dev-cpu-high": {"description": "CPU alarm for my instance"},
                                           "ops-ErrorsAlarm": {}}
    said = [w for w in result.warnings if "not evaluated locally" in w]
    assert len(said) == 2
    assert "MetricName, Namespace, Statistic, Dimensions, Period, EvaluationPeriods, Threshold, ComparisonOperator, " \
           "AlarmActions ignored" in said[0]
    assert "pipemu alarm set dev-cpu-high ALARM|OK" in said[0]
    # What other resources take from an alarm has AWS's form.
    from emulator.cfn.evaluate import Stack
    from emulator.cfn import template as cfn_template

    stack = Stack(cfn_template.parse(TEMPLATE), {}, {}, "ops", "us-east-1", "123456789012", None, None)
    assert stack.getatt("CPUAlarm", "Arn", ()) == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:dev-cpu-high"
    assert stack.ref("ErrorsAlarm", ()) == "ops-ErrorsAlarm"


def test_a_template_in_the_pipelines_folder_brings_its_alarms(tmp_path):
    (tmp_path / "ops.yml").write_text(TEMPLATE)
    folder = load_folder(tmp_path)
    assert folder.errors == []
    assert sorted(folder.alarms) == ["dev-cpu-high", "ops-ErrorsAlarm"]
    assert folder.alarms["dev-cpu-high"].state == "INSUFFICIENT_DATA"
    assert any("not evaluated locally" in str(w) for w in folder.warnings)


def test_an_imported_alarm_written_out_loads_again(tmp_path):
    definition = import_template(TEMPLATE, stack_name="ops").definition
    path = tmp_path / "ops.yml"
    path.write_text(yaml.safe_dump(definition))
    assert load_text(path.read_text(), path).errors == []
