"""What changes when the daemon itself runs in a container (docker-compose.yml).

On a host, the containers the daemon starts reach its API at `host.docker.internal` (the Docker
bridge gateway, where the daemon also listens). In a container that does not work: the API is
published on the host's loopback only. Instead the daemon finds its own container on the engine
and joins every network the runner creates for actions and stacks (`pipemu-<daemon>-<env>`)
under the alias `pipemu-api`, before the action's container starts; containers then reach it at
`http://pipemu-api:<port>` (AWS_ENDPOINT_URL).

`PIPEMU_IN_CONTAINER=1` (set by docker-compose.yml) says we run in a container, `0` says we do
not; unset, `/.dockerenv` decides. A container that is not found on the engine `DOCKER_HOST`
names (docker-in-docker, a remote engine) leaves everything as on a host.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import socket
import threading
from pathlib import Path

log = logging.getLogger("pipemu")

ALIAS = "pipemu-api"
_ID_IN_PATH = re.compile(r"/containers/([0-9a-f]{64})/")


def in_container() -> bool:
    flag = os.environ.get("PIPEMU_IN_CONTAINER", "").strip().lower()
    if flag:
        return flag in ("1", "true", "yes")
    return Path("/.dockerenv").exists()


def _candidate_ids() -> list[str]:
    """Our container's id as Docker sees it: from the bind mounts Docker makes for /etc/hostname
    and friends (the full id), else the hostname (its first 12 digits unless set otherwise)."""
    found = []
    try:
        found += _ID_IN_PATH.findall(Path("/proc/self/mountinfo").read_text())
    except OSError:
        pass
    found.append(socket.gethostname())
    return list(dict.fromkeys(found))


def own_container(client):
    """Our own container on `client`'s engine, or None (not there: another engine)."""
    import docker.errors

    for candidate in _candidate_ids():
        try:
            container = client.containers.get(candidate)
        except docker.errors.DockerException:
            continue
        # `get` matches id prefixes and names: accept only what is really this container.
        if container.id.startswith(candidate) or container.attrs["Config"].get("Hostname") == candidate:
            if container.attrs["Config"].get("Hostname") == socket.gethostname():
                return container
    return None


def gateways(network_attrs: dict) -> set[str]:
    """A network's gateways (the host's addresses on it), from its inspect or listing."""
    found = set()
    for entry in (network_attrs.get("IPAM") or {}).get("Config") or []:
        if entry.get("Gateway"):
            found.add(entry["Gateway"].split("/")[0])
        elif entry.get("Subnet"):  # engines that leave the gateway out use the subnet's first host
            found.add(str(next(ipaddress.ip_network(entry["Subnet"], strict=False).hosts())))
    return found


class NetworkJoiner:
    """Called by the runner with each network it makes sure of; joins it under ALIAS."""

    def __init__(self, client, container, port: int, alias: str = ALIAS):
        self.client, self.container, self.alias = client, container, alias
        self.endpoint = f"http://{alias}:{port}"
        self._joined: set[str] = set()
        self._lock = threading.Lock()
        # The host's address on each network joined: Docker may move the published port to the
        # network joined last (before Docker 28), and the host's requests then come from there.
        self.gateways: set[str] = set()

    def __call__(self, network: str) -> None:
        import docker.errors

        with self._lock:
            if network in self._joined:
                return
            try:
                found = self.client.networks.get(network)
                self.gateways.update(gateways(found.attrs))
                found.connect(self.container, aliases=[self.alias])
                log.info("joined network %s as %s", network, self.alias)
            except docker.errors.APIError as exc:
                self.container.reload()  # already there (a restarted container) is fine
                if network not in self.container.attrs["NetworkSettings"]["Networks"]:
                    log.warning("could not join network %s: %s (its containers cannot reach the API)",
                                network, exc)
                    return
            self._joined.add(network)

    def join_existing(self, daemon_id: str) -> None:
        """After a restart, actions re-attached to may run on networks made before."""
        for network in self.client.networks.list(filters={"label": f"pipemu.daemon={daemon_id}"}):
            self(network.name)

    def leave(self) -> None:
        """At shutdown: networks nothing else uses can then be removed."""
        import docker.errors

        with self._lock:
            for network in sorted(self._joined):
                try:
                    self.client.networks.get(network).disconnect(self.container)
                except docker.errors.DockerException:
                    pass
            self._joined.clear()


def network_joiner(port: int, daemon_id: str) -> NetworkJoiner | None:
    """A NetworkJoiner when the daemon runs in a container of the engine it drives, else None."""
    if not in_container():
        return None
    try:
        import docker

        client = docker.from_env(timeout=30)
        container = own_container(client)
    except Exception as exc:  # no engine: actions will say so
        log.warning("running in a container, but the Docker engine is not reachable: %s", exc)
        return None
    if container is None:
        # Normal for a daemon in a container of another engine (or a sandbox): not an error.
        log.info("this container is not one of the Docker engine's: action containers reach the API "
                 "at the host's address, as when the daemon runs on a host")
        return None
    joiner = NetworkJoiner(client, container, port)
    try:
        joiner.join_existing(daemon_id)
    except Exception as exc:
        log.warning("could not join this daemon's networks: %s", exc)
    log.info("running in container %s: containers reach the API at %s", container.name, joiner.endpoint)
    return joiner
