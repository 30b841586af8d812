"""V2 release safety on a real daemon, real containers and boto3: stage conditions and their
rules, automatic rollback and retry, RollbackStage, OverrideStageCondition, ListRuleExecutions
and ListRuleTypes; every answer held against botocore's model (tests/support/daemon.py)."""

from __future__ import annotations

import time

import pytest
import yaml

from tests.e2e.waiting import action_of, stage_of, wait_for
from tests.support.daemon import Daemon, commit, init_repo

pytestmark = pytest.mark.docker


def _type(category: str, provider: str) -> dict:
    return {"category": category, "owner": "AWS", "provider": provider, "version": "1"}


def rule(name: str, provider: str, **configuration) -> dict:
    return {"name": name, "ruleTypeId": {"category": "Rule", "owner": "AWS", "provider": provider, "version": "1"},
            "configuration": configuration}


def build(name: str, project: str, inputs=("SourceArtifact",), outputs=(), run_order: int = 1) -> dict:
    return {"name": name, "actionTypeId": _type("Build", "CodeBuild"), "runOrder": run_order,
            "configuration": {"ProjectName": project},
            "inputArtifacts": [{"name": n} for n in inputs], "outputArtifacts": [{"name": n} for n in outputs]}


def definition(repo, image: str, prod: dict, functions: dict | None = None) -> dict:
    """Source -> Build (packs the commit's app.txt) -> Prod (deploys it: fails if it says 'bad')."""
    return {
        "pipeline": {
            "name": "release", "pipelineType": "V2", "executionMode": "QUEUED",
            "stages": [
                {"name": "Source", "actions": [{
                    "name": "Source", "actionTypeId": _type("Source", "CodeCommit"), "namespace": "SourceVariables",
                    "configuration": {"RepositoryName": "app", "BranchName": "main", "PollForSourceChanges": "false"},
                    "outputArtifacts": [{"name": "SourceArtifact"}]}]},
                {"name": "Build", "actions": [build("Package", "package", outputs=("BuildArtifact",))]},
                {"name": "Prod", "actions": [build("Deploy", "deploy", inputs=("BuildArtifact",))], **prod},
            ],
        },
        "repositories": {"app": {"path": str(repo)}},
        "projects": {
            "package": {"image": image, "buildspec": {"version": 0.2, "phases": {"build": {"commands": [
                "mkdir -p out && cp app.txt out/"]}}, "artifacts": {"files": ["**/*"], "base-directory": "out"}}},
            "deploy": {"image": image, "buildspec": {"version": 0.2, "phases": {"build": {"commands": [
                'echo "deploying $(cat app.txt)"', "! grep -q bad app.txt"]}}}},
        },
        "functions": functions or {},
    }


@pytest.fixture
def app(tmp_path):
    repo = init_repo(tmp_path / "repo")
    return repo


def start(tmp_path, declaration: dict) -> Daemon:
    (tmp_path / "pipelines").mkdir(exist_ok=True)
    (tmp_path / "pipelines" / "release.yml").write_text(yaml.safe_dump(declaration, sort_keys=False))
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state").start()
    assert daemon.health()["definitionErrors"] == [], daemon.health()
    return daemon


def ended(client, execution_id: str, timeout: float = 120) -> dict:
    def done():
        found = client.get_pipeline_execution(pipelineName="release", pipelineExecutionId=execution_id)
        return found["pipelineExecution"] if found["pipelineExecution"]["status"] not in ("InProgress", "Stopping") else None
    return wait_for(done, timeout, f"execution {execution_id} to end")


