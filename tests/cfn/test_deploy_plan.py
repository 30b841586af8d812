"""Planning deploys (cfn/deploy.py): templates in the styles AWS users write them (the Lambda
user guide's Code forms, SAM with Globals, conditions, exports), evaluated for one stack."""

from __future__ import annotations

import textwrap

import pytest

from emulator.cfn.deploy import plan, read
from emulator.cfn.evaluate import TemplateError


def planned(text: str, parameters: dict | None = None, stack: str = "orders-dev", exports: dict | None = None):
    return plan(read(textwrap.dedent(text)), parameters or {}, stack, "eu-west-1", "123456789012", exports)


ARTICLE = """
    AWSTemplateFormatVersion: "2010-09-09"
    Parameters:
      ArtifactS3Bucket: {Type: String}
      LambdaS3Key: {Type: String}
      Stage: {Type: String, Default: dev, AllowedValues: [dev, qa, prod]}
      ApiKey: {Type: String, NoEcho: true, Default: s3cr3t}
    Conditions:
      IsProd: !Equals [!Ref Stage, prod]
    Resources:
      Role:
        Type: AWS::IAM::Role
        Properties: {AssumeRolePolicyDocument: {}}
      Lambda:
        Type: AWS::Lambda::Function
        Properties:
          Runtime: nodejs20.x
          Handler: index.handler
          Role: !GetAtt Role.Arn
          MemorySize: "512"
          Code: {S3Bucket: !Ref ArtifactS3Bucket, S3Key: !Ref LambdaS3Key}
          Environment:
            Variables: {STAGE: !Ref Stage, TABLE: !Sub "${AWS::StackName}-table"}
          TracingConfig: {Mode: Active}
      Alarm:
        Type: AWS::CloudWatch::Alarm
        Condition: IsProd
        Properties: {}
    Outputs:
      Name:
        Value: !Ref Lambda
        Export: {Name: !Sub "${AWS::StackName}-fn"}
      Arn: {Value: !GetAtt Lambda.Arn, Description: the function}
      Zones: {Value: !Join [",", !GetAZs ""]}
"""


def test_the_articles_function_comes_from_the_artifact_the_overrides_name():
    result = planned(ARTICLE, {"ArtifactS3Bucket": "pipemu-artifacts", "LambdaS3Key": "artifacts/e1/BuildOutput"})
    (fn,) = result.functions
    assert fn.name == "orders-dev-Lambda"
    assert fn.code == {"S3Bucket": "pipemu-artifacts", "S3Key": "artifacts/e1/BuildOutput"}
    assert (fn.runtime, fn.handler, fn.memory_size, fn.timeout) == ("nodejs20.x", "index.handler", 512, 3)
    assert fn.environment == {"STAGE": "dev", "TABLE": "orders-dev-table"}
    assert [r.logical_id for r in result.not_emulated] == ["Role"]  # the alarm's condition is false
    assert result.outputs == [
        {"OutputKey": "Name", "OutputValue": "orders-dev-Lambda", "ExportName": "orders-dev-fn"},
        {"OutputKey": "Arn", "OutputValue": "arn:aws:lambda:eu-west-1:123456789012:function:orders-dev-Lambda",
         "Description": "the function"},
        {"OutputKey": "Zones", "OutputValue": "eu-west-1a,eu-west-1b,eu-west-1c"},
    ]
    assert result.exports == {"orders-dev-fn": "orders-dev-Lambda"}
    assert result.no_echo == {"ApiKey"} and result.parameters["Stage"] == "dev"
    assert any("TracingConfig not carried out" in w for w in result.warnings)


@pytest.mark.parametrize("parameters, words", [
    ({"LambdaS3Key": "k"}, "Parameters: [ArtifactS3Bucket] must have values"),
    ({"ArtifactS3Bucket": "b", "LambdaS3Key": "k", "Nope": "x"}, "Parameters: [Nope] do not exist in the template"),
    ({"ArtifactS3Bucket": "b", "LambdaS3Key": "k", "Stage": "test"}, "'test' is not one of ['dev', 'qa', 'prod']"),
])
def test_parameters_are_refused_in_cloudformations_words(parameters, words):
    with pytest.raises(TemplateError) as refused:
        planned(ARTICLE, parameters)
    assert words in str(refused.value) and "--parameter" not in str(refused.value)


SAM = """
    AWSTemplateFormatVersion: '2010-09-09'
    Transform: AWS::Serverless-2016-10-31
    Globals:
      Function:
        Runtime: python3.12
        Timeout: 10
        Environment:
          Variables: {LOG_LEVEL: info}
    Resources:
      HelloFunction:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: hello_world/
          Handler: app.lambda_handler
          Environment:
            Variables: {GREETING: hi}
          Events:
            Hello: {Type: HttpApi, Properties: {Path: /hello, Method: get}}
            Nightly: {Type: Schedule, Properties: {Schedule: rate(1 day)}}
      Packaged:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: s3://my-bucket/abc123
          Handler: app.handler
          FunctionName: packaged-fn
      Inline:
        Type: AWS::Serverless::Function
        Properties:
          InlineCode: "def handler(e, c): return 1"
          Handler: index.handler
    Outputs:
      HelloArn: {Value: !GetAtt HelloFunction.Arn}
"""


