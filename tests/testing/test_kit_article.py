"""pipemu.testing's fixture drives the article's service pipeline in simulated mode: every row of
the article's table (emulator/demo/article.yaml) as the kit reads it, in seconds, and Docker never
sees a container of the daemon (its event stream, so one made and removed would show too)."""

from __future__ import annotations

import time

import pytest

from emulator.demo import scenario

PIPELINE = "svc-pipeline"
# The article's service pipeline as a user writes it: CodeCommit, CodeBuild builds and deploys
# (simulated here by the daemon-wide switch), a manual approval closing DEV and QA.
DEFINITION = """
pipeline:
  name: svc-pipeline
  roleArn: arn:aws:iam::123456789012:role/svc-pipeline
  pipelineType: V2
  executionMode: SUPERSEDED
  stages:
    - name: Source
      actions:
        - name: source
          actionTypeId: {category: Source, owner: AWS, provider: CodeCommit, version: "1"}
          configuration: {RepositoryName: svc, BranchName: main}
          outputArtifacts: [{name: SourceOutput}]
          namespace: SourceVariables
    - name: Building
      actions:
        - name: build
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          configuration: {ProjectName: svc-build}
          inputArtifacts: [{name: SourceOutput}]
          outputArtifacts: [{name: BuildOutput}]
    - name: StagingDEV
      actions:
        - name: deploy
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          configuration: {ProjectName: svc-deploy}
          inputArtifacts: [{name: BuildOutput}]
          runOrder: 1
        - name: approve
          actionTypeId: {category: Approval, owner: AWS, provider: Manual, version: "1"}
          configuration: {CustomData: "svc #{SourceVariables.CommitId} in DEV"}
          runOrder: 2
    - name: StagingQA
      actions:
        - name: deploy
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          configuration: {ProjectName: svc-deploy}
          inputArtifacts: [{name: BuildOutput}]
          runOrder: 1
        - name: approve
          actionTypeId: {category: Approval, owner: AWS, provider: Manual, version: "1"}
          runOrder: 2
    - name: StagingPROD
      actions:
        - name: deploy
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          configuration: {ProjectName: svc-deploy}
          inputArtifacts: [{name: BuildOutput}]
repositories:
  svc: {path: repos/svc}
projects:
  svc-build: {image: public.ecr.aws/docker/library/alpine:3.20, buildspec: {version: 0.2, phases: {build: {commands: [make]}}}}
  svc-deploy: {image: public.ecr.aws/docker/library/alpine:3.20, buildspec: {version: 0.2, phases: {build: {commands: [./deploy.sh]}}}}
"""


def containers_created(kit, since: float) -> list[str]:
    """Every container Docker created for the kit's daemon since `since` (removed ones too)."""
    import docker

    daemon_id = (kit.daemon.state / "daemon-id").read_text().strip()
    client = docker.from_env()
    events = client.events(since=int(since) - 1, until=int(time.time()) + 1, decode=True,
                           filters={"type": "container", "event": "create", "label": f"pipemu.daemon={daemon_id}"})
    return [event["Actor"]["Attributes"].get("name", "?") for event in events]


@pytest.mark.docker
def test_the_article_in_simulated_mode(pipemu_daemon):
    started = time.time()
    kit = pipemu_daemon({"svc.yml": DEFINITION})
    story = scenario.load()
    for row in story["rows"]:
        step = scenario.parse_step(row["step"], story)
        if step.verb == "commit":
            kit.commit("svc", step.commit)
        elif step.verb == "approve":
            kit.approve(PIPELINE, step.stage, step.commit)
        else:
            kit.reject(PIPELINE, step.stage, step.commit)
        kit.assert_table(PIPELINE, row["expect"], columns=story["columns"])
    elapsed = time.time() - started
    assert elapsed < 60, f"the simulated article took {elapsed:.1f}s"

    # The builds said they were simulated, in their log and in their summary.
    build = kit.action_execution(PIPELINE, "Building", "build", "c3")
    assert build["status"] == "Succeeded"
    assert build["output"]["executionResult"]["externalExecutionSummary"].startswith("simulated by pipemu")
    assert "[pipemu] simulated: AWS/CodeBuild (Build) ProjectName=svc-build" in kit.action_log(
        PIPELINE, "Building", "build", "c3")
    assert kit.daemon.health()["simulated"] is True
    assert "simulated mode (--simulate)" in kit.daemon.log()
    assert containers_created(kit, started) == []


