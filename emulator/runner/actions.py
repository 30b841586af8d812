"""Carries out RunAction commands: one thread per action, the provider's runner, one report back.

Providers (providers.py) are looked up by (category, provider); each returns an ActionOutput or
raises ActionFailure. Whatever happens, exactly one ActionSucceeded or ActionFailed is reported.
Artifacts live under `<state-dir>/artifacts/<execution>/<artifact>/` (kept for the history).
A state folder that takes no more writes (disk full, read-only) fails the action with the OS's
words; a log line it refuses is dropped (said once per action in the daemon's log).
"""

from __future__ import annotations

import errno
import functools
import json
import logging
import re
import shutil
import threading
import time
from pathlib import Path
from typing import Callable

from emulator.engine import ActionFailed, ActionSucceeded, Event, JobFailed, RuleFailed, RuleSucceeded, RunAction, RunRule

from emulator.cfn.store import StackStore
from emulator.alarms import Alarms
from emulator.lambdas.functions import FunctionConfig
from emulator.lambdas.service import Lambdas
from emulator.topics import Topics

from . import simulate, stacks, streaming
from .containers import EngineUnavailable, engine_down, list_containers, remove_named, unavailable_message
from .deploy_targets import DeployTargets
from .failures import ActionFailure
from .pipeline_invoke import PipelineStarter
from .providers import PROVIDERS, container_name, not_emulated

log = logging.getLogger(__name__)

LABEL_PREFIX = "pipemu."
# Variables whose values are masked in logs (besides CodeBuild's PARAMETER_STORE/SECRETS_MANAGER).
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE_KEY|API_KEY|CREDENTIAL", re.IGNORECASE)
# A write the disk refused: the state folder's problem, not a bug of ours.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})