def test_an_entry_rule_that_fails_stops_the_execution_at_the_entrance(tmp_path, app, busybox_image):
    commit(app, "chore: tidy", {"app.txt": "v1\n"})
    prod = {"beforeEntry": {"conditions": [{"result": "FAIL", "rules": [
        rule("ReleaseCommit", "VariableCheck", Variable="#{SourceVariables.CommitMessage}", Value="release",
             Operator="CONTAINS")]}]}}
    daemon = start(tmp_path, definition(app, busybox_image, prod))
    try:
        client = daemon.client()
        first = client.start_pipeline_execution(name="release")["pipelineExecutionId"]
        execution = ended(client, first)
        assert execution["status"] == "Failed"
        assert "entry condition not met" in execution["statusSummary"]
        state = client.get_pipeline_state(name="release")
        prod_state = stage_of(state, "Prod")
        assert prod_state["latestExecution"]["status"] == "Failed"
        assert "latestExecution" not in action_of(state, "Prod", "Deploy")  # no action ran inside
        condition = prod_state["beforeEntryConditionState"]
        assert condition["latestExecution"]["status"] == "Failed"
        (rule_state,) = condition["conditionStates"][0]["ruleStates"]
        assert rule_state["ruleName"] == "ReleaseCommit" and rule_state["latestExecution"]["status"] == "Failed"
        runs = client.list_rule_executions(pipelineName="release",
                                           filter={"pipelineExecutionId": first})["ruleExecutionDetails"]
        assert [(r["ruleName"], r["status"]) for r in runs] == [("ReleaseCommit", "Failed")]
        assert runs[0]["input"]["resolvedConfiguration"]["Variable"] == "chore: tidy"
        assert runs[0]["input"]["ruleTypeId"]["provider"] == "VariableCheck"

        commit(app, "release: v2", {"app.txt": "v2\n"})
        second = client.start_pipeline_execution(name="release")["pipelineExecutionId"]
        assert ended(client, second)["status"] == "Succeeded"
        state = client.get_pipeline_state(name="release")
        assert stage_of(state, "Prod")["beforeEntryConditionState"]["latestExecution"]["status"] == "Succeeded"
        types = {t["id"]["provider"] for t in client.list_rule_types()["ruleTypes"]}
        assert types == {"CloudWatchAlarm", "CodeBuild", "Commands", "DeploymentWindow", "LambdaInvoke", "VariableCheck"}
    finally:
        daemon.stop()


def test_a_failed_prod_stage_rolls_itself_back_and_rollback_stage_does_on_request(tmp_path, app, busybox_image):
    commit(app, "good", {"app.txt": "good one\n"})
    daemon = start(tmp_path, definition(app, busybox_image, {"onFailure": {"result": "ROLLBACK"}}))
    try:
        client = daemon.client()
        good = client.start_pipeline_execution(name="release")["pipelineExecutionId"]
        assert ended(client, good)["status"] == "Succeeded"
        commit(app, "bad", {"app.txt": "bad one\n"})
        bad = client.start_pipeline_execution(name="release")["pipelineExecutionId"]
        assert ended(client, bad)["status"] == "Failed"

        def rollback():
            summaries = client.list_pipeline_executions(pipelineName="release")["pipelineExecutionSummaries"]
            return next((s for s in summaries if s.get("executionType") == "ROLLBACK"), None)
        summary = wait_for(rollback, 60, "the automatic rollback")
        assert summary["rollbackMetadata"] == {"rollbackTargetPipelineExecutionId": good}
        assert summary["trigger"]["triggerType"] == "AutomatedRollback"
        back = ended(client, summary["pipelineExecutionId"])
        assert back["status"] == "Succeeded" and back["executionType"] == "ROLLBACK"
        assert back["rollbackMetadata"]["rollbackTargetPipelineExecutionId"] == good
        state = client.get_pipeline_state(name="release")
        prod = stage_of(state, "Prod")
        assert prod["latestExecution"] == {"pipelineExecutionId": back["pipelineExecutionId"], "status": "Succeeded",
                                           "type": "ROLLBACK"}
        deploy = action_of(state, "Prod", "Deploy")["latestExecution"]["actionExecutionId"]
        assert "deploying good one" in daemon.action_log(deploy)  # the good commit's artifact, deployed again
        assert stage_of(state, "Build")["latestExecution"]["pipelineExecutionId"] == bad  # only Prod ran again

        manual = client.rollback_stage(pipelineName="release", stageName="Prod",
                                       targetPipelineExecutionId=good)["pipelineExecutionId"]
        assert ended(client, manual)["status"] == "Succeeded"
        detail = client.get_pipeline_execution(pipelineName="release", pipelineExecutionId=manual)["pipelineExecution"]
        assert detail["trigger"]["triggerType"] == "ManualRollback"
        for stage, target, code in (("Source", good, "UnableToRollbackStageException"),
                                    ("Prod", bad, "UnableToRollbackStageException"),
                                    ("Prod", "00000000-0000-4000-8000-000000000000", "PipelineExecutionNotFoundException")):
            with pytest.raises(client.exceptions.ClientError) as raised:
                client.rollback_stage(pipelineName="release", stageName=stage, targetPipelineExecutionId=target)
            assert raised.value.response["Error"]["Code"] == code, (stage, target)
    finally:
        daemon.stop()


