"""Importing CloudFormation templates: the article-style fixtures under cfn/, every intrinsic,
parameters, conditions, mappings, ignored resources, inline Lambda code, and each error kind
naming the resource and the property."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from emulator.definitions import load_folder, load_text
from emulator.definitions.cfn_import import TemplateError, import_template, local_image, nearest_runtime, parse_assignments
from emulator.cfn.template import is_template, load, parse

CFN = Path(__file__).parent / "cfn"
SERVICE = CFN / "service-pipeline.yml"
RELEASE = CFN / "release-pipeline.yml"
DEPLOY_ROLE = {"import:shared-deploy-role-arn": "arn:aws:iam::123456789012:role/deploy"}


def written(result, folder: Path) -> list:
    """Write the import as `pipemu import` would (definitions, code files, repository folders)
    and load every definition: they must load without errors."""
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in result.files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    loaded = []
    for index, definition in enumerate(result.definitions):
        for repository in definition.get("repositories", {}).values():
            (folder / repository["path"]).mkdir(parents=True, exist_ok=True)
        path = folder / f"imported-{index}.yml"
        path.write_text(yaml.safe_dump(definition, sort_keys=False))
        file = load_text(path.read_text(), path)
        assert file.errors == [], [str(e) for e in file.errors]
        loaded.append(file.definition)
    return loaded


def test_short_tags_become_long_forms():
    data = load(
        "A: !Ref X\nB: !Sub 'a-${X}'\nC: !GetAtt R.Arn\nD: !GetAtt [R, Outputs.Url]\nE: !Join [',', [a, b]]\n"
        "F: !If [C, 1, 2]\nG: !Equals [a, b]\nH: !Not [!Condition C]\nI: !And [!Condition C, !Condition D]\n"
        "J: !Or [!Condition C, !Condition D]\nK: !Select [0, !Split [',', 'a,b']]\nL: !FindInMap [M, k, v]\n"
        "N: !Base64 text\nO: !GetAZs ''\nP: !ImportValue shared\nQ: !Sub [\"${V}\", {V: !Ref X}]\nR: !GetAtt R.Outputs.Url\n"
    )
    assert data == {
        "A": {"Ref": "X"}, "B": {"Fn::Sub": "a-${X}"}, "C": {"Fn::GetAtt": ["R", "Arn"]},
        "D": {"Fn::GetAtt": ["R", "Outputs.Url"]}, "E": {"Fn::Join": [",", ["a", "b"]]}, "F": {"Fn::If": ["C", 1, 2]},
        "G": {"Fn::Equals": ["a", "b"]}, "H": {"Fn::Not": [{"Condition": "C"}]},
        "I": {"Fn::And": [{"Condition": "C"}, {"Condition": "D"}]}, "J": {"Fn::Or": [{"Condition": "C"}, {"Condition": "D"}]},
        "K": {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}, "L": {"Fn::FindInMap": ["M", "k", "v"]},
        "N": {"Fn::Base64": "text"}, "O": {"Fn::GetAZs": ""}, "P": {"Fn::ImportValue": "shared"},
        "Q": {"Fn::Sub": ["${V}", {"V": {"Ref": "X"}}]}, "R": {"Fn::GetAtt": ["R", "Outputs.Url"]},
    }
    assert parse("A:\n  B: !Ref X\n").locate(("A", "B")).line == 2


def test_is_template():
    assert is_template(load(SERVICE.read_text()))
    assert is_template({"Resources": {"R": {"Type": "AWS::S3::Bucket"}}})
    assert not is_template({"pipeline": {"name": "p"}, "Resources": {}})
    assert not is_template({"projects": {}})
    assert not is_template([1])


def test_service_template_used_for_two_services(tmp_path):
    a = import_template(SERVICE, {"ServiceName": "service-a"}, DEPLOY_ROLE)
    b = import_template(
        SERVICE.read_text(),
        {"ServiceName": "service-b", "RepositoryName": "svc-b", "Tier": "large", "TestRunOrder": "2",
         "BuildImage": "aws/codebuild/standard:7.0"},
        {**DEPLOY_ROLE, "image:aws/codebuild/standard:7.0": "my/local:tag", "image:aws/codebuild/amazon*": "my/al2:1",
         "repo:svc-b": str(tmp_path / "git" / "svc-b")},
        stack_name="my-service-b", region="eu-west-1", account="210987654321",
    )
    (da,), (db,) = written(a, tmp_path / "a"), written(b, tmp_path / "b")
    pa, pb = a.definition["pipeline"], b.definition["pipeline"]
    assert (pa["name"], pb["name"]) == ("my-service-a-pipeline", "my-service-b-pipeline")
    # GetAtt of a role gives its ARN; Ref of a bucket its name (a Sub of parameters and pseudo parameters)
    assert pa["roleArn"] == "arn:aws:iam::123456789012:role/service-a-pipeline"
    assert pb["artifactStore"] == {"type": "S3", "location": "my-service-b-artifacts-210987654321"}
    # conditions: !If with a Not/Equals condition, AWS::NoValue removes a property and a stage
    assert pa["stages"][0]["actions"][0]["configuration"] == {"RepositoryName": "service-a", "BranchName": "main", "PollForSourceChanges": "false"}
    assert pb["stages"][0]["actions"][0]["configuration"]["RepositoryName"] == "svc-b"
    assert [s["name"] for s in pa["stages"]] == ["Source", "Building", "StagingDEV", "StagingQA", "StagingPROD"]
    assert "ExternalEntityLink" not in pa["stages"][3]["actions"][1]["configuration"]
    assert pb["stages"][3]["actions"][1]["configuration"]["ExternalEntityLink"] == "https://console.amazonaws.com/aws"
    assert pa["stages"][4]["actions"][0]["region"] == "us-east-1" and "region" not in pb["stages"][4]["actions"][0]
    no_prod = import_template(SERVICE, {"ServiceName": "service-c", "WithProd": "no"}, DEPLOY_ROLE)
    assert [s["name"] for s in no_prod.definition["pipeline"]["stages"]][-1] == "StagingQA"
    # Ref of projects gives their Name (Join, Sub with variables); Number parameter -> runOrder int
    dev = pa["stages"][2]["actions"]
    assert [a["configuration"].get("ProjectName") for a in dev] == [None, "my-service-a-test", None]
    assert dev[1]["runOrder"] == 2 and dev[2]["timeoutInMinutes"] == 60
    assert dev[0]["configuration"]["RoleArn"] == "arn:aws:iam::123456789012:role/deploy"  # ImportValue through maps
    assert dev[2]["configuration"]["CustomData"] == "service-a #{SourceVariables.CommitId}: approve to stage into QA (us-east-1)"
    assert pb["stages"][2]["actions"][2]["configuration"]["CustomData"].endswith("(eu-west-1)")
    assert pb["stages"][1]["actions"][0]["configuration"]["ProjectName"] == "my-service-b-build"
    # projects: image map (defaults and maps), mappings, environment variables, inline buildspec
    assert da.projects["my-service-a-build"].image == "pipemu/busybox:latest"
    assert db.projects["my-service-b-build"].image == "my/local:tag" and db.projects["my-service-b-test"].image == "my/al2:1"
    assert (da.projects["my-service-a-build"].privilegedMode, db.projects["my-service-b-build"].privilegedMode) == (False, True)
    assert [(v.name, v.value, v.type) for v in db.projects["my-service-b-build"].environmentVariables] == [
        ("SERVICE", "service-b", "PLAINTEXT"), ("ARTIFACTS", "s3://my-service-b-artifacts-210987654321/my-service-b", "PLAINTEXT"),
        ("DOCKER_PASSWORD", "my/docker:password", "SECRETS_MANAGER")]
    spec = da.projects["my-service-a-test"].buildspec
    assert spec["env"]["variables"] == {"REGION": "us-east-1", "TARGET": "http://service-a:8080", "LITERAL": "${NotSubstituted}"}
    assert spec["phases"]["build"]["commands"] == ["sh tests/integration.sh"]
    # repositories: from the maps, else repos/NAME with a warning
    assert db.repositories["svc-b"].path == tmp_path / "git" / "svc-b"
    assert da.repositories["service-a"].path == tmp_path / "a" / "repos" / "service-a"
    assert any("repos/service-a" in w for w in a.warnings) and not any("svc-b" in w for w in b.warnings)
    assert a.ignored == ["ArtifactBucket (AWS::S3::Bucket)", "PipelineRole (AWS::IAM::Role)", "BuildRole (AWS::IAM::Role)"]
    assert "Resources.Pipeline.Properties.RestartExecutionOnUpdate: has no local effect here; ignored" in a.warnings
    assert "Resources.BuildProject.Properties.TimeoutInMinutes: has no local effect here; ignored" in a.warnings


def test_release_template_with_inline_nodejs_lambda_and_schedules(tmp_path):
    result = import_template(RELEASE, code_dir=Path("code"), maps={"repo:my-e2e-tests": "../git/e2e"})
    (definition,) = written(result, tmp_path / "pipelines")
    assert definition.pipeline.name == "my-release-pipeline"
    assert definition.pipeline.stages[0].actions[0].configuration["RepositoryName"] == "my-e2e-tests"  # GetAtt .Name
    assert definition.pipeline.stages[2].actions[0].configuration == {
        "FunctionName": "my-release-approval", "UserParameters": '{"product": "my", "stage": "StagingDEV", "action": "approve"}'}
    assert definition.repositories["my-e2e-tests"].path == tmp_path / "git" / "e2e"
    function = definition.functions["my-release-approval"]
    assert (function.runtime, function.handler, function.timeout, function.memorySize) == ("nodejs18.x", "index.handler", 60, 256)
    assert function.code == tmp_path / "pipelines" / "code" / "my-release-approval"
    assert function.environment == {"PRODUCT": "my", "SERVICES": "service-a,service-b", "FIRST_ZONE": "us-east-1a"}
    assert list(result.files) == [Path("code/my-release-approval/index.js")]
    code = (function.code / "index.js").read_text()
    assert "require('aws-sdk')" in code and "exports.handler" in code and "${pipeline}" in code  # Base64 is identity
    assert "Resources.ReleaseFunction.Properties.Runtime: nodejs8.10 is not supported any more; my-release-approval runs on nodejs18.x" in result.warnings
    assert any("DisableInboundStageTransitions" in w for w in result.warnings)
    assert [s.model_dump(exclude_defaults=True) for s in definition.schedules] == [
        {"expression": "cron(0 1 ? * MON-FRI *)", "pipeline": "my-release-pipeline"},
        {"expression": "cron(0 6 ? * SAT *)", "pipeline": "my-release-pipeline", "enabled": False, "name": "weekend-release"},
    ]
    assert result.ignored == ["ReleaseRole (AWS::IAM::Role)", "ReleaseFunctionPermission (AWS::Lambda::Permission)",
                              "ReleaseFunctionLogs (AWS::Logs::LogGroup)", "OnTestsChange (AWS::Events::Rule)"]
    disabled = import_template(RELEASE, {"NightlyState": "DISABLED", "Product": "our"})
    assert disabled.definition["schedules"][0] == {"expression": "cron(0 1 ? * MON-FRI *)", "pipeline": "our-release-pipeline", "enabled": False}
    assert list(disabled.files) == [Path("functions/our-release-approval/index.js")]


def test_json_template_gives_the_same_definitions():
    as_json = json.dumps(load(SERVICE.read_text()), indent="\t")
    yaml_import = import_template(SERVICE, {"ServiceName": "service-a"}, DEPLOY_ROLE)
    json_import = import_template(as_json, {"ServiceName": "service-a"}, DEPLOY_ROLE)
    assert json_import.definitions == yaml_import.definitions
    assert import_template(json.dumps(load(RELEASE.read_text()))).files == import_template(RELEASE).files


def test_several_pipelines_give_one_definition_each(tmp_path):
    template = {"Resources": {}}
    for service in ("a", "b"):
        source = load(SERVICE.read_text())["Resources"]["Pipeline"]
        source["Properties"]["Name"] = f"p-{service}"
        source["Properties"]["Stages"] = source["Properties"]["Stages"][:2]
        source["Properties"]["Stages"][1]["Actions"][0]["Configuration"]["ProjectName"] = "shared-build"
        template["Resources"][f"Pipeline{service}"] = source
    template["Resources"]["Nightly"] = {"Type": "AWS::Events::Rule", "Properties": {
        "ScheduleExpression": "rate(1 day)", "Targets": [{"Id": "b", "Arn": {"Fn::GetAtt": "Pipelineb.Arn"}}]}}
    template["Parameters"] = {"ServiceName": {"Type": "String", "Default": "svc"}, "RepositoryName": {"Type": "String", "Default": ""},
                              "BranchName": {"Type": "String", "Default": "main"}}
    template["Conditions"] = {"HasRepositoryName": {"Fn::Not": [{"Fn::Equals": [{"Ref": "RepositoryName"}, ""]}]}}
    template["Resources"]["Role"] = {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "r"}}
    template["Resources"]["PipelineRole"] = {"Type": "AWS::IAM::Role"}
    template["Resources"]["ArtifactBucket"] = {"Type": "AWS::S3::Bucket"}
    result = import_template(json.dumps(template))
    first, second = written(result, tmp_path)
    assert (first.pipeline.name, second.pipeline.name) == ("p-a", "p-b")
    assert list(first.repositories) == ["svc"] and second.repositories == {}
    assert second.schedules[0].pipeline == "p-b" and first.schedules == []
    # Ref without a name: STACK-LOGICAL as CloudFormation generates it (lower case for a bucket)
    assert first.pipeline.artifactStore.model_dump(exclude_none=True) == {"type": "S3", "location": "pipemu-artifactbucket"}
    assert first.pipeline.roleArn == "arn:aws:iam::123456789012:role/pipemu-PipelineRole"


def test_image_map_and_runtimes():
    assert local_image("aws/codebuild/standard:7.0", {}) == "pipemu/busybox:latest"
    assert local_image("aws/codebuild/standard:7.0", {"image:aws/codebuild/standard:7.0": "x:1", "image:aws/*": "y:1"}) == "x:1"
    assert local_image("aws/codebuild/amazonlinux2-x86_64-standard:5.0", {"image:aws/*": "y:1"}) == "y:1"
    assert local_image("python:3.12-slim", {}) == "python:3.12-slim"
    assert local_image("aws/codebuild/standard:7.0", {}, hint="mine:1") == "mine:1"
    assert [nearest_runtime(r) for r in ("nodejs8.10", "nodejs10.x", "nodejs", "nodejs20.x", "python2.7", "python3.6", "python3.11", "java11")] == [
        "nodejs18.x", "nodejs18.x", "nodejs18.x", "nodejs20.x", "python3.12", "python3.12", "python3.11", None]
    assert parse_assignments(["image:aws/codebuild/standard:7.0=my/local:tag", "A=b=c"]) == {
        "image:aws/codebuild/standard:7.0": "my/local:tag", "A": "b=c"}
    with pytest.raises(ValueError):
        parse_assignments(["nothing"])


FUNCTION = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: release
      Runtime: python3.6
      Handler: index.handler
      Role: arn:aws:iam::123456789012:role/x
      Code:
        S3Bucket: code-bucket
        S3Key: release.zip
"""