class ActionRunner:
    """Runs actions in the background. `resources()` gives the current definitions folder."""

    def __init__(
        self,
        state_dir: Path,
        resources: Callable[[], object],
        write_log: Callable[[str, str], None],
        docker_client_factory: Callable[[], object] | None = None,
        daemon_id: str = "pipemu",
        api_endpoint: str | None = None,
        region: str = "us-east-1",
        on_network: Callable[[str], None] | None = None,
        credentials: tuple[str, str] | None = None,
    ):
        self.state_dir = Path(state_dir)
        self._resources = resources
        self._write_log = write_log
        self._client_factory = docker_client_factory or _docker_from_env
        self._client = None
        self._client_lock = threading.Lock()
        self._cancels: dict[str, threading.Event] = {}
        self._secrets: dict[str, list[str]] = {}  # action execution -> values to mask in its log
        self._leftovers: set[str] = set()  # containers to remove once the engine answers again
        self._logs_lost: set[str] = set()  # action executions whose log lost a line
        self.daemon_id = daemon_id
        self.keep_failed = False  # every failed build's workspace kept (pipemu serve --keep-failed)
        self.simulate_all = False  # every container action simulated (pipemu serve --simulate)
        self.host_endpoint: str | None = None  # the daemon's API as this machine reaches it
        self.api_endpoint = api_endpoint  # the daemon's API as containers reach it
        self.region = region
        self.on_network = on_network  # told of each network before a container joins it
        self.clock: Callable[[], float] = time.time  # the engine's clock (the daemon's may be moved)
        # The daemon's own keys (daemon/credentials.py): what lets its containers call its API.
        self.credentials = credentials or ("pipemu", "pipemu")
        # The stacks deploys made and the functions they hold, served by the API as well.
        self.stacks = StackStore(self.state_dir / "cloudformation")
        self._deployed: tuple[int, list[FunctionConfig]] | None = None
        self.lambdas = Lambdas(
            client=self.client,
            declared=lambda: getattr(self._resources(), "functions", None) or {},
            deployed=self._deployed_functions,
            environment=self.aws_environment,
            region=region,
            daemon_id=daemon_id,
            # A daemon in a container reaches warm functions on a network both join.
            network=(lambda: self.network("pipemu-functions")) if on_network else None,
        )
        # The targets of deploy action executions (ListDeployActionExecutionTargets).
        self.deploy_targets = DeployTargets(self.state_dir / "deploy-targets")
        # Starts a pipeline of this daemon (the CodePipeline invoke action): the service's
        # StartPipelineExecution, given by the daemon once both exist (daemon/main.py).
        self.start_pipeline: PipelineStarter | None = None
        # The alarm stand-ins' states: set through the API, watched by rules.
        self.alarms = Alarms(self.state_dir / "alarms.json",
                             declared=lambda: getattr(self._resources(), "alarms", None) or {})
        # The SNS topic stand-ins: approvals' notifications and rules' SNS targets publish here.
        self.topics = Topics(self.state_dir, declared=lambda: getattr(self._resources(), "topics", None) or {},
                             lambdas=self.lambdas, region=region, clock=lambda: self.clock())
        for record in self.lambdas.restore_endpoints(self.stacks.live()):  # a port was taken meanwhile
            log.warning("the endpoints of stack %s moved to new ports", record["StackName"])
            self.stacks.put(record)

    def _deployed_functions(self) -> list[FunctionConfig]:
        """The functions stacks made, read from the records again only after a record changed."""
        version = self.stacks.version
        if self._deployed is None or self._deployed[0] != version:
            self._deployed = (version, [FunctionConfig.from_record(r["Function"]) for record in self.stacks.live()
                                        for r in record.get("Resources") or [] if r.get("Function")])
        return self._deployed[1]

    # -- the Runner protocol ------------------------------------------------------------------

    def submit(self, command: RunAction, report: Callable[[Event], bool | None]) -> None:
        cancel = self._cancels.setdefault(command.action_execution_id, threading.Event())
        thread = threading.Thread(
            target=self._run,
            args=(command, report, cancel),
            name=f"action-{command.stage}.{command.action.name}",
            daemon=True,
        )
        thread.start()

    def submit_rule(self, command: RunRule, report: Callable[[Event], bool | None]) -> None:
        """Judge a condition's rule on a thread of its own (rules/); its verdict is reported as
        RuleSucceeded or RuleFailed (a LambdaInvoke rule's comes through the job API)."""
        cancel = self._cancels.setdefault(command.rule_execution_id, threading.Event())
        threading.Thread(target=self._judge, args=(command, report, cancel), daemon=True,
                         name=f"rule-{command.stage}.{command.rule.name}").start()

    def _judge(self, command: RunRule, report: Callable[[Event], bool | None], cancel: threading.Event) -> None:
        from emulator.rules import judge
        from emulator.rules.container_rules import as_action

        where = (command.pipeline, command.execution_id, command.stage, command.kind, command.rule.name,
                 command.rule_execution_id)
        as_run = as_action(command, "Rule", command.rule.provider)  # its log is kept under the rule's id
        try:
            verdict = judge(self, command, cancel, lambda line: self.log(as_run, line))
        except Exception as exc:
            if engine_down(exc):
                verdict_event = RuleFailed(*where, "ConfigurationError", unavailable_message(exc))
            else:  # a bug of ours must still end the rule
                log.exception("rule %s.%s crashed", command.stage, command.rule.name)
                verdict_event = RuleFailed(*where, "InternalError", f"pipeline-emulator internal error: {exc}")
        else:
            if verdict is None:
                return
            if verdict.passed:
                verdict_event = RuleSucceeded(*where, verdict.summary, verdict.external_execution_id)
            else:
                verdict_event = RuleFailed(*where, verdict.error_code or "RuleFailed", verdict.message or "",
                                           verdict.external_execution_id)
        finally:
            self._cancels.pop(command.rule_execution_id, None)
            self._secrets.pop(command.rule_execution_id, None)
        self.log(as_run, f"[pipemu] rule {command.rule.name}: "
                         + (verdict_event.summary or "passed" if isinstance(verdict_event, RuleSucceeded)
                            else f"failed: {verdict_event.message}"))
        if report(verdict_event) is not False and command.rule.provider in ("CodeBuild", "Commands"):
            self._discard(container_name(command.rule_execution_id))

    def cancel(self, action_execution_id: str) -> None:
        event = self._cancels.get(action_execution_id)
        if event is not None:
            event.set()

    # -- running ------------------------------------------------------------------------------

    def _run(self, command: RunAction, report: Callable[[Event], bool | None], cancel: threading.Event) -> None:
        action = command.action
        provider = PROVIDERS.get((action.category, action.provider))
        spec = simulate.spec_for(self, command)  # simulated: no container, so nothing to clean up
        if spec is not None:
            provider = functools.partial(simulate.run, spec=spec)
        else:
            for name in list(self._leftovers):
                self._discard(name)
        where = (command.pipeline, command.execution_id, command.stage, action.name, command.action_execution_id)
        def failed(message: str, external_id: str | None = None, code: str = "JobFailed") -> Event:
            if command.job_id:  # only this job fails: a continued job has a new id
                return JobFailed(command.job_id, message, code, external_id)
            return ActionFailed(*where, message=message, external_execution_id=external_id)

        build_failed = False
        try:
            output = (provider or not_emulated)(self, command, cancel)
        except ActionFailure as failure:
            message = self.masked(command, str(failure))  # kept in the state: never a secret's value
            self.log(command, f"[pipemu] action failed: {message}")
            saved = report(failed(message, failure.external_id))
            build_failed = True
        except Exception as exc:
            if engine_down(exc):  # no engine (stopped, restarting, DOCKER_HOST wrong): not a bug
                message = unavailable_message(exc)
                self.log(command, f"[pipemu] action failed: {message}")
                saved = report(failed(message))
            elif isinstance(exc, OSError) and exc.errno in DISK_ERRNOS:
                where_to = exc.filename or self.state_dir
                message = f"pipeline-emulator could not write its state folder ({where_to}): {exc.strerror}"
                log.error("action %s.%s failed: %s", command.stage, action.name, message)
                saved = report(failed(message))
            else:  # a bug of ours must still end the action
                log.exception("action %s.%s crashed", command.stage, action.name)
                saved = report(failed(self.masked(command, f"pipeline-emulator internal error: {exc}")))
        else:
            # None: the job reports its own result through the API
            saved = report(ActionSucceeded(*where, output=output)) if output is not None else True
        finally:
            self._cancels.pop(command.action_execution_id, None)
            self._secrets.pop(command.action_execution_id, None)
            self._logs_lost.discard(command.action_execution_id)
        # Only now that the result is committed may the container go: a crash before this
        # point re-attaches to the exited container instead of running the action again. A
        # result the state folder would not take (saved is False) keeps it for the same reason.
        if saved is False or spec is not None:
            return
        if provider is not None and action.provider in ("CodeBuild", "Commands"):  # builds' containers
            name = container_name(command.action_execution_id)
            if build_failed and self.keeps_failed(command):
                self._keep_failed(command, name)
            self._discard(name)
        if provider is not None and command.job_id:
            self._discard(container_name(command.job_id))

    def keeps_failed(self, command: RunAction) -> bool:
        """Whether a failed build's workspace is kept (`pipemu serve --keep-failed`, or the
        project's `keepFailed`), for `pipemu shell`."""
        if self.keep_failed:
            return True
        project = (getattr(self._resources(), "projects", None) or {}).get(dict(command.configuration).get("ProjectName"))
        return bool(getattr(project, "keepFailed", False))

    def _keep_failed(self, command: RunAction, name: str) -> None:
        """The failed build's container as an image (its files, environment and working folder),
        labelled with the action execution and the names of its secret variables (which `pipemu
        shell` masks when it prints the environment); the container itself goes as usual."""
        import docker.errors

        try:
            container = self.client().containers.get(name)
            environment = dict(item.split("=", 1) for item in container.attrs["Config"].get("Env") or [] if "=" in item)
            secret = sorted(k for k, v in environment.items()
                            if v and any(s in v for s in self._secrets.get(command.action_execution_id, ())))
            labels = {f"{LABEL_PREFIX}daemon": self.daemon_id, f"{LABEL_PREFIX}kept": "failed",
                      f"{LABEL_PREFIX}pipeline": command.pipeline, f"{LABEL_PREFIX}stage": command.stage,
                      f"{LABEL_PREFIX}action": command.action.name,
                      f"{LABEL_PREFIX}action-execution": command.action_execution_id,
                      f"{LABEL_PREFIX}secret-variables": ",".join(secret)}
            container.commit(repository="pipemu-kept", tag=command.action_execution_id,
                             changes=[f"LABEL {k}={json.dumps(v)}" for k, v in labels.items()])
            self.log(command, f"[pipemu] the failed build's workspace is kept: pipemu shell {command.pipeline} "
                              f"{command.stage} {command.action.name}")
        except (docker.errors.DockerException, EngineUnavailable) as exc:
            log.warning("could not keep the workspace of %s.%s: %s", command.stage, command.action.name, exc)

    def _discard(self, name: str) -> None:
        """Remove a finished action's container; with no engine to ask now, at a later action's
        start (an engine restart leaves the stopped container behind)."""
        try:
            gone = remove_named(self.client(), name)
        except EngineUnavailable:
            gone = False
        if gone:
            self._leftovers.discard(name)
        else:
            self._leftovers.add(name)

    def shutdown(self) -> None:
        """The daemon stops: running actions are handed over (their containers go on); networks
        nothing uses any more are removed."""
        if self._client is None:
            return
        import docker.errors

        try:
            self.lambdas.close()
            stacks.remove_idle_networks(self._client, self.daemon_id)
        except Exception as exc:
            if not (engine_down(exc) or isinstance(exc, docker.errors.DockerException)):
                raise
            log.warning("could not remove idle networks: %s", exc)

    def reap(self, keep: set[str]) -> list[str]:
        """Remove this daemon's containers whose action execution is not in `keep` (after a
        restart: actions that ended, were abandoned, or belong to a removed pipeline)."""
        import docker.errors

        removed = []
        label = f"{LABEL_PREFIX}daemon={self.daemon_id}"
        try:
            for container in list_containers(self.client(), {"label": label}):
                action_execution_id = container.labels.get(f"{LABEL_PREFIX}action-execution")
                # Only action containers: deployed stacks outlive their actions by design. An
                # image probe (runner/streaming.py) of this daemon's previous life is left over.
                probe = streaming.PROBE_LABEL in container.labels
                if probe or (action_execution_id is not None and action_execution_id not in keep):
                    container.remove(force=True)
                    removed.append(container.name)
            removed += self.lambdas.reap()  # warm environments of a daemon that did not stop
        except Exception as exc:
            if not (engine_down(exc) or isinstance(exc, docker.errors.DockerException)):
                raise
            log.warning("could not look for leftover containers: %s", exc)  # actions will say why
        return removed

    def resource(self, section: str, name: str, what: str):
        """A declared repository or project of the current definitions, or the action fails."""
        found = (getattr(self._resources(), section, None) or {}).get(name)
        if found is None:
            # AWS's words for a resource that does not exist, and where its stand-in goes here.
            raise ActionFailure(f"{what} {name} does not exist: declare its stand-in under {section}: in a file "
                                "of the pipelines folder")
        return found

    def definitions(self):
        """The current definitions folder (its stand-ins: `projects`, `secrets`, ...)."""
        return self._resources()

    def masked(self, command: RunAction, text: str) -> str:
        """`text` with the values this action must never show replaced by ***, as CodeBuild does."""
        for secret in self._secrets.get(command.action_execution_id, ()):
            text = text.replace(secret, "***")
        return text

    def log(self, command: RunAction, line: str) -> None:
        try:
            self._write_log(command.action_execution_id, self.masked(command, line))
        except OSError as exc:  # the state folder refused it: the action goes on, its log has a gap
            if command.action_execution_id not in self._logs_lost:
                self._logs_lost.add(command.action_execution_id)
                log.error("log of %s.%s lost lines: %s", command.stage, command.action.name, exc)

    def mask_values(self, command: RunAction, values: list[str]) -> None:
        """These values (resolved secrets) never reach this action's stored log or result."""
        known = set(self._secrets.get(command.action_execution_id, ())) | {v for v in values if v}
        if known:
            self._secrets[command.action_execution_id] = sorted(known, key=len, reverse=True)

    def mask(self, command: RunAction, environment: dict[str, str], secret_names: set[str] = frozenset()) -> None:
        """Values of secret-looking variables never reach the stored log."""
        # Our endpoint, region and key id are no secrets; our secret key is, and is masked.
        ours = {k for k in self.aws_environment() if k != "AWS_SECRET_ACCESS_KEY"}
        values = {
            value for name, value in environment.items()
            if value and len(value) >= 4 and name not in ours and (name in secret_names or SECRET_NAME.search(name))
        }
        self.mask_values(command, sorted(values))

    def client(self):
        with self._client_lock:
            if self._client is None:
                try:
                    self._client = self._client_factory()
                except Exception as exc:  # docker.from_env asks the engine for its API version
                    raise EngineUnavailable(str(exc)) from exc
            return self._client

    def network_for(self, stage: str, named: str | None = None) -> str | None:
        """The network a build's or invocation's container joins; None: the default bridge.

        Joining a network of its own costs a container ~85 ms more to start on these machines
        (busybox create/start/wait/remove: 427 vs 512 ms, median of 16), a fifth of a no-op
        build, so an action joins its environment only when there is something to reach there:
        a stack deployed in it, a network its project names, or a daemon that runs in a
        container (reached by its alias on that network). Actions of one runOrder run side by
        side: one cannot count on a stack another of them deploys.
        """
        if named is None and self.on_network is None and not stacks.stack_containers(
                self.client(), self.daemon_id, network=stage):
            return None
        return self.network(named or stage)

    def network(self, network: str) -> str:
        """The environment's Docker network (made if missing), once `on_network` has been told."""
        name = stacks.ensure_network(self.client(), self.daemon_id, network)
        if self.on_network:
            self.on_network(name)
        return name

    def artifact_dir(self, execution_id: str, name: str) -> Path:
        return self.state_dir / "artifacts" / execution_id / name

    def fresh_artifact_dir(self, execution_id: str, name: str) -> Path:
        """The artifact's folder, emptied: a re-run after a restart starts clean."""
        dest = self.artifact_dir(execution_id, name)
        if dest.exists():
            shutil.rmtree(dest)
        return dest

    def remove_artifacts(self, execution_id: str) -> None:
        shutil.rmtree(self.state_dir / "artifacts" / execution_id, ignore_errors=True)

    def artifact_location(self, execution_id: str, name: str) -> str:
        return f"artifacts/{execution_id}/{name}"

    def aws_environment(self) -> dict[str, str]:
        """What an AWS SDK in a container needs to talk to this daemon, unchanged."""
        env = {
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.credentials[0],
            "AWS_SECRET_ACCESS_KEY": self.credentials[1],
        }
        if self.api_endpoint:
            env["AWS_ENDPOINT_URL"] = self.api_endpoint
            env["AWS_ENDPOINT_URL_CODEPIPELINE"] = self.api_endpoint
        return env

    def labels(self, command: RunAction) -> dict[str, str]:
        return {
            f"{LABEL_PREFIX}daemon": self.daemon_id,
            f"{LABEL_PREFIX}pipeline": command.pipeline,
            f"{LABEL_PREFIX}execution": command.execution_id,
            f"{LABEL_PREFIX}stage": command.stage,
            f"{LABEL_PREFIX}action": command.action.name,
            f"{LABEL_PREFIX}action-execution": command.action_execution_id,
        }


def _docker_from_env():
    import docker

    return docker.from_env(timeout=300)
