"""Custom action types as stand-ins: `customActionTypes:` in the pipelines folder and
AWS::CodePipeline::CustomActionType in a template; a pipeline of the folder naming a Custom type
that neither the folder nor the API declares is a definition error, as AWS refuses it."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from emulator.definitions import load_text
from emulator.definitions.cfn_import import TemplateError, import_template
from tests.e2e.waiting import wait_for
from tests.support.daemon import Daemon

# Written as public repositories write it: a Jenkins-style build action and a pipeline using it.
TEMPLATE = textwrap.dedent("""\
    AWSTemplateFormatVersion: "2010-09-09"
    Parameters:
      ProviderVersion: {Type: String, Default: "4"}
    Resources:
      JenkinsBuildActionType:
        Type: AWS::CodePipeline::CustomActionType
        Properties:
          Category: Build
          Provider: JenkinsOnPrem
          Version: !Ref ProviderVersion
          Settings:
            EntityUrlTemplate: https://jenkins.example.com/job/{Config:ProjectName}/
            ExecutionUrlTemplate: https://jenkins.example.com/job/{Config:ProjectName}/{ExternalExecutionId}/
          ConfigurationProperties:
            - Name: ProjectName
              Description: The Jenkins job
              Key: true
              Required: true
              Secret: false
              Queryable: true
              Type: String
          InputArtifactDetails: {MinimumCount: 1, MaximumCount: 1}
          OutputArtifactDetails: {MinimumCount: 0, MaximumCount: 1}
          Tags:
            - Key: owner
              Value: ci-team
      Pipeline:
        Type: AWS::CodePipeline::Pipeline
        Properties:
          Name: jenkins-release
          RoleArn: arn:aws:iam::123456789012:role/CodePipelineServiceRole
          ArtifactStore: {Type: S3, Location: codepipeline-us-east-1-artifacts}
          Stages:
            - Name: Source
              Actions:
                - Name: Source
                  ActionTypeId: {Category: Source, Owner: AWS, Provider: CodeCommit, Version: "1"}
                  Configuration: {RepositoryName: web, BranchName: main, PollForSourceChanges: false}
                  OutputArtifacts: [{Name: SourceOutput}]
            - Name: Build
              Actions:
                - Name: Jenkins
                  ActionTypeId: {Category: Build, Owner: Custom, Provider: JenkinsOnPrem, Version: !Ref ProviderVersion}
                  Configuration: {ProjectName: web-release}
                  InputArtifacts: [{Name: SourceOutput}]
                  OutputArtifacts: [{Name: BuildOutput}]
""")


def test_template_custom_action_type_becomes_a_stand_in(tmp_path):
    result = import_template(TEMPLATE)
    definition = result.definition
    (declared,) = definition["customActionTypes"]
    assert declared["provider"] == "JenkinsOnPrem" and declared["version"] == "4"
    assert declared["configurationProperties"][0] == {
        "name": "ProjectName", "description": "The Jenkins job", "key": True, "required": True, "secret": False,
        "queryable": True, "type": "String"}
    assert "tags" not in declared
    loaded = load_text(yaml.safe_dump(definition, sort_keys=False), tmp_path / "jenkins.yml")
    assert loaded.errors == [], [str(e) for e in loaded.errors]
    assert loaded.definition.customActionTypes[0].action_type()["id"] == {
        "category": "Build", "owner": "Custom", "provider": "JenkinsOnPrem", "version": "4"}


def test_template_custom_action_type_refused_as_aws_refuses_it():
    broken = TEMPLATE.replace("Secret: false\n          Queryable: true", "Secret: true\n          Queryable: true")
    with pytest.raises(TemplateError, match="must be required and not secret"):
        import_template(broken)


FOLDER_TYPES = textwrap.dedent("""\
    customActionTypes:
      - category: Deploy
        provider: MainframeRelease
        version: "1"
        configurationProperties:
          - {name: Region, required: true, key: true, secret: false, queryable: true}
        inputArtifactDetails: {minimumCount: 0, maximumCount: 0}
        outputArtifactDetails: {minimumCount: 0, maximumCount: 0}
      - category: Source
        provider: Nightly
        version: "1"
        inputArtifactDetails: {minimumCount: 0, maximumCount: 0}
        outputArtifactDetails: {minimumCount: 1, maximumCount: 1}
""")

FOLDER_PIPELINE = textwrap.dedent("""\
    pipeline:
      name: {name}
      roleArn: arn:aws:iam::123456789012:role/CodePipelineServiceRole
      artifactStore: {{type: S3, location: codepipeline-us-east-1-artifacts}}
      stages:
        - name: Source
          actions:
            - name: Nightly
              actionTypeId: {{category: Source, owner: Custom, provider: Nightly, version: "1"}}
              outputArtifacts: [{{name: Drop}}]
        - name: Release
          actions:
            - name: Mainframe
              actionTypeId: {{category: Deploy, owner: Custom, provider: {provider}, version: "1"}}
              configuration: {{Region: emea}}