def test_lambda_code_in_s3_is_a_folder_to_fill_or_a_map(tmp_path):
    result = import_template(FUNCTION)
    assert result.definition == {"functions": {"release": {"runtime": "python3.12", "handler": "index.handler",
                                                           "code": "functions/release"}}}
    assert ("Resources.Fn.Properties.Code: the code of release is s3://code-bucket/release.zip: put it in "
            "functions/release (relative to the written definition) or give --map code:release=FOLDER") in result.warnings
    result = import_template(FUNCTION, maps={"code:release": str(tmp_path / "release")})
    assert result.definition == {"functions": {"release": {"runtime": "python3.12", "handler": "index.handler", "code": str(tmp_path / "release")}}}
    assert result.warnings == ["Resources.Fn.Properties.Runtime: python3.6 is not supported any more; release runs on python3.12"]
    inline = import_template(FUNCTION.replace("S3Bucket: code-bucket\n        S3Key: release.zip", "ZipFile: |\n          def handler(e, c): pass"))
    assert inline.files == {Path("functions/release/index.py"): "def handler(e, c): pass\n"}


SMALL = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Name: {Type: String}
Resources:
  BuildProject:
    Type: AWS::CodeBuild::Project
    Properties:
      Name: !Ref Name
      Source: {Type: CODEPIPELINE}
      Environment: {Type: LINUX_CONTAINER, ComputeType: BUILD_GENERAL1_SMALL, Image: aws/codebuild/standard:7.0}
      ServiceRole: arn:aws:iam::123456789012:role/x
