"""Simulated actions (runner/simulate.py) through a real ActionRunner whose Docker client cannot
be made: whatever is simulated never asks for one."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from emulator.definitions.models import Function, Project, Simulate, Stack
from emulator.engine import ActionFailed, ActionSucceeded, JobFailed, RunAction
from emulator.engine.events import ArtifactOutput
from emulator.engine.plan import ActionPlan
from emulator.runner import simulate
from emulator.runner.actions import ActionRunner


def no_docker():
    raise AssertionError("a simulated action asked for Docker")


@pytest.fixture
def world(tmp_path):
    lines: list[str] = []
    resources = SimpleNamespace(projects={}, stacks={}, functions={})
    runner = ActionRunner(tmp_path / "state", resources=lambda: resources, docker_client_factory=no_docker,
                          write_log=lambda _id, line: lines.append(line))
    return SimpleNamespace(runner=runner, resources=resources, lines=lines, state=tmp_path / "state", tmp=tmp_path)


def command(category, provider, inputs=(), outputs=(), variables=(), job_id=None, **configuration) -> RunAction:
    plan = ActionPlan("act", category, "AWS", provider, "1", input_artifacts=tuple(a.name for a in inputs),
                      output_artifacts=tuple(outputs), output_variables=tuple(variables))
    return RunAction("svc", "e1", "Build", plan, "11111111-2222-3333-4444-555555555555",
                     tuple(configuration.items()), tuple(inputs), job_id=job_id)


def run(world, cmd: RunAction, cancel_after: float | None = None, timeout: float = 30):
    reports = []
    done = threading.Event()
    world.runner.submit(cmd, lambda event: (reports.append(event), done.set())[0] and None)
    if cancel_after is not None:
        time.sleep(cancel_after)
        world.runner.cancel(cmd.action_execution_id)
    assert done.wait(timeout), "the action never reported"
    return reports[0]


def project(**simulate_spec) -> Project:
    return Project(image="alpine", simulate=Simulate(**simulate_spec) if simulate_spec else None)


def test_which_actions_are_simulated(world):
    world.resources.projects = {"real": project(), "fake": project(outcome="Failed")}
    build = command("Build", "CodeBuild", ProjectName="real")
    assert simulate.spec_for(world.runner, build) is None  # neither declared nor daemon-wide
    assert simulate.spec_for(world.runner, command("Build", "CodeBuild", ProjectName="fake")).outcome == "Failed"
    world.runner.simulate_all = True
    assert simulate.spec_for(world.runner, build) is simulate.DAEMON_WIDE
    assert simulate.spec_for(world.runner, command("Deploy", "S3", BucketName="b")) is simulate.DAEMON_WIDE
    # The declared simulation wins over the daemon-wide one; sources and Lambdas stay real.
    assert simulate.spec_for(world.runner, command("Build", "CodeBuild", ProjectName="fake")).outcome == "Failed"
    assert simulate.spec_for(world.runner, command("Source", "CodeCommit", RepositoryName="r")) is None
    assert simulate.spec_for(world.runner, command("Invoke", "Lambda", FunctionName="f")) is None


def test_a_simulated_build_copies_its_input_and_gives_its_variables(world):
    world.resources.projects = {"build": project(duration=0.05, outputVariables={"VERSION": "1.2.3"})}
    source = world.state / "artifacts" / "e1" / "SourceOutput"
    source.mkdir(parents=True)
    (source / "app.txt").write_text("hello")
    cmd = command("Build", "CodeBuild", inputs=[ArtifactOutput("SourceOutput", "artifacts/e1/SourceOutput")],
                  outputs=["BuildOutput"], variables=["IMAGE_TAG"], ProjectName="build")
    event = run(world, cmd)
    assert isinstance(event, ActionSucceeded)
    assert dict(event.output.output_variables) == {"IMAGE_TAG": "", "VERSION": "1.2.3"}
    assert event.output.summary == "simulated by pipemu: Succeeded"
    assert event.output.external_execution_id == f"simulated-{cmd.action_execution_id}"
    assert (world.state / event.output.artifacts[0].location / "app.txt").read_text() == "hello"
    assert world.lines[0] == ("[pipemu] simulated: AWS/CodeBuild (Build) ProjectName=build: Succeeded after 0.05s, "
                              "no container started")


def test_a_simulated_deploy_fails_with_its_message(world):
    world.resources.stacks = {"web": Stack(image="nginx", simulate=Simulate(outcome="Failed", duration=0,
                                                                            message="stack rolled back"))}
    event = run(world, command("Deploy", "CloudFormation", ActionMode="CREATE_UPDATE", StackName="web"))
    assert isinstance(event, ActionFailed)
    assert event.message == "stack rolled back"
    assert "[pipemu] action failed: stack rolled back" in world.lines


def test_a_stop_ends_the_simulated_wait(world):
    world.runner.simulate_all = True
    world.resources.projects = {"slow": project(duration=60)}
    started = time.monotonic()
    event = run(world, command("Build", "CodeBuild", ProjectName="slow"), cancel_after=0.2)
    assert time.monotonic() - started < 5
    assert isinstance(event, ActionFailed) and "stopped" in event.message


def function(world, source: str, runtime: str = "python3.12") -> Function:
    code = world.tmp / "fn"
    code.mkdir(exist_ok=True)
    (code / "app.py").write_text(source)
    return Function(runtime=runtime, handler="app.handler", code=code, timeout=10,
                    environment={"STAGE": "dev"}, simulate=Simulate(inProcess=True))


def test_an_in_process_function_gets_the_event_context_and_environment(world):
    world.runner.host_endpoint = "http://127.0.0.1:7788"
    world.resources.functions = {"fn": function(world, (
        "import json, os\n"
        "def handler(event, context):\n"
        "    job = event['CodePipeline.job']\n"
        "    print('job', job['id'], json.loads(job['data']['actionConfiguration']['configuration']['UserParameters']))\n"
        "    print('env', os.environ['AWS_ENDPOINT_URL'], os.environ['STAGE'], context.function_name,"
        " context.get_remaining_time_in_millis() > 0)\n"
        "    return {'ok': True}\n"))}
    cmd = command("Invoke", "Lambda", job_id="job-1", FunctionName="fn", UserParameters='{"stage": "DEV"}')
    done = threading.Event()
    world.runner.submit(cmd, lambda event: done.set())
    deadline = time.monotonic() + 30
    while not any(line.startswith("env ") for line in world.lines) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert not done.is_set()  # its job ends through the API (PutJobSuccessResult), not here
    assert "job job-1 {'stage': 'DEV'}" in world.lines
    assert "env http://127.0.0.1:7788 dev fn True" in world.lines


def test_an_in_process_function_that_raises_fails_its_job(world):
    world.resources.functions = {"fn": function(world, "def handler(event, context):\n    raise KeyError('product')\n")}
    event = run(world, command("Invoke", "Lambda", job_id="job-2", FunctionName="fn"))
    assert isinstance(event, JobFailed)
    assert event.message == "fn: KeyError: 'product'"
    assert any("Traceback" in line for line in world.lines)


def test_simulate_is_checked_where_it_is_declared():
    """pipemu's own field, so what it cannot do is an error of the file, not a surprise at run time."""
    from emulator.definitions.loader import load_text

    def errors(text):
        return [str(e) for e in load_text(text, "m.yml").errors]

    assert errors("functions:\n  f: {runtime: nodejs20.x, handler: a.b, code: ., simulate: {inProcess: true}}\n") == [
        "m.yml:2:3: functions.f: simulate.inProcess runs Python functions only"]
    assert errors("projects:\n  p: {image: x, simulate: {inProcess: true}}\n") == [
        "m.yml:2:17: projects.p.simulate: inProcess is for functions: only a handler runs in-process"]
    assert errors("projects:\n  p: {image: x, simulate: {outcome: Skipped}}\n") == [
        "m.yml:2:28: projects.p.simulate.outcome: must be one of 'Succeeded' or 'Failed'"]
    assert errors("stacks:\n  s: {image: x, simulate: {duration: 1.5, outputVariables: {URL: http://s}}}\n") == []


def test_an_in_process_function_that_runs_too_long_times_out(world):
    fn = function(world, "import time\ndef handler(event, context):\n    print('working', flush=True)\n    time.sleep(30)\n")
    world.resources.functions = {"fn": fn.model_copy(update={"timeout": 1})}
    started = time.monotonic()
    event = run(world, command("Invoke", "Lambda", job_id="job-4", FunctionName="fn"))
    assert time.monotonic() - started < 10
    assert isinstance(event, JobFailed) and event.message == "fn: Task timed out after 1.00 seconds"
    assert "working" in world.lines


def test_a_stop_kills_an_in_process_function(world):
    world.resources.functions = {"fn": function(world, "import time\ndef handler(event, context):\n    time.sleep(30)\n")}
    started = time.monotonic()
    event = run(world, command("Invoke", "Lambda", job_id="job-5", FunctionName="fn"), cancel_after=0.5)
    assert time.monotonic() - started < 10
    assert isinstance(event, JobFailed) and event.message == "fn: stopped"