def test_a_declared_failure_fails_the_stage(pipemu_daemon):
    """A project's own `simulate:` wins over the daemon-wide success: a failed test in DEV."""
    definitions = DEFINITION.replace(
        "svc-deploy: {image: public.ecr.aws/docker/library/alpine:3.20,",
        "svc-deploy: {simulate: {outcome: Failed, duration: 0.1, message: integration tests failed},"
        " image: public.ecr.aws/docker/library/alpine:3.20,")
    kit = pipemu_daemon({"svc.yml": definitions})
    kit.commit("svc", "c1")
    kit.assert_table(PIPELINE, ["c1 ✓", "c1 ✓", "c1 ✗", "-", "-"])
    failed = kit.action_execution(PIPELINE, "StagingDEV", "deploy", "c1")
    assert failed["status"] == "Failed"
    assert failed["output"]["executionResult"]["errorDetails"]["message"] == "integration tests failed"


def v2_pipeline(name: str) -> str:
    """The start of a V2 pipeline on the repository `app`, up to its Source stage: the stages a
    test adds follow, then the file's other sections."""
    return f"""
pipeline:
  name: {name}
  roleArn: arn:aws:iam::123456789012:role/{name}
  pipelineType: V2
  stages:
    - name: Source
      actions:
        - name: source
          actionTypeId: {{category: Source, owner: AWS, provider: CodeCommit, version: "1"}}
          configuration: {{RepositoryName: app, BranchName: main}}
          outputArtifacts: [{{name: SourceOutput}}]
"""


# Prod's deploy action (after its conditions), then the file's repository and project sections.
PROD_DEPLOY = """      actions:
        - name: deploy
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          configuration: {ProjectName: app-deploy}
          inputArtifacts: [{name: SourceOutput}]
repositories:
  app: {path: repos/app}
projects:
  app-deploy: {image: alpine:3.20}
"""


SIMULATED_LAMBDA = v2_pipeline("notify") + """    - name: Release
      actions:
        - name: pick
          actionTypeId: {category: Invoke, owner: AWS, provider: Lambda, version: "1"}
          configuration: {FunctionName: pick-version, UserParameters: "{}"}
          namespace: Picked
          runOrder: 1
        - name: deploy
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          configuration:
            ProjectName: app-deploy
            EnvironmentVariables: '[{"name":"VERSION","value":"#{Picked.version}","type":"PLAINTEXT"}]'
          inputArtifacts: [{name: SourceOutput}]
          runOrder: 2
repositories:
  app: {path: repos/app}
projects:
  app-deploy: {image: alpine:3.20}
functions:
  pick-version:
    runtime: python3.12
    handler: index.handler
    code: functions/pick
    simulate: {outputVariables: {version: "2.0.1"}, duration: 0.1}
"""


def test_a_simulated_lambda_gives_its_output_variables_to_later_actions(pipemu_daemon, tmp_path):
    kit = pipemu_daemon({"notify.yml": SIMULATED_LAMBDA})
    kit.commit("app", "v2")
    kit.assert_table("notify", ["v2 ✓", "v2 ✓"])
    assert kit.output_variables("notify", "Release", "pick", "v2") == {"version": "2.0.1"}
    deploy = kit.action_execution("notify", "Release", "deploy", "v2")
    assert deploy["input"]["resolvedConfiguration"]["EnvironmentVariables"] == (
        '[{"name":"VERSION","value":"2.0.1","type":"PLAINTEXT"}]')


def test_pipemu_serve_simulate(tmp_path):
    """The command-line switch, the environment variable left empty (click then ignores it)."""
    from pipemu.testing import Daemon

    (tmp_path / "pipelines").mkdir()
    for args, simulated in (((), False), (("--simulate",), True)):
        daemon = Daemon(tmp_path / "pipelines", tmp_path / f"state-{simulated}", env={"PIPEMU_SIMULATE": ""},
                        args=args).start()
        try:
            assert daemon.health()["simulated"] is simulated
        finally:
            daemon.stop()