def test_a_failed_stage_retries_itself_once(tmp_path, app, busybox_image):
    commit(app, "bad", {"app.txt": "bad\n"})
    prod = {"onFailure": {"result": "RETRY", "retryConfiguration": {"retryMode": "FAILED_ACTIONS"}}}
    daemon = start(tmp_path, definition(app, busybox_image, prod))
    try:
        client = daemon.client()
        execution = client.start_pipeline_execution(name="release")["pipelineExecutionId"]
        assert ended(client, execution)["status"] == "Failed"
        prod_state = stage_of(client.get_pipeline_state(name="release"), "Prod")
        assert prod_state["retryStageMetadata"] == {"autoStageRetryAttempt": 1, "latestRetryTrigger": "AutomatedStageRetry"}
        runs = client.list_action_executions(pipelineName="release", filter={"pipelineExecutionId": execution})
        deploys = [r for r in runs["actionExecutionDetails"] if r["actionName"] == "Deploy"]
        assert [r["status"] for r in deploys] == ["Failed", "Failed"]  # the first run and its one automatic retry
        latest = client.list_action_executions(pipelineName="release", filter={"latestInPipelineExecution": {
            "pipelineExecutionId": execution, "startTimeRange": "Latest"}})["actionExecutionDetails"]
        assert [r["actionExecutionId"] for r in latest if r["actionName"] == "Deploy"] == [deploys[0]["actionExecutionId"]]
        every = client.list_action_executions(pipelineName="release", filter={"latestInPipelineExecution": {
            "pipelineExecutionId": execution, "startTimeRange": "All"}})["actionExecutionDetails"]
        assert len([r for r in every if r["actionName"] == "Deploy"]) == 2
    finally:
        daemon.stop()


HELD = '''def handler(event, context):
    return {"job": event["CodePipeline.job"]["id"]}  # reports nothing: the rule waits
'''
REPORTS = '''import boto3


def handler(event, context):
    job = event["CodePipeline.job"]
    params = job["data"]["actionConfiguration"]["configuration"].get("UserParameters", "")
    client = boto3.client("codepipeline")
    if params == "open":
        client.put_job_success_result(jobId=job["id"], executionDetails={"summary": "the freeze is over"})
    else:
        client.put_job_failure_result(jobId=job["id"], failureDetails={"type": "JobFailed", "message": "release freeze"})
'''