"""


@pytest.mark.parametrize("edit, parameters, maps, expected", [
    (None, {"Name": "b", "Other": "x"}, {},
     "Parameters.Other: Parameters: [Other] do not exist in the template (its parameters: Name"),
    (None, {}, {}, "3:3: Parameters.Name: Parameters: [Name] must have values (--parameter Name=VALUE)"),
    (("Name: {Type: String}", "Name: {Type: String, AllowedValues: [a, b]}"), {"Name": "c"}, {},
     "3:24: Parameters.Name.AllowedValues: parameter Name: 'c' is not one of ['a', 'b']"),
    (("Name: {Type: String}", "Name: {Type: String, MinLength: 3, ConstraintDescription: three or more}"), {"Name": "ab"}, {},
     "3:24: Parameters.Name.MinLength: parameter Name: 'ab' is 2 characters; MinLength is 3 (three or more)"),
    (("Name: {Type: String}", "Name: {Type: String, AllowedPattern: '[a-z]+'}"), {"Name": "B1"}, {},
     "Parameters.Name.AllowedPattern: parameter Name: 'B1' does not match [a-z]+"),
    (("Name: {Type: String}", "Name: {Type: Number, MaxValue: 5}"), {"Name": "9"}, {},
     "Parameters.Name.MaxValue: parameter Name: 9 is outside MaxValue 5"),
    (("      ServiceRole", "      Frobnicate: []\n      ServiceRole"), {"Name": "b"}, {},
     "11:7: Resources.BuildProject.Properties.Frobnicate: CloudFormation's AWS::CodeBuild::Project has no property Frobnicate"),
    (("Name: !Ref Name", "Name: !Ref Missing"), {"Name": "b"}, {},
     "8:7: Resources.BuildProject.Properties.Name: Missing is neither a parameter, a pseudo parameter nor a resource"),
    (("Name: !Ref Name", "Name: !FindInMap [M, a, b]"), {"Name": "b"}, {},
     "Resources.BuildProject.Properties.Name: Fn::FindInMap: Mappings has no M.a.b"),
    (("Name: !Ref Name", "Name: !If [Nope, a, b]"), {"Name": "b"}, {},
     "Resources.BuildProject.Properties.Name: condition Nope is not declared in Conditions"),
    (None, {"Name": "b"}, {"thing:x": "y"}, "maps.thing:x: unknown map"),
])
def test_errors_name_resource_and_property(edit, parameters, maps, expected):
    text = SMALL.replace(*edit) if edit else SMALL
    with pytest.raises(TemplateError) as error:
        import_template(text, parameters, maps)
    assert expected in str(error.value)


PIPELINE = SERVICE.read_text()


@pytest.mark.parametrize("old, new, expected", [
    ("      PipelineType: V2\n", "      PipelineType: V2\n      Frobnicate: true\n",
     "Resources.Pipeline.Properties.Frobnicate: CloudFormation's AWS::CodePipeline::Pipeline has no property Frobnicate"),
    ("              Namespace: SourceVariables\n", "              Namespace: SourceVariables\n              Retries: 3\n",
     "Resources.Pipeline.Properties.Stages[0].Actions[0].Retries: CloudFormation has no such property"),
    ("RunOrder: 3", "RunOrder: 1000", "Resources.Pipeline.Properties.Stages[2].Actions[2].RunOrder: must be 1..999"),
])
def test_pipeline_errors_name_resource_and_property(old, new, expected):
    text, parameters = (PIPELINE, {"ServiceName": "s"}) if old in PIPELINE else (RELEASE.read_text(), {})
    assert old in text
    with pytest.raises(TemplateError) as error:
        import_template(text.replace(old, new, 1), parameters, DEPLOY_ROLE)
    assert expected in str(error.value)
    line = text.replace(old, new, 1).splitlines()[error.value.line - 1]
    assert expected.split(":")[0].split(".")[-1].split("[")[0] in line or "Type" in line or "Arn" in line


@pytest.mark.parametrize("old, new, expected", [
    ("Provider: CloudFormation, Version: \"1\"}\n              Configuration:\n                ActionMode: CREATE_UPDATE\n                StackName: !Ref ServiceName\n                RoleArn",
     "Provider: CodeDeploy, Version: \"1\"}\n              Configuration:\n                ApplicationName: c\n                DeploymentGroupName: !Ref ServiceName\n                RoleArn",
     None),  # accepted: the warning comes from validate (coverage.py)
    ("Runtime: nodejs8.10", "Runtime: java11",
     "Resources.ReleaseFunction.Properties.Runtime: java11 is not a runtime pipemu runs (python3.x and nodejs); "
     "my-release-approval is not declared (an action invoking it fails when it runs)"),
    ("Arn: !GetAtt ReleasePipeline.Arn\n", "Arn: !GetAtt ReleaseFunction.Arn\n",
     "Resources.WeekendRelease.Properties.Targets[0].Arn: arn:aws:lambda:us-east-1:123456789012:function:my-release-approval "
     "is not a pipeline: only schedules that start pipelines are emulated; this target is ignored"),
    ("Resources:\n", "Resources:\n  Registry:\n    Type: AWS::ECR::Repository\n",
     "not emulated, ignored: Registry (AWS::ECR::Repository)"),
])
def test_what_aws_accepts_imports_with_warnings(old, new, expected):
    text, parameters = (PIPELINE, {"ServiceName": "s"}) if old in PIPELINE else (RELEASE.read_text(), {})
    assert old in text
    result = import_template(text.replace(old, new, 1), parameters, DEPLOY_ROLE)
    assert result.definitions[0]["pipeline"]
    if expected:
        assert any(expected in w for w in result.warnings), result.warnings


def test_template_syntax_and_kind_errors(tmp_path):
    with pytest.raises(TemplateError, match="not a CloudFormation template"):
        import_template("pipeline: {name: p}\n")
    with pytest.raises(TemplateError, match=r"^4:1: <template>: expected the node content"):
        import_template("Resources:\n  A: {Type: AWS::S3::Bucket}\n  B: [\n")
    path = tmp_path / "t.yml"
    path.write_text("Resources:\n  A:\n    Type: AWS::Foo::Bar\n")
    assert import_template(path).ignored == ["A (AWS::Foo::Bar)"]
    with pytest.raises(FileNotFoundError):
        import_template(str(tmp_path / "missing.yml"))


def test_templates_of_a_folder_import_each_others_exports(tmp_path):
    (tmp_path / "shared.yml").write_text(
        'AWSTemplateFormatVersion: "2010-09-09"\nResources:\n  Artifacts: {Type: AWS::S3::Bucket}\n'
        "Outputs:\n  Bucket:\n    Value: !Ref Artifacts\n    Export: {Name: !Sub '${AWS::StackName}-bucket'}\n")
    (tmp_path / "service.yml").write_text("""\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Pipeline:
    Type: AWS::CodePipeline::Pipeline
    Properties:
      Name: svc
      RoleArn: arn:aws:iam::123456789012:role/p
      ArtifactStore: {Type: S3, Location: !ImportValue shared-bucket}
      Stages:
        - Name: Source
          Actions:
            - Name: source
              ActionTypeId: {Category: Source, Owner: AWS, Provider: CodeCommit, Version: 1}
              Configuration: {RepositoryName: svc, BranchName: main}
              OutputArtifacts: [{Name: Src}]
        - Name: Gate
          Actions:
            - Name: approve
              ActionTypeId: {Category: Approval, Owner: AWS, Provider: Manual, Version: 1}