""")


def test_folder_stand_ins_run_and_an_unknown_type_is_refused(tmp_path):
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "action-types.yml").write_text(FOLDER_TYPES)
    (folder / "mainframe.yml").write_text(FOLDER_PIPELINE.format(name="mainframe", provider="MainframeRelease"))
    (folder / "typo.yml").write_text(FOLDER_PIPELINE.format(name="typo", provider="MainframeRelaese"))
    daemon = Daemon(folder, tmp_path / "state").start()
    try:
        client = daemon.client()
        assert [p["name"] for p in client.list_pipelines()["pipelines"]] == ["mainframe"]
        errors = daemon.health()["definitionErrors"]
        assert any("typo.yml" in e and "Provider: 'MainframeRelaese', Owner: 'Custom', Version: '1') in action "
                   "'Mainframe' is not available" in e for e in errors), errors
        providers = {t["id"]["provider"] for t in client.list_action_types(actionOwnerFilter="Custom")["actionTypes"]}
        assert providers == {"MainframeRelease", "Nightly"}
        nightly = {"category": "Source", "owner": "Custom", "provider": "Nightly", "version": "1"}
        jobs = []
        wait_for(lambda: jobs.extend(client.poll_for_jobs(actionTypeId=nightly)["jobs"]) or jobs)
        client.acknowledge_job(jobId=jobs[0]["id"], nonce=jobs[0]["nonce"])
        client.put_job_success_result(jobId=jobs[0]["id"])
        release = {"category": "Deploy", "owner": "Custom", "provider": "MainframeRelease", "version": "1"}
        with pytest.raises(client.exceptions.ValidationException, match="queryable"):
            client.poll_for_jobs(actionTypeId=release, queryParam={"Zone": "emea"})
        assert client.poll_for_jobs(actionTypeId=release, queryParam={"Region": "apac"})["jobs"] == []
        deploy = []
        wait_for(lambda: deploy.extend(client.poll_for_jobs(actionTypeId=release,
                                                            queryParam={"Region": "emea"})["jobs"]) or deploy)
        assert deploy[0]["data"]["pipelineContext"]["stage"]["name"] == "Release"
        with pytest.raises(client.exceptions.ValidationException, match="pipelines folder"):
            client.create_custom_action_type(category="Source", provider="Nightly", version="1",
                                             inputArtifactDetails={"minimumCount": 0, "maximumCount": 0},
                                             outputArtifactDetails={"minimumCount": 1, "maximumCount": 1})
    finally:
        daemon.stop()


def test_export_writes_the_custom_action_types_a_pipeline_names(tmp_path):
    from emulator.definitions import load_folder
    from emulator.definitions.cfn_export import export_cloudformation

    imported = import_template(TEMPLATE)
    (tmp_path / "jenkins.yml").write_text(yaml.safe_dump(imported.definition, sort_keys=False))
    (tmp_path / "unused.yml").write_text(FOLDER_TYPES)
    loaded = load_folder(tmp_path)
    exported = export_cloudformation(loaded.pipelines["jenkins-release"][1], loaded.projects, loaded.functions, [],
                                     loaded.repositories, custom_action_types=[t for _, t in loaded.custom_action_types])
    resources = yaml.safe_load(exported.replace("!Ref", ""))["Resources"]
    kinds = sorted(r["Type"] for r in resources.values())
    assert kinds == ["AWS::CodePipeline::CustomActionType", "AWS::CodePipeline::Pipeline"]  # not the unused ones
    again = import_template(exported, maps={"repo:web": "repos/web"})
    assert again.definition["customActionTypes"] == imported.definition["customActionTypes"]


def test_list_action_types_pages_by_100(tmp_path):
    """More types than a page (AWS pages ListActionTypes): the folder declares 90 stand-ins."""
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "many.yml").write_text(yaml.safe_dump({"customActionTypes": [
        {"category": "Test", "provider": f"Suite{n:02d}", "version": "1",
         "inputArtifactDetails": {"minimumCount": 0, "maximumCount": 1},
         "outputArtifactDetails": {"minimumCount": 0, "maximumCount": 0}} for n in range(90)]}))
    daemon = Daemon(folder, tmp_path / "state").start()
    try:
        client = daemon.client()
        first = client.list_action_types()
        assert len(first["actionTypes"]) == 100 and first["nextToken"]
        second = client.list_action_types(nextToken=first["nextToken"])
        assert "nextToken" not in second
        everything = first["actionTypes"] + second["actionTypes"]
        custom = [t["id"]["provider"] for t in everything if t["id"]["owner"] == "Custom"]
        assert custom == [f"Suite{n:02d}" for n in range(90)]
        paginated = [t for page in client.get_paginator("list_action_types").paginate() for t in page["actionTypes"]]
        assert paginated == everything
    finally:
        daemon.stop()