def test_lambda_rules_answer_through_the_job_api_and_a_held_one_can_be_overridden(tmp_path, app, busybox_image,
                                                                                   python_image):
    commit(app, "v1", {"app.txt": "v1\n"})
    (tmp_path / "held").mkdir()
    (tmp_path / "held" / "app.py").write_text(HELD)
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "app.py").write_text(REPORTS)
    functions = {name: {"runtime": "python3.12", "handler": "app.handler", "code": str(tmp_path / name)}
                 for name in ("held", "reports")}
    prod = {
        "beforeEntry": {"conditions": [{"result": "FAIL", "rules": [
            rule("Freeze", "LambdaInvoke", FunctionName="reports", UserParameters="open"),
            rule("Manual", "LambdaInvoke", FunctionName="held")]}]},
        "onSuccess": {"conditions": [{"result": "FAIL", "rules": [
            rule("StillFrozen", "LambdaInvoke", FunctionName="reports", UserParameters="closed")]}]},
    }
    daemon = start(tmp_path, definition(app, busybox_image, prod, functions))
    try:
        client = daemon.client()
        execution = client.start_pipeline_execution(name="release")["pipelineExecutionId"]

        def held():
            state = stage_of(client.get_pipeline_state(name="release"), "Prod").get("beforeEntryConditionState")
            rules = {r["ruleName"]: r.get("latestExecution", {}).get("status")
                     for r in (state or {"conditionStates": [{"ruleStates": []}]})["conditionStates"][0]["ruleStates"]}
            return rules if rules.get("Manual") == "InProgress" else None
        rules = wait_for(held, 120, "the held rule")
        assert rules["Freeze"] == "Succeeded"
        time.sleep(1)  # the function returned without a result: the rule still waits
        assert held()
        with pytest.raises(client.exceptions.ConditionNotOverridableException):
            client.override_stage_condition(pipelineName="release", stageName="Prod", pipelineExecutionId=execution,
                                            conditionType="ON_SUCCESS")
        client.override_stage_condition(pipelineName="release", stageName="Prod", pipelineExecutionId=execution,
                                        conditionType="BEFORE_ENTRY")
        final = ended(client, execution)
        assert final["status"] == "Failed" and "success condition not met" in final["statusSummary"]
        assert "release freeze" in final["statusSummary"]
        state = stage_of(client.get_pipeline_state(name="release"), "Prod")
        assert state["beforeEntryConditionState"]["latestExecution"]["status"] == "Overridden"
        assert state["onSuccessConditionState"]["latestExecution"]["status"] == "Failed"
        runs = client.list_rule_executions(pipelineName="release")["ruleExecutionDetails"]
        statuses = {r["ruleName"]: r["status"] for r in runs}
        assert statuses == {"Freeze": "Succeeded", "Manual": "Abandoned", "StillFrozen": "Failed"}
        freeze = next(r for r in runs if r["ruleName"] == "Freeze")
        assert freeze["output"]["executionResult"]["externalExecutionSummary"] == "the freeze is over"
        manual = next(r for r in runs if r["ruleName"] == "Manual")["ruleExecutionId"]
        job = client.get_job_details(jobId=manual)["jobDetails"]  # held to the model by the client's hook
        assert job["data"]["actionConfiguration"]["configuration"]["FunctionName"] == "held"
        with pytest.raises(client.exceptions.InvalidJobStateException):  # abandoned by the override
            client.put_job_success_result(jobId=manual)
    finally:
        daemon.stop()


def test_a_deployment_window_holds_a_change_back_until_it_opens(tmp_path, app, busybox_image):
    """The daemon's clock set to a Tuesday, 08:59:50 UTC; the window opens at 09:00 on weekdays."""
    commit(app, "v1", {"app.txt": "v1\n"})
    declaration = definition(app, busybox_image, {})
    declaration["pipeline"]["stages"][1]["beforeEntry"] = {"conditions": [{"result": "FAIL", "rules": [
        rule("OfficeHours", "DeploymentWindow", Cron="* * 9-16 ? * MON-FRI *")]}]}
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "release.yml").write_text(yaml.safe_dump(declaration, sort_keys=False))
    daemon = Daemon(tmp_path / "pipelines", tmp_path / "state",
                    env={"PIPEMU_SCHEDULE_CLOCK_START": "2026-12-01T08:59:50Z"}).start()
    began = time.monotonic()
    try:
        client = daemon.client()
        early = client.start_pipeline_execution(name="release")["pipelineExecutionId"]
        execution = ended(client, early)
        assert execution["status"] == "Failed" and "outside the deployment window" in execution["statusSummary"]
        assert "opens next at 2026-12-01 09:00 UTC" in execution["statusSummary"]
        time.sleep(max(0.0, 11.5 - (time.monotonic() - began)))  # the daemon's clock is past 09:00 now
        later = client.start_pipeline_execution(name="release")["pipelineExecutionId"]
        assert ended(client, later)["status"] == "Succeeded"
    finally:
        daemon.stop()