""")
    loaded = load_folder(tmp_path)
    assert loaded.errors == []
    (_, declaration), = loaded.pipelines.values()
    assert declaration.artifactStore.location == "shared-artifacts"  # the other stack's bucket, named as CloudFormation would
    alone = import_template(tmp_path / "service.yml")
    assert alone.definition["pipeline"]["artifactStore"]["location"] == "shared-bucket"  # no such stack: the name, said
    assert any("Fn::ImportValue shared-bucket: no stack pipemu knows exports it" in w for w in alone.warnings)


def test_what_a_pipeline_takes_from_resources_not_emulated_has_the_form_aws_gives_it():
    template = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Registry: {Type: AWS::ECR::Repository, Properties: {RepositoryName: web}}
  Connection: {Type: AWS::CodeStarConnections::Connection, Properties: {ConnectionName: gh, ProviderType: GitHub}}
  Build:
    Type: AWS::CodeBuild::Project
    Properties:
      ServiceRole: arn:aws:iam::123456789012:role/b
      Source: {Type: CODEPIPELINE}
      Artifacts: {Type: CODEPIPELINE}
      Environment:
        Type: LINUX_CONTAINER
        ComputeType: BUILD_GENERAL1_SMALL
        Image: aws/codebuild/standard:7.0
        EnvironmentVariables:
          - {Name: REPOSITORY_URI, Value: !GetAtt Registry.RepositoryUri}
          - {Name: REGISTRY_ARN, Value: !GetAtt Registry.Arn}
          - {Name: CONNECTION, Value: !Ref Connection}
"""
    result = import_template(template, stack_name="web")
    variables = {v["name"]: v["value"] for v in result.definition["projects"]["web-Build"]["environmentVariables"]}
    assert variables == {"REPOSITORY_URI": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web",
                         "REGISTRY_ARN": "arn:aws:ecr:us-east-1:123456789012:repository/web",
                         "CONNECTION": "arn:aws:codestar-connections:us-east-1:123456789012:connection/gh"}
    assert any("Registry (AWS::ECR::Repository)" in w and "Connection" not in w.split("ignored:")[1]
               for w in result.warnings if "not emulated, ignored" in w)