RULED = v2_pipeline("ruled") + """    - name: Prod
      beforeEntry:
        conditions:
          - result: FAIL
            rules:
              - name: Smoke
                ruleTypeId: {category: Rule, owner: AWS, provider: Commands, version: "1"}
                commands: ["./smoke-test.sh"]
                inputArtifacts: [{name: SourceOutput}]
      onSuccess:
        conditions:
          - result: FAIL
            rules:
              - name: Lint
                ruleTypeId: {category: Rule, owner: AWS, provider: CodeBuild, version: "1"}
                configuration: {ProjectName: lint}
                inputArtifacts: [{name: SourceOutput}]
""" + PROD_DEPLOY + """  lint: {image: alpine:3.20LINT}
"""


@pytest.mark.docker
def test_container_rules_are_simulated_as_their_actions_are(pipemu_daemon):
    """A Commands rule and a CodeBuild rule in a simulated daemon start no container; a project's
    own `simulate:` decides its CodeBuild rule's verdict (here: the lint fails, so does the stage)."""
    started = time.time()
    kit = pipemu_daemon({"ruled.yml": RULED.replace("alpine:3.20LINT}", "alpine:3.20,"
                                                    " simulate: {outcome: Failed, message: lint found 3 errors}}")})
    kit.commit("app", "r1")
    kit.assert_table("ruled", ["r1 ✓", "r1 ✗"])
    runs = kit.client().list_rule_executions(pipelineName="ruled")["ruleExecutionDetails"]
    by_name = {run["ruleName"]: run for run in runs}
    assert by_name["Smoke"]["status"] == "Succeeded"
    assert "simulated by pipemu" in by_name["Smoke"]["output"]["executionResult"]["externalExecutionSummary"]
    assert by_name["Lint"]["status"] == "Failed"
    assert by_name["Lint"]["output"]["executionResult"]["errorDetails"]["message"] == "lint found 3 errors"
    assert "[pipemu] simulated: AWS/Commands (Compute)" in kit.daemon.action_log(by_name["Smoke"]["ruleExecutionId"])
    assert containers_created(kit, started) == []


GATED = v2_pipeline("gated") + """    - name: Prod
      beforeEntry:
        conditions:
          - result: FAIL
            rules:
              - name: ChangeFreeze
                ruleTypeId: {category: Rule, owner: AWS, provider: LambdaInvoke, version: "1"}
                configuration: {FunctionName: freeze-gate, UserParameters: "december"}
""" + PROD_DEPLOY + """functions:
  freeze-gate:
    runtime: python3.12
    handler: gate.handler
    code: functions/gate
    simulate: {inProcess: true}
"""

# The gate as a release engineer writes it for AWS: the rule's job, answered through the API.
GATE = '''
import boto3

codepipeline = boto3.client("codepipeline")


def handler(event, context):
    job = event["CodePipeline.job"]
    season = job["data"]["actionConfiguration"]["configuration"]["UserParameters"]
    if season == "december":
        codepipeline.put_job_failure_result(jobId=job["id"], failureDetails={
            "type": "JobFailed", "message": f"change freeze in {season}"})
    else:
        codepipeline.put_job_success_result(jobId=job["id"])
'''


@pytest.mark.docker
def test_a_lambda_invoke_rule_runs_its_function_in_process(pipemu_daemon, tmp_path):
    started = time.time()
    folder = tmp_path / "definitions"
    (folder / "functions" / "gate").mkdir(parents=True)
    (folder / "functions" / "gate" / "gate.py").write_text(GATE)
    (folder / "gated.yml").write_text(GATED)
    kit = pipemu_daemon(folder)
    kit.commit("app", "g1")
    kit.assert_table("gated", ["g1 ✓", "g1 ✗"])
    run = kit.client().list_rule_executions(pipelineName="gated")["ruleExecutionDetails"][0]
    assert (run["ruleName"], run["status"]) == ("ChangeFreeze", "Failed")
    assert run["output"]["executionResult"]["errorDetails"]["message"] == "change freeze in december"
    assert "runs in-process, not in a container" in kit.daemon.action_log(run["ruleExecutionId"])
    assert containers_created(kit, started) == []