def test_container_rules_judge_a_stage_a_failed_smoke_test_rolls_prod_back(tmp_path, app, busybox_image, python_image):
    """A CodeBuild rule at the entrance, a Commands rule as Prod's smoke test (onSuccess ROLLBACK)."""
    commit(app, "good", {"app.txt": "good\n"})
    prod = {
        "beforeEntry": {"conditions": [{"result": "FAIL", "rules": [{
            **rule("Lint", "CodeBuild", ProjectName="lint"), "inputArtifacts": [{"name": "BuildArtifact"}]}]}]},
        "onSuccess": {"conditions": [{"result": "ROLLBACK", "rules": [{
            **rule("Smoke", "Commands"), "commands": ["echo smoke testing $(cat app.txt)", "grep -q good app.txt"],
            "inputArtifacts": [{"name": "BuildArtifact"}]}]}]},
    }
    declaration = definition(app, busybox_image, prod)
    declaration["projects"]["lint"] = {"image": busybox_image, "buildspec": {"version": 0.2, "phases": {"build": {
        "commands": ["test -s app.txt", "echo lint ok"]}}}}
    declaration["projects"]["deploy"]["buildspec"]["phases"]["build"]["commands"] = ['echo "deploying $(cat app.txt)"']
    daemon = start(tmp_path, declaration)
    try:
        client = daemon.client()
        good = client.start_pipeline_execution(name="release")["pipelineExecutionId"]
        assert ended(client, good, 240)["status"] == "Succeeded"
        commit(app, "not so good", {"app.txt": "broken\n"})
        bad = client.start_pipeline_execution(name="release")["pipelineExecutionId"]
        final = ended(client, bad, 240)
        assert final["status"] == "Failed" and "success condition not met: rule Smoke failed" in final["statusSummary"]
        runs = client.list_rule_executions(pipelineName="release", filter={"pipelineExecutionId": bad})
        by_name = {r["ruleName"]: r for r in runs["ruleExecutionDetails"]}
        assert (by_name["Lint"]["status"], by_name["Smoke"]["status"]) == ("Succeeded", "Failed")
        smoke_log = daemon.action_log(by_name["Smoke"]["ruleExecutionId"])  # a rule's log, as an action's
        assert "smoke testing broken" in smoke_log
        rollback = wait_for(lambda: next((s for s in client.list_pipeline_executions(pipelineName="release")[
            "pipelineExecutionSummaries"] if s.get("executionType") == "ROLLBACK"), None), 60, "the rollback")
        assert rollback["rollbackMetadata"]["rollbackTargetPipelineExecutionId"] == good
        assert ended(client, rollback["pipelineExecutionId"], 240)["status"] == "Succeeded"
    finally:
        daemon.stop()


def held_at_prod(tmp_path, app, image: str) -> Daemon:
    """A daemon whose pipeline holds every change at Prod's entrance (a LambdaInvoke rule whose
    function never reports), one commit in the repository."""
    commit(app, "v1", {"app.txt": "v1\n"})
    (tmp_path / "held").mkdir()
    (tmp_path / "held" / "app.py").write_text(HELD)
    prod = {"beforeEntry": {"conditions": [{"result": "FAIL", "rules": [
        rule("Manual", "LambdaInvoke", FunctionName="held")]}]}}
    functions = {"held": {"runtime": "python3.12", "handler": "app.handler", "code": str(tmp_path / "held")}}
    return start(tmp_path, definition(app, image, prod, functions))


def test_the_cli_rolls_back_and_overrides(tmp_path, app, busybox_image, python_image):
    from tests.cli.test_cli_commands import fails, ok

    daemon = held_at_prod(tmp_path, app, busybox_image)
    try:
        client = daemon.client()
        fails(daemon, 1, "rollback", "release", "Prod")  # nothing succeeded there yet
        first = client.start_pipeline_execution(name="release")["pipelineExecutionId"]
        wait_for(lambda: (stage_of(client.get_pipeline_state(name="release"), "Prod").get("beforeEntryConditionState")
                          or {}).get("latestExecution", {}).get("status") == "InProgress", 120, "the held entrance")
        assert "overrode the BEFORE_ENTRY condition of Prod" in ok(daemon, "override", "release", "Prod")
        assert ended(client, first)["status"] == "Succeeded"
        commit(app, "v2", {"app.txt": "v2\n"})
        second = client.start_pipeline_execution(name="release")["pipelineExecutionId"]
        wait_for(lambda: (stage_of(client.get_pipeline_state(name="release"), "Prod").get("latestExecution")
                          or {}).get("pipelineExecutionId") == second, 120, "the second execution in Prod")
        ok(daemon, "override", "release", "Prod")
        assert ended(client, second)["status"] == "Succeeded"
        said = ok(daemon, "rollback", "release", "Prod")  # to the newest other one that succeeded there
        assert f"back to execution {first}" in said
        rollback = said.rsplit("rollback execution ", 1)[1].strip()
        detail = client.get_pipeline_execution(pipelineName="release", pipelineExecutionId=rollback)["pipelineExecution"]
        assert detail["executionType"] == "ROLLBACK"
        assert "UnableToRollbackStageException" in fails(daemon, 4, "rollback", "release", "Source", "--to", first).stderr
    finally:
        daemon.stop()


