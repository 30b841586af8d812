"""Simulated actions: release logic tested in seconds, without Docker.

pipemu's own mode (AWS has none): an action whose project, stack or function declares
`simulate: {outcome, duration, outputVariables, message}`, or any container action of a daemon
started with `pipemu serve --simulate` (PIPEMU_SIMULATE=1), starts no container. It waits
`duration` seconds (a stop cancels the wait), logs `[pipemu] simulated: ...`, says "simulated" in
its externalExecutionSummary so nobody mistakes it for a real run, and ends with the declared
outcome: its output variables, and output artifacts that are copies of its first input artifact
(empty without one), so later actions find files where they expect them.

Source actions are never simulated (a local git export is fast and real), nor are approvals, the
engine or the API. Stage conditions' rules that would start a container (CodeBuild, Commands) are
simulated as their actions are (rules/container_rules.py), and a LambdaInvoke rule honours its
function's own `simulate:` (rules/lambda_invoke.py). Lambda invokes stay real even in a
simulated daemon ("the Lambdas under test stay real"); a Python function's `simulate: {inProcess: true}` runs its handler for real without
Docker, in a Python subprocess of the daemon's machine given the environment its container would
get (the daemon's endpoint and keys): a subprocess, not a thread, because that environment is
process-wide and the handler's module-level boto3 clients read it at import.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from emulator.definitions.models import Simulate
from emulator.engine import RunAction
from emulator.engine.events import ActionOutput, ArtifactOutput

from .failures import ActionFailure
from .job_data import action_job_data, lambda_event

if TYPE_CHECKING:
    from .actions import ActionRunner

# What `--simulate` simulates: every action that would start a container (Lambda invokes aside).
CONTAINER_ACTIONS = frozenset({("Build", "CodeBuild"), ("Test", "CodeBuild"), ("Compute", "Commands"),
                               ("Deploy", "CloudFormation"), ("Deploy", "S3"), ("Deploy", "ECS")})
# Where a definition's own `simulate:` is found: (section, configuration key naming it).
DECLARED = {"CodeBuild": ("projects", "ProjectName"), "CloudFormation": ("stacks", "StackName"),
            "Lambda": ("functions", "FunctionName")}
DAEMON_WIDE = Simulate()  # Succeeded after a short duration


def spec_for(runner: ActionRunner, command: RunAction) -> Simulate | None:
    """The simulation an action runs under, or None when it runs for real. A definition's own
    `simulate:` wins over the daemon-wide switch (it may say Failed, or a longer duration)."""
    action = command.action
    if action.category in ("Source", "Approval"):
        return None
    section, key = DECLARED.get(action.provider, (None, None))
    if section:
        name = dict(command.configuration).get(key)
        found = (getattr(runner.definitions(), section, None) or {}).get(name)
        if getattr(found, "simulate", None) is not None:
            return found.simulate
    if getattr(runner, "simulate_all", False) and (action.category, action.provider) in CONTAINER_ACTIONS:
        return DAEMON_WIDE
    return None


def run(runner: ActionRunner, command: RunAction, cancel: threading.Event, spec: Simulate) -> ActionOutput | None:
    """Carry out `command` as `spec` says; None for an in-process Lambda (its job ends through the API)."""
    if spec.inProcess:
        return in_process(runner, command, cancel, spec)
    action = command.action
    what = " ".join(f"{k}={v}" for k, v in command.configuration if k in ("ProjectName", "StackName", "FunctionName"))
    runner.log(command, f"[pipemu] simulated: {action.owner}/{action.provider} ({action.category}) {what}".rstrip()
               + f": {spec.outcome} after {spec.duration:g}s, no container started")
    if cancel.wait(spec.duration):
        runner.log(command, "[pipemu] simulated: stopped")
        raise ActionFailure("simulated action stopped")
    if spec.outcome == "Failed":
        raise ActionFailure(spec.message or "simulated failure (pipemu simulate: outcome Failed)",
                            external_id=f"simulated-{command.action_execution_id}")
    artifacts = []
    first_input = command.inputs[0] if command.inputs else None
    for name in action.output_artifacts:
        dest = runner.fresh_artifact_dir(command.execution_id, name)
        if first_input is not None and (runner.state_dir / first_input.location).is_dir():
            shutil.copytree(runner.state_dir / first_input.location, dest, symlinks=True)
        else:
            dest.mkdir(parents=True)
        artifacts.append(ArtifactOutput(name, runner.artifact_location(command.execution_id, name)))
    variables = {name: "" for name in action.output_variables} | {k: str(v) for k, v in spec.outputVariables.items()}
    for name, value in variables.items():
        runner.log(command, f"[pipemu] simulated: output variable {name}={value}")
    return ActionOutput(summary=f"simulated by pipemu: {spec.message or spec.outcome}",
                        external_execution_id=f"simulated-{command.action_execution_id}",
                        output_variables=tuple(variables.items()), artifacts=tuple(artifacts))


_BOOTSTRAP = r"""
import importlib, json, sys, time, traceback
code, handler, timeout, name, request_id, memory = sys.argv[1:7]
sys.path.insert(0, code)
deadline = time.monotonic() + float(timeout)

