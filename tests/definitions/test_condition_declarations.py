"""Stage conditions declared as AWS's user guide shows them, and refused where AWS refuses them,
each error at its file:line:column: the results each condition may have, no automatic retry
beside failure conditions, no rollback in PARALLEL mode, each rule's type and configuration."""

from __future__ import annotations

import pytest

from emulator.definitions import load_text

# A user guide style pipeline: a Prod stage gated by a window and a variable check, rolled back on
# failure. Line numbers of this text are the ones the expected errors below name.
BASE = """\
pipeline:
  name: p
  pipelineType: V2
  executionMode: QUEUED
  stages:
    - name: Source
      actions:
        - name: src
          actionTypeId: {category: Source, owner: AWS, provider: CodeCommit, version: "1"}
          configuration: {RepositoryName: r, BranchName: main}
          outputArtifacts: [{name: SourceArtifact}]
          namespace: SourceVariables
    - name: Prod
      actions:
        - name: deploy
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          configuration: {ProjectName: deploy}
          inputArtifacts: [{name: SourceArtifact}]
      beforeEntry:
        conditions:
          - result: FAIL
            rules:
              - name: MyDeploymentRule
                ruleTypeId: {category: Rule, owner: AWS, provider: DeploymentWindow, version: "1"}
                configuration: {Cron: "* * 9-17 ? * MON-FRI *", TimeZone: PST}
              - name: MyVarRule
                ruleTypeId: {category: Rule, owner: AWS, provider: VariableCheck, version: "1"}
                configuration: {Variable: "#{SourceVariables.BranchName}", Value: main, Operator: EQ}
      onFailure:
        result: ROLLBACK
repositories:
  r: {path: /tmp/r}
projects:
  deploy: {image: busybox}
"""
AT = "pipeline.stages[1]"


def _edit(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new, 1)


def test_the_user_guides_shape_loads_with_no_warning():
    loaded = load_text(BASE, "p.yml")
    assert [str(e) for e in loaded.errors] == [] and [str(w) for w in loaded.warnings] == []


@pytest.mark.parametrize("text, expected", [
    (_edit("          - result: FAIL\n", "          - result: ROLLBACK\n"),
     f"p.yml:21:13: {AT}.beforeEntry.conditions[0].result: result ROLLBACK is not one a beforeEntry condition "
     "can have (FAIL or SKIP)"),
    (_edit("  executionMode: QUEUED\n", "  executionMode: PARALLEL\n"),
     f"p.yml:30:9: {AT}.onFailure.result: stage rollback is not available in PARALLEL mode"),
    (_edit("        result: ROLLBACK\n", "        conditions: [{result: RETRY, rules: [{name: R, ruleTypeId: "
           "{category: Rule, owner: AWS, provider: VariableCheck, version: '1'}, configuration: {Variable: a, "
           "Value: b, Operator: EQ}}]}]\n"),
     f"p.yml:30:9: {AT}.onFailure.conditions: automatic retry (result RETRY) cannot be combined with onFailure "
     "conditions"),
    (_edit("provider: DeploymentWindow", "provider: Deploymentwindow"),
     f"p.yml:24:58: {AT}.beforeEntry.conditions[0].rules[0].ruleTypeId.provider: Deploymentwindow is not a rule type"),
    (_edit("configuration: {Cron: \"* * 9-17 ? * MON-FRI *\", TimeZone: PST}", "configuration: {TimeZone: PST}"),
     f"{AT}.beforeEntry.conditions[0].rules[0].configuration.Cron: required by DeploymentWindow rules"),
])
def test_what_aws_refuses_is_an_error_naming_where(text, expected):
    errors = [str(e) for e in load_text(text, "p.yml").errors]
    assert any(expected in e for e in errors), errors


def test_skip_beside_a_rule_aws_does_not_offer_it_with_is_a_warning():
    text = _edit("          - result: FAIL\n", "          - result: SKIP\n")
    loaded = load_text(text, "p.yml")
    assert loaded.errors == []
    assert [str(w) for w in loaded.warnings] == [
        f"p.yml:24:58: warning: {AT}.beforeEntry.conditions[0].rules[0].ruleTypeId.provider: AWS offers result "
        "SKIP with LambdaInvoke and VariableCheck rules only, not DeploymentWindow; here the stage is skipped as "
        "declared"]