def test_a_projects_cache_is_imported_and_exported(tmp_path):
    """`Cache` of an AWS::CodeBuild::Project (as CDK's Cache.local writes it) becomes the project's
    cache, and an export writes it back."""
    from emulator.definitions.cfn_export import export_cloudformation

    template = load(SERVICE.read_text())
    project = next(r for r in template["Resources"].values() if r["Type"] == "AWS::CodeBuild::Project")
    project["Properties"]["Cache"] = {"Type": "LOCAL", "Modes": ["LOCAL_DOCKER_LAYER_CACHE", "LOCAL_CUSTOM_CACHE"]}
    result = import_template(json.dumps(template), {"ServiceName": "service-a"}, DEPLOY_ROLE)
    assert not [w for w in result.warnings if "Cache" in str(w)], result.warnings
    (definition,) = [d for d in written(result, tmp_path) if d.projects]
    (cache,) = [p.cache for p in definition.projects.values() if p.cache is not None]
    assert (cache.type, cache.modes, cache.keeps_paths) == ("LOCAL", ["LOCAL_DOCKER_LAYER_CACHE", "LOCAL_CUSTOM_CACHE"], True)
    exported = load(export_cloudformation(definition.pipeline, definition.projects))
    (again,) = [r["Properties"]["Cache"] for r in exported["Resources"].values()
                if r["Type"] == "AWS::CodeBuild::Project" and "Cache" in r["Properties"]]
    assert again == {"Type": "LOCAL", "Modes": ["LOCAL_DOCKER_LAYER_CACHE", "LOCAL_CUSTOM_CACHE"]}