def test_an_alarm_that_fires_while_prod_is_watched_rolls_it_back(tmp_path, app, busybox_image):
    import boto3

    commit(app, "good", {"app.txt": "good\n"})
    prod = {"onSuccess": {"conditions": [{"result": "ROLLBACK", "rules": [
        rule("Errors", "CloudWatchAlarm", AlarmName="ProdErrors", WaitTime="0.2")]}]}}  # 12 s of watching
    declaration = definition(app, busybox_image, prod)
    declaration["alarms"] = {"ProdErrors": {"state": "OK"}}
    daemon = start(tmp_path, declaration)
    try:
        client = daemon.client()
        good = client.start_pipeline_execution(name="release")["pipelineExecutionId"]
        assert ended(client, good)["status"] == "Succeeded"  # the alarm stayed OK for the whole wait
        commit(app, "worse", {"app.txt": "worse\n"})
        worse = client.start_pipeline_execution(name="release")["pipelineExecutionId"]

        def watching():
            state = stage_of(client.get_pipeline_state(name="release"), "Prod").get("onSuccessConditionState") or {}
            latest = state.get("latestExecution", {})
            return latest.get("status") == "InProgress" and \
                stage_of(client.get_pipeline_state(name="release"), "Prod")["latestExecution"]["pipelineExecutionId"] == worse
        wait_for(watching, 120, "Prod's success condition watching the alarm")
        cloudwatch = boto3.client("cloudwatch", endpoint_url=daemon.endpoint, region_name="us-east-1",
                                  aws_access_key_id="testing", aws_secret_access_key="testing")
        cloudwatch.set_alarm_state(AlarmName="ProdErrors", StateValue="ALARM", StateReason="5xx above 1%")
        final = ended(client, worse)
        assert final["status"] == "Failed" and "ProdErrors is ALARM: 5xx above 1%" in final["statusSummary"]
        rollback = wait_for(lambda: next((s for s in client.list_pipeline_executions(pipelineName="release")[
            "pipelineExecutionSummaries"] if s.get("executionType") == "ROLLBACK"), None), 60, "the rollback")
        assert rollback["rollbackMetadata"]["rollbackTargetPipelineExecutionId"] == good
    finally:
        daemon.stop()


def test_a_rule_running_when_the_daemon_is_killed_goes_on_after_the_restart(tmp_path, app, busybox_image, python_image):
    daemon = held_at_prod(tmp_path, app, busybox_image)
    try:
        client = daemon.client()
        execution = client.start_pipeline_execution(name="release")["pipelineExecutionId"]

        def rule_state():
            state = stage_of(client.get_pipeline_state(name="release"), "Prod").get("beforeEntryConditionState") or {}
            rules = (state.get("conditionStates") or [{"ruleStates": []}])[0]["ruleStates"]
            return rules[0].get("latestExecution") if rules else None
        before = wait_for(lambda: (r := rule_state()) and r["status"] == "InProgress" and r, 120, "the held rule")
        daemon.kill()
        daemon = Daemon(daemon.pipelines, daemon.state, port=daemon.port).start()
        client = daemon.client()
        after = rule_state()
        assert after["status"] == "InProgress" and after["ruleExecutionId"] == before["ruleExecutionId"]
        client.override_stage_condition(pipelineName="release", stageName="Prod", pipelineExecutionId=execution,
                                        conditionType="BEFORE_ENTRY")
        assert ended(client, execution)["status"] == "Succeeded"
    finally:
        daemon.stop()
