"""The Amazon ECS deploy action, stood in for by a service container per `clusters:` service.

As AWS (the user guide's "Amazon ECS deploy action reference" and "imagedefinitions.json file
reference"): the input artifact holds FileName (imagedefinitions.json by default), a JSON list of
{name, imageUri}; the service's container of that name gets the new image, and the action waits
for the deployment to finish, failing after DeploymentTimeout minutes (1 to 60, 60 by default).

Here a cluster is a `clusters:` stand-in and its service one of its `services:` (models.py
EcsService: the container it runs, command, environment, port, health check, network). The
service runs as one long-lived container replaced blue/green exactly as a stack's (stacks.py):
the new one starts beside the old, which is removed only once the new one is healthy, so a bad
image fails the action and the old task keeps serving. It answers on its network (the deploying
stage's by default) by the service's name.

The image must already be in the local Docker engine (built by an earlier action with the
engine's socket, or tagged): there is no registry here, so nothing is pulled and an image that
is missing fails the action saying so, as a task that cannot pull its image fails on AWS.

The deploy's target (the service, `<cluster>:<service>`) and its steps are recorded for
ListDeployActionExecutionTargets (deploy_targets.py).
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING

import docker.errors

from emulator.engine import RunAction
from emulator.engine.events import ActionOutput

from . import stacks
from .artifact_files import OutsideArtifact, inside
from .deploy_targets import TargetRecorder
from .failures import ActionFailure

if TYPE_CHECKING:
    from .actions import ActionRunner

DEFAULT_FILE = "imagedefinitions.json"
TARGET_TYPE = "ECSService"  # AWS lists no ECS targets (see the README): our own word for ours


def image_definitions(runner: ActionRunner, command: RunAction, file_name: str) -> list[dict]:
    """The input artifact's image definitions file, checked: a list of {name, imageUri}."""
    artifact = command.inputs[0]
    try:
        path = inside(runner.state_dir / artifact.location, file_name, "FileName")
    except FileNotFoundError:
        raise ActionFailure(f"Exception while trying to read the image artifact file {file_name}: "
                            f"it is not in the input artifact {artifact.name}") from None
    except OutsideArtifact as exc:
        raise ActionFailure(str(exc)) from None
    try:
        found = json.loads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ActionFailure(f"Exception while trying to parse the image URI file {file_name}: {exc}") from None
    if not isinstance(found, list) or not found or not all(
            isinstance(d, dict) and isinstance(d.get("name"), str) and isinstance(d.get("imageUri"), str)
            for d in found):
        raise ActionFailure(f"{file_name} must be a JSON list of {{\"name\": ..., \"imageUri\": ...}} (the "
                            "imagedefinitions.json format)")
    return found


def _timeout_minutes(config: dict, action_minutes: int | None) -> float:
    text = config.get("DeploymentTimeout")
    if text is None or not str(text).strip():
        minutes = 60.0
    else:
        try:
            minutes = float(text)
        except ValueError:
            raise ActionFailure(f"DeploymentTimeout must be a number of minutes (1 to 60), not {text!r}") from None
        if not 1 <= minutes <= 60:
            raise ActionFailure(f"DeploymentTimeout must be between 1 and 60 minutes, not {text}")
    return min(minutes, float(action_minutes)) if action_minutes else minutes


def deploy(runner: ActionRunner, command: RunAction, cancel: threading.Event) -> ActionOutput:
    config = dict(command.configuration)
    cluster_name, service_name = config["ClusterName"], config["ServiceName"]
    cluster = runner.resource("clusters", cluster_name, "cluster")
    service = cluster.services.get(service_name)
    if service is None:
        raise ActionFailure(f"ServiceNotFoundException: Service {service_name} not found in cluster {cluster_name}: "
                            f"declare its stand-in under clusters: {cluster_name}: services:")
    file_name = config.get("FileName") or DEFAULT_FILE
    definitions = image_definitions(runner, command, file_name)
    wanted = service.container or definitions[0]["name"]
    entry = next((d for d in definitions if d["name"] == wanted), None)
    if entry is None:
        raise ActionFailure(f"{file_name} names no container {wanted} (it names "
                            f"{', '.join(d['name'] for d in definitions)}), the container of service {service_name}")
    image = entry["imageUri"].strip()
    timeout = _timeout_minutes(config, command.action.timeout_in_minutes) * 60

    record = TargetRecorder(runner.deploy_targets, command.action_execution_id, runner.clock)
    target = record.target(f"{cluster_name}:{service_name}", TARGET_TYPE)
    try:
        return _roll_out(runner, command, cancel, record, target, service, image, wanted, timeout, cluster_name,
                         service_name)
    except BaseException as exc:  # the engine went away, the deploy was stopped, a bug: never left InProgress
        for item in (*target["events"], target):
            if item["status"] == "InProgress":
                record.end(item, "Failed", str(exc) or type(exc).__name__)
        raise


def _roll_out(runner, command, cancel, record, target, service, image, wanted, timeout, cluster_name, service_name):
    """Check the image, then replace the service's container (stacks.deploy); each step an event."""
    log = lambda line: runner.log(command, line)  # noqa: E731
    step = record.event(target, "ImageCheck")
    try:
        runner.client().images.get(image)
    except docker.errors.ImageNotFound:
        message = (f"CannotPullContainerError: image {image} of container {wanted} is not in the local Docker "
                   "engine; build or tag it there first (there is no registry here)")
        record.end(step, "Failed", message)
        record.end(target, "Failed")
        raise ActionFailure(message) from None
    record.end(step, "Succeeded", f"{wanted}: {image}")

    network = service.network or command.stage
    environment = {**runner.aws_environment(), **service.environment}
    runner.mask(command, environment)
    job = stacks.declared_job(
        service,
        stack=f"ecs.{cluster_name}.{service_name}",
        alias=service_name,
        network=network,
        daemon_id=runner.daemon_id,
        image=image,
        dockerfile=None,
        artifact=None,
        environment=environment,
        labels={**runner.labels(command), "pipemu.ecs-cluster": cluster_name, "pipemu.ecs-service": service_name},
        timeout_seconds=timeout,
    )
    log(f"[pipemu] ECS service {cluster_name}/{service_name}: container {wanted} -> {image}")
    step = record.event(target, "ReplaceTask")
    runner.network(network)
    result = stacks.deploy(runner.client(), job, log, cancel)
    if not result.succeeded:
        message = result.message.replace(f"Stack {job.stack}", f"Service {service_name}")
        record.end(step, "Failed", message)
        record.end(target, "Failed")
        raise ActionFailure(message, external_id=f"{cluster_name}:{service_name}")
    record.end(step, "Succeeded", f"{result.outputs['ContainerName']} runs {image}")
    record.end(target, "Succeeded")
    summary = f"Service {service_name} of cluster {cluster_name} runs {image}"
    log(f"[pipemu] {summary}")
    return ActionOutput(summary=summary, external_execution_id=f"{cluster_name}:{service_name}")
