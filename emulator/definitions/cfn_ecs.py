"""ECS clusters and services of an imported template, as `clusters:` stand-ins (models.py Cluster,
EcsService) for the ECS deploy action (runner/ecs_deploy.py).

An `AWS::ECS::Service` becomes the service `ServiceName` (else its generated name) of the cluster
its `Cluster` names (a Ref, a name or an ARN; `default` without one, as ECS). Its task definition
(`TaskDefinition`, a Ref to an `AWS::ECS::TaskDefinition` of the same template) gives the
container it runs: the first essential one of `ContainerDefinitions`, with its `Command`,
`Environment`, first `PortMappings` port and `HealthCheck`. The task definition's `Image` is not
run: the deploy runs the image its imagedefinitions.json names, as on AWS. An `AWS::ECS::Cluster`
alone is a cluster with no services yet. What has no local effect (desired count, networking,
load balancers, capacity) is accepted and said.
"""

from __future__ import annotations

from typing import Any

from emulator.cfn import types as cfn_types

SERVICE_USED = ("Cluster", "ServiceName", "TaskDefinition")
SERVICE_ACCEPTED = ("Tags", "PropagateTags", "EnableECSManagedTags", "Role", "LaunchType", "PlatformVersion",
                    "DeploymentController", "SchedulingStrategy", "ForceNewDeployment", "EnableExecuteCommand")
SERVICE_WARNED = ("DesiredCount", "NetworkConfiguration", "LoadBalancers", "CapacityProviderStrategy",
                  "DeploymentConfiguration", "HealthCheckGracePeriodSeconds", "PlacementConstraints",
                  "PlacementStrategies", "ServiceRegistries", "ServiceConnectConfiguration", "VolumeConfigurations",
                  "VpcLatticeConfigurations", "AvailabilityZoneRebalancing", "Monitoring")


def cluster(importer, logical: str, props: dict, path: tuple, pipemu: dict) -> None:
    importer.sections.setdefault("clusters", {}).setdefault(importer.s.physical_name(logical), {"services": {}})


def _cluster_name(value: Any) -> str:
    text = str(value or "default")
    return text.rsplit("cluster/", 1)[-1] if text.startswith("arn:") else text


def service(importer, logical: str, props: dict, path: tuple, pipemu: dict) -> None:
    importer.keys(props, path, SERVICE_USED, SERVICE_ACCEPTED, SERVICE_WARNED)
    name = importer.s.physical_name(logical)
    cluster_name = _cluster_name(props.get("Cluster"))
    stand_in: dict[str, Any] = {}
    raw = (importer.s.resources[logical].get("Properties") or {}).get("TaskDefinition")
    task = importer.s.resources.get(raw["Ref"]) if isinstance(raw, dict) and isinstance(raw.get("Ref"), str) else None
    if isinstance(task, dict) and task.get("Type") == "AWS::ECS::TaskDefinition":
        at = ("Resources", raw["Ref"], "Properties")
        definition = cfn_types.convert("AWS::ECS::TaskDefinition", importer.s.eval(task.get("Properties") or {}, at))
        stand_in = _container(importer, definition.get("ContainerDefinitions") or [], at + ("ContainerDefinitions",), name)
    elif raw is not None:
        importer.warn(path + ("TaskDefinition",), f"not a task definition of this template: service {name} runs its "
                                                  "image's own command, with no port to check")
    importer.sections.setdefault("clusters", {}).setdefault(cluster_name, {"services": {}})["services"][name] = stand_in


def _container(importer, containers: list, path: tuple, service_name: str) -> dict:
    """The stand-in of the container the service runs here (the first essential one)."""
    chosen = next((c for c in containers if isinstance(c, dict) and c.get("Essential", True) is not False), None)
    if chosen is None:
        return {}
    if len(containers) > 1:
        importer.warn(path, f"service {service_name} runs only its container {chosen.get('Name')} here "
                            f"(a task of {len(containers)} containers on AWS)")
    found: dict[str, Any] = {}
    if chosen.get("Name"):
        found["container"] = str(chosen["Name"])
    if chosen.get("Command"):
        found["command"] = [str(part) for part in chosen["Command"]]
    environment = {str(e["Name"]): str(e.get("Value", "")) for e in chosen.get("Environment") or [] if "Name" in e}
    if environment:
        found["environment"] = environment
    ports = [m.get("ContainerPort") for m in chosen.get("PortMappings") or [] if m.get("ContainerPort")]
    if ports:
        found["port"] = int(ports[0])
    check = chosen.get("HealthCheck") or {}
    command = check.get("Command") or []
    if command:
        # ECS's ["CMD-SHELL", "curl -f ..."] is a shell line; ["CMD", ...] runs as it is.
        found["healthCheck"] = {"command": " ".join(command[1:]) if command[0] == "CMD-SHELL" else command[1:]}
        for key, ours in (("Interval", "interval"), ("Retries", "retries"), ("StartPeriod", "startPeriod")):
            if check.get(key) is not None:
                found["healthCheck"][ours] = check[key]
    return found