class Context:
    function_name = name
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:%s:123456789012:function:%s" % (__import__("os").environ["AWS_REGION"], name)
    memory_limit_in_mb = int(memory)
    aws_request_id = request_id
    log_group_name = "/aws/lambda/" + name
    log_stream_name = "pipemu-in-process"
    def get_remaining_time_in_millis(self):
        return max(0, int((deadline - time.monotonic()) * 1000))

module, _, function = handler.rpartition(".")
try:
    result = getattr(importlib.import_module(module), function)(json.load(sys.stdin), Context())
    print(json.dumps(result, default=str)[:2000], flush=True)
except Exception as error:
    traceback.print_exc()
    sys.stderr.flush()
    print("PIPEMU-ERROR " + json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)}), flush=True)
    sys.exit(1)
"""


def in_process(runner: ActionRunner, command: RunAction, cancel: threading.Event, spec: Simulate,
               job: tuple[str, dict] | None = None) -> None:
    """The function's handler run for real with AWS's event, outside Docker (see the module's doc).
    `job` is the (id, data) it is given, when not the action's own (a LambdaInvoke rule's)."""
    config = dict(command.configuration)
    name = config.get("FunctionName", "")
    function = runner.resource("functions", name, "function")
    if not function.runtime.startswith("python"):
        raise ActionFailure(f"{name}: simulate.inProcess runs Python functions only, not {function.runtime}")
    if not Path(function.code).is_dir():
        raise ActionFailure(f"{name}: its code folder {function.code} does not exist")
    job_id, data = job or (command.job_id or command.action_execution_id, action_job_data(command, runner.region))
    # The environment its container would get, with the daemon's endpoint as this machine reaches it.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment |= runner.aws_environment() | {k: str(v) for k, v in function.environment.items()}
    endpoint = getattr(runner, "host_endpoint", None) or runner.api_endpoint
    if endpoint:
        environment |= {"AWS_ENDPOINT_URL": endpoint, "AWS_ENDPOINT_URL_CODEPIPELINE": endpoint}
    environment |= {"AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memorySize),
                    "PYTHONUNBUFFERED": "1"}
    runner.mask(command, environment)
    runner.log(command, f"[pipemu] simulated: {name} ({function.handler}) runs in-process, not in a container")
    process = subprocess.Popen(
        [sys.executable, "-c", _BOOTSTRAP, str(function.code), function.handler, str(function.timeout), name,
         job_id, str(function.memorySize)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment,
        cwd=str(function.code))
    process.stdin.write(json.dumps(lambda_event(job_id, data)))
    process.stdin.close()
    timed_out = threading.Event()
    stopper = threading.Thread(target=_stop_when, args=(process, cancel, function.timeout, timed_out), daemon=True)
    stopper.start()
    error = None
    for line in process.stdout:
        line = line.rstrip("\n")
        if line.startswith("PIPEMU-ERROR "):
            error = json.loads(line[len("PIPEMU-ERROR "):])
        else:
            runner.log(command, line)
    code = process.wait()
    if cancel.is_set():
        raise ActionFailure(f"{name}: stopped")
    if timed_out.is_set():  # Lambda's words for it
        raise ActionFailure(f"{name}: Task timed out after {function.timeout}.00 seconds")
    if code != 0:
        if error is None:
            error = {"errorType": "Runtime.ExitError", "errorMessage": f"exit status {code}"}
        raise ActionFailure(f"{name}: {error['errorType']}: {error['errorMessage']}")
    return None


def _stop_when(process: subprocess.Popen, cancel: threading.Event, timeout: float,
               timed_out: threading.Event) -> None:
    """Kill the handler's process on a stop or at the function's timeout, as Lambda would."""
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if cancel.wait(0.1):
            process.kill()
        elif time.monotonic() > deadline:
            timed_out.set()
            process.kill()