def test_sam_functions_take_globals_and_every_code_form():
    result = planned(SAM, stack="sam-app")
    functions = {fn.name: fn for fn in result.functions}
    hello = functions["sam-app-HelloFunction"]
    assert (hello.runtime, hello.timeout, hello.code) == ("python3.12", 10, {"Path": "hello_world/"})
    assert hello.environment == {"LOG_LEVEL": "info", "GREETING": "hi"}
    assert functions["packaged-fn"].code == {"S3Bucket": "my-bucket", "S3Key": "abc123"}
    assert functions["sam-app-Inline"].code == {"ZipFile": "def handler(e, c): return 1"}
    assert result.outputs[0]["OutputValue"] == "arn:aws:lambda:eu-west-1:123456789012:function:sam-app-HelloFunction"
    assert any("Events.Nightly: Schedule events are not carried out" in w for w in result.warnings)
    assert [r.logical_id for r in result.endpoints] == ["ServerlessHttpApi"]


def test_inline_code_an_image_and_imports_of_other_stacks():
    result = planned("""
        Parameters: {}
        Resources:
          Inline:
            Type: AWS::Lambda::Function
            Properties:
              FunctionName: !ImportValue shared-prefix
              Runtime: python3.8
              Handler: index.handler
              Code:
                ZipFile: |
                  def handler(event, context):
                      return event
          Image:
            Type: AWS::Lambda::Function
            Properties:
              PackageType: Image
              Code: {ImageUri: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:latest}
              ImageConfig: {Command: [app.other]}
    """, exports={"shared-prefix": "team-fn"})
    inline, image = result.functions
    assert inline.name == "team-fn" and inline.code["ZipFile"].startswith("def handler")
    assert image.runtime is None and image.code == {"ImageUri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:latest"}
    assert image.handler == "app.other"  # ImageConfig.Command stands for the image's CMD


@pytest.mark.parametrize("resource, words", [
    ("{Type: AWS::Lambda::Function, Properties: {Handler: a.b, Code: {ZipFile: x}}}", "has no Runtime"),
    ("{Type: AWS::Lambda::Function, Properties: {Runtime: python3.12, Code: {ZipFile: x}}}", "has no Handler"),
    ("{Type: AWS::Lambda::Function, Properties: {Runtime: python3.12, Handler: a.b, Code: {S3Key: k}}}",
     "Code needs ZipFile, ImageUri, or S3Bucket and S3Key"),
])
def test_a_function_lambda_would_refuse_is_refused_naming_it(resource, words):
    with pytest.raises(TemplateError) as refused:
        planned(f"Resources:\n  Fn: {resource}\n")
    assert words in str(refused.value) and "Resources.Fn" in str(refused.value)


def test_a_macro_cannot_be_run():
    with pytest.raises(TemplateError) as refused:
        planned("Transform: MyCompany::Macro\nResources:\n  Q: {Type: AWS::SQS::Queue}\n")
    assert "macro pipemu cannot run" in str(refused.value)


@pytest.mark.parametrize("name", ["/tmp/pwn/../x", "../../etc", "a" * 65, "with space"])
def test_a_function_name_lambda_refuses_is_refused_before_anything_is_made(name):
    with pytest.raises(TemplateError) as refused:
        planned(f"""
            Resources:
              Fn:
                Type: AWS::Lambda::Function
                Properties: {{FunctionName: "{name}", Runtime: python3.12, Handler: a.b, Code: {{ZipFile: x}}}}
        """)
    assert "failed to satisfy constraint" in str(refused.value) and "FunctionName" in str(refused.value)


def test_a_conditional_sam_function_takes_its_url_with_it():
    result = planned("""
        Transform: AWS::Serverless-2016-10-31
        Conditions:
          IsProd: !Equals [!Ref "AWS::StackName", prod]
        Resources:
          Api:
            Type: AWS::Serverless::Function
            Condition: IsProd
            Properties: {InlineCode: x, Handler: index.h, Runtime: python3.12, FunctionUrlConfig: {AuthType: NONE}}
    """, stack="dev")
    assert result.resources == [] and result.endpoints == []


def test_url_settings_not_carried_out_are_named():
    result = planned("""
        Resources:
          Fn: {Type: AWS::Lambda::Function, Properties: {Runtime: python3.12, Handler: a.b, Code: {ZipFile: x}}}
          FnUrl:
            Type: AWS::Lambda::Url
            Properties: {TargetFunctionArn: !GetAtt Fn.Arn, AuthType: NONE, InvokeMode: RESPONSE_STREAM,
                         Cors: {AllowOrigins: ["*"]}}
    """)
    assert result.endpoints[0].endpoint.routes == (("ANY", "$default", "orders-dev-Fn"),)
    assert "Resources.FnUrl: Cors, InvokeMode not carried out by the local URL" in result.warnings
