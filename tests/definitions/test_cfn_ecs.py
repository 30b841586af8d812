"""ECS services of a template become `clusters:` stand-ins (definitions/cfn_ecs.py): the service
the ECS deploy action names is declared, with its task definition's container, port, environment
and health check; what has no local effect is said."""

from __future__ import annotations

import yaml

from emulator.definitions import load_folder
from emulator.definitions.cfn_import import import_template
from emulator.definitions.models import DefinitionFile

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Description: Storefront on Fargate, deployed by its pipeline
Parameters:
  ImageTag: {Type: String, Default: latest}
Resources:
  AppCluster:
    Type: AWS::ECS::Cluster
    Properties: {ClusterName: shop-cluster}
  WebTask:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: shop-web
      NetworkMode: awsvpc
      RequiresCompatibilities: [FARGATE]
      Cpu: "256"
      Memory: "512"
      ContainerDefinitions:
        - Name: web
          Image: !Sub "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop-web:${ImageTag}"
          Essential: true
          Command: [node, server.js]
          PortMappings: [{ContainerPort: 3000, Protocol: tcp}]
          Environment: [{Name: NODE_ENV, Value: production}]
          HealthCheck:
            Command: [CMD-SHELL, "wget -q -O- http://localhost:3000/health || exit 1"]
            Interval: 10
            Retries: 3
        - Name: log-router
          Image: amazon/aws-for-fluent-bit:stable
          Essential: false
  WebService:
    Type: AWS::ECS::Service
    Properties:
      ServiceName: shop-web
      Cluster: !Ref AppCluster
      TaskDefinition: !Ref WebTask
      DesiredCount: 2
      LaunchType: FARGATE
      NetworkConfiguration:
        AwsvpcConfiguration: {Subnets: [subnet-0abc], AssignPublicIp: ENABLED}
  WorkerService:
    Type: AWS::ECS::Service
    Properties:
      Cluster: arn:aws:ecs:us-east-1:123456789012:cluster/batch
      TaskDefinition: arn:aws:ecs:us-east-1:123456789012:task-definition/worker:7
  Pipeline:
    Type: AWS::CodePipeline::Pipeline
    Properties:
      Name: shop-release
      PipelineType: V2
      RoleArn: arn:aws:iam::123456789012:role/pipeline
      ArtifactStore: {Type: S3, Location: shop-artifacts}
      Stages:
        - Name: Source
          Actions:
            - Name: Source
              ActionTypeId: {Category: Source, Owner: AWS, Provider: CodeCommit, Version: "1"}
              Configuration: {RepositoryName: shop, BranchName: main, PollForSourceChanges: "false"}
              OutputArtifacts: [{Name: SourceOutput}]
        - Name: Deploy
          Actions:
            - Name: DeployWeb
              ActionTypeId: {Category: Deploy, Owner: AWS, Provider: ECS, Version: "1"}
              Configuration:
                ClusterName: !Ref AppCluster
                ServiceName: !GetAtt WebService.Name
                FileName: imagedefinitions.json
              InputArtifacts: [{Name: SourceOutput}]
"""


def test_services_become_cluster_stand_ins():
    result = import_template(TEMPLATE)
    clusters = DefinitionFile.model_validate(result.definition).clusters
    assert set(clusters) == {"shop-cluster", "batch"}
    web = clusters["shop-cluster"].services["shop-web"]
    assert (web.container, web.command, web.port, web.environment) == ("web", ["node", "server.js"], 3000,
                                                                       {"NODE_ENV": "production"})
    assert web.healthCheck.command == "wget -q -O- http://localhost:3000/health || exit 1"
    assert (web.healthCheck.interval, web.healthCheck.retries) == (10, 3)
    worker = clusters["batch"].services["pipemu-WorkerService"]  # generated name, cluster from its ARN
    assert worker.container is None and worker.port is None
    for words in ("WebService.Properties.DesiredCount: has no local effect here",
                  "WebService.Properties.NetworkConfiguration: has no local effect here",
                  "service shop-web runs only its container web here (a task of 2 containers on AWS)",
                  "WorkerService.Properties.TaskDefinition: not a task definition of this template"):
        assert any(words in w for w in result.warnings), (words, result.warnings)
    assert not any("AWS::ECS" in i for i in result.ignored)


def test_the_pipelines_ecs_deploy_finds_the_imported_service(tmp_path):
    result = import_template(TEMPLATE)
    action = result.definition["pipeline"]["stages"][1]["actions"][0]
    assert action["configuration"]["ClusterName"] == "shop-cluster"
    assert action["configuration"]["ServiceName"] == "shop-web"
    (tmp_path / "shop.yml").write_text(yaml.safe_dump({**result.definition, "repositories": {"shop": {"path": "repo"}}}))
    folder = load_folder(tmp_path)
    assert folder.errors == []
    assert not any("cluster" in str(w) for w in folder.warnings), folder.warnings
    assert "shop-web" in folder.clusters["shop-cluster"].services
