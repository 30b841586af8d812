"""The V2 Commands action's declaration, checked as AWS checks it, each error at its file:line:column:
only in V2 pipelines, `commands` present (1..50 of 1..1000 characters, one line each), `commands`
and an output's `files` only on a compute action, AWS's configuration keys only."""

from __future__ import annotations

import pytest

from emulator.definitions import load_text

# Line numbers of this text are the ones the expected errors below name.
BASE = """\
pipeline:
  name: p
  pipelineType: V2
  stages:
    - name: Source
      actions:
        - name: src
          actionTypeId: {category: Source, owner: AWS, provider: CodeCommit, version: "1"}
          configuration: {RepositoryName: r, BranchName: main}
          outputArtifacts: [{name: Src}]
    - name: Build
      actions:
        - name: Commands_action
          actionTypeId: {category: Compute, owner: AWS, provider: Commands, version: "1"}
          configuration: {}
          inputArtifacts: [{name: Src}]
          outputArtifacts:
            - name: BuildArtifact
              files: ["**/"]
          commands:
            - ls
            - "echo pipeline Execution Id is #{codepipeline.PipelineExecutionId}"
          outputVariables: [AWS_DEFAULT_REGION]
          namespace: compute
repositories:
  r: {path: /tmp/r}
"""

AT = "pipeline.stages[1].actions[0]"


def _edit(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new, 1)


def test_the_user_guides_example_loads_with_no_warning():
    loaded = load_text(BASE, "p.yml")
    assert loaded.errors == [] and loaded.warnings == []


@pytest.mark.parametrize("text, expected", [
    (_edit("  pipelineType: V2\n", ""),  # AWS's default type is V1
     [f"p.yml:13:11: {AT}.actionTypeId: Commands (Compute) actions are only available in V2 pipelines "
      "(pipelineType: V2)"]),
    (_edit("  pipelineType: V2\n", "  pipelineType: V1\n"),
     [f"p.yml:14:11: {AT}.actionTypeId: Commands (Compute) actions are only available in V2 pipelines "
      "(pipelineType: V2)"]),
    (_edit("""          commands:
            - ls
            - "echo pipeline Execution Id is #{codepipeline.PipelineExecutionId}"
""", ""), [f"p.yml:13:11: {AT}.commands: Action Commands_action must have a non-empty commands field"]),
    (_edit("            - ls\n", '            - "ls\\necho two"\n'),
     [f"p.yml:21:15: {AT}.commands[0]: is multi-line: AWS takes single-line commands only"]),
    (_edit("            - ls\n", f"            - {'x' * 1001}\n"),
     [f"p.yml:21:15: {AT}.commands[0]: must be 1..1000 characters matching [\\s\\S]*"]),
    (_edit("          configuration: {}\n", "          configuration: {Image: my/image}\n"),
     [f"p.yml:15:27: {AT}.configuration.Image: unknown configuration key for Commands (allowed: EnvironmentType, "
      "ComputeType, VpcId, Subnets, SecurityGroupIds)"]),
    (_edit("  r: {path: /tmp/r}\n", "  r: {path: /tmp/r}\nprojects:\n  b: {image: x}\n").replace(
        """        - name: Commands_action
          actionTypeId: {category: Compute, owner: AWS, provider: Commands, version: "1"}
          configuration: {}
""", """        - name: build
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          configuration: {ProjectName: b}
""").replace("          outputVariables: [AWS_DEFAULT_REGION]\n          namespace: compute\n", ""),
     [f"p.yml:19:15: {AT}.outputArtifacts[0].files: The following action cannot contain a commands field: build. "
      "To use the commands field, use a compute action.",
      f"p.yml:20:11: {AT}.commands: The following action cannot contain a commands field: build. To use the "
      "commands field, use a compute action."]),
])
def test_what_aws_refuses_is_an_error_at_its_place(text, expected):
    loaded = load_text(text, "p.yml")
    assert [str(e) for e in loaded.errors] == expected


def test_fifty_commands_are_taken_and_fifty_one_refused():
    fifty = _edit("            - ls\n", "            - ls\n" * 49)
    assert load_text(fifty, "p.yml").errors == []
    refused = load_text(_edit("            - ls\n", "            - ls\n" * 50), "p.yml")
    assert [e.path for e in refused.errors] == [f"{AT}.commands"]


def test_a_vpc_is_accepted_with_a_warning():
    loaded = load_text(_edit("          configuration: {}\n", "          configuration: {VpcId: vpc-1}\n"), "p.yml")
    assert loaded.errors == []
    assert [str(w) for w in loaded.warnings] == [
        f"p.yml:15:27: warning: {AT}.configuration.VpcId: not carried out yet: there is no VPC here: the commands "
        "run on the stage's network"]


def test_every_v2_only_action_type_is_refused_in_a_v1_pipeline():
    ec2 = _edit("  pipelineType: V2\n", "  pipelineType: V1\n").replace(
        """          actionTypeId: {category: Compute, owner: AWS, provider: Commands, version: "1"}
          configuration: {}
""", """          actionTypeId: {category: Deploy, owner: AWS, provider: EC2, version: "1"}
          configuration: {InstanceTagKey: app, InstanceType: EC2}
""").split("          outputArtifacts:\n")[0] + "repositories:\n  r: {path: /tmp/r}\n"
    assert [str(e) for e in load_text(ec2, "p.yml").errors] == [
        f"p.yml:14:11: {AT}.actionTypeId: EC2 (Deploy) actions are only available in V2 pipelines (pipelineType: V2)"]
