"""The CloudFormation deploy action: stacks of functions made for real, container stacks run.

A stack named in `stacks:` is a long-lived container (stacks.py). Any other stack is deployed
from its template (TemplatePath), as CloudFormation deploys it: the template is evaluated with
its parameters (TemplateConfiguration, then ParameterOverrides with CodePipeline's
Fn::GetArtifactAtt and Fn::GetParam), the functions it declares become local Lambda functions
(code from the artifact that S3Bucket/S3Key name, from a `buckets:` stand-in, from ZipFile, or
beside the template for SAM's CodeUri), every other resource is listed as not emulated, and the
stack's record (cfn/store.py) holds its outputs, resources and template for the CloudFormation
API. OutputFileName receives the outputs as CloudFormation's action writes them.

Action modes as AWS's user guide describes them: CREATE_UPDATE, REPLACE_ON_FAILURE (a stack in
a failed state is deleted first), DELETE_ONLY (a missing stack is fine), CHANGE_SET_REPLACE (the
change set is kept; a new stack waits in REVIEW_IN_PROGRESS) and CHANGE_SET_EXECUTE.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from emulator.cfn import deploy as cfn_deploy
from emulator.cfn.evaluate import TemplateError
from emulator.cfn.store import STACK_NAME, new_stack_id
from emulator.definitions.cfn_import import nearest_runtime
from emulator.engine import RunAction
from emulator.engine.events import ActionOutput, ArtifactOutput
from emulator.lambdas.functions import ACCOUNT_ID, FunctionConfig, folder_digest

from . import stacks
from .artifact_files import OutsideArtifact, inside, new_file
from .failures import ActionFailure
from .job_data import ARTIFACT_BUCKET

if TYPE_CHECKING:
    from .actions import ActionRunner

FAILED_STATES = ("CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "UPDATE_ROLLBACK_FAILED")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -------------------------------------------------------------- CodePipeline's parameter inputs

def _artifact_file(inputs: dict[str, Path], reference: str, what: str) -> Path:
    artifact, _, path = reference.partition("::")
    if not path or artifact not in inputs:
        raise ActionFailure(f"{what} {reference!r} must be ArtifactName::path with an input artifact "
                            f"({', '.join(sorted(inputs)) or 'none'})")
    try:
        return inside(inputs[artifact], path, what)
    except FileNotFoundError:
        raise ActionFailure(f"{what}: {path} not found in input artifact {artifact}") from None
    except OutsideArtifact as exc:
        raise ActionFailure(str(exc)) from None


def _resolve(value, inputs: dict[str, Path], locations: dict[str, str]):
    """A ParameterOverrides value: text, or Fn::GetArtifactAtt / Fn::GetParam as CodePipeline has them."""
    if isinstance(value, dict) and "Fn::GetArtifactAtt" in value:
        artifact, attribute = value["Fn::GetArtifactAtt"]
        if artifact not in inputs:
            raise ActionFailure(f"Fn::GetArtifactAtt names {artifact}, which is not an input artifact")
        # The key is the artifact's place under the state folder: a function's Code names it
        # back with S3Bucket/S3Key, and the deploy finds the artifact by it.
        known = {"BucketName": ARTIFACT_BUCKET, "ObjectKey": locations[artifact],
                 "URL": f"https://{ARTIFACT_BUCKET}.s3.amazonaws.com/{locations[artifact]}"}
        if attribute not in known:
            raise ActionFailure(f"Fn::GetArtifactAtt attribute {attribute} is not one of {', '.join(known)}")
        return known[attribute]
    if isinstance(value, dict) and "Fn::GetParam" in value:
        artifact, file, key = value["Fn::GetParam"]
        data = json.loads(_artifact_file(inputs, f"{artifact}::{file}", "Fn::GetParam").read_text())
        if key not in data:
            raise ActionFailure(f"Fn::GetParam: {file} in {artifact} has no key {key}")
        return str(data[key])
    return str(value)


def _parameters(config: dict, inputs: dict[str, Path], locations: dict[str, str]) -> dict[str, str]:
    parameters: dict[str, str] = {}
    if config.get("TemplateConfiguration"):
        try:
            configuration = json.loads(_artifact_file(inputs, config["TemplateConfiguration"], "TemplateConfiguration").read_text())
        except ValueError as error:
            raise ActionFailure(f"TemplateConfiguration is not JSON: {error}") from None
        parameters.update({k: str(v) for k, v in (configuration.get("Parameters") or {}).items()})
    try:
        overrides = json.loads(config.get("ParameterOverrides") or "{}")
    except ValueError as error:
        raise ActionFailure(f"ParameterOverrides is not JSON: {error}") from None
    if not isinstance(overrides, dict):
        raise ActionFailure("ParameterOverrides must be a JSON object")
    parameters.update({k: _resolve(v, inputs, locations) for k, v in overrides.items()})
    return parameters


# -------------------------------------------------------------- the action

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def deploy(runner: ActionRunner, command: RunAction, cancel: threading.Event) -> ActionOutput:
    config = dict(command.configuration)
    name = config["StackName"]
    if name in (getattr(runner._resources(), "stacks", None) or {}):
        return _container_stack(runner, command, config, cancel)
    if not STACK_NAME.fullmatch(name):
        raise ActionFailure(f"1 validation error detected: Value '{name}' at 'stackName' failed to satisfy constraint: "
                            "Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*")
    with _locks_guard:
        lock = _locks.setdefault(f"{runner.state_dir}:{name}", threading.Lock())
    # One deploy of a stack at a time (two pipelines deploying one stack: CloudFormation refuses
    # the second while the first is IN_PROGRESS; here the second waits, then sees the first's result).
    with lock:
        return TemplateDeploy(runner, command, config).run()


class TemplateDeploy:
    def __init__(self, runner: ActionRunner, command: RunAction, config: dict) -> None:
        self.runner, self.command, self.config = runner, command, config
        self.name = config["StackName"]
        self.store = runner.stacks
        self.inputs = {a.name: runner.state_dir / a.location for a in command.inputs}
        self.locations = {a.name: a.location for a in command.inputs}
        self._known: dict[str, dict[str, str]] = {}  # attributes only a deploy knows (endpoints' URLs)
        self._sources: dict = {}  # where code may come from: input artifacts by key, the template's folder

    def log(self, line: str) -> None:
        self.runner.log(self.command, f"[pipemu] {line}")

    def run(self) -> ActionOutput:
        mode = self.config["ActionMode"]
        record = self.store.get(self.name)
        if mode == "DELETE_ONLY":
            return self._delete(record)
        if mode == "CHANGE_SET_EXECUTE":
            change_set = self.config.get("ChangeSetName", "")
            pending = (record or {}).get("ChangeSets", {}).get(change_set)
            if pending is None and change_set and (record or {}).get("ExecutedChangeSet") == change_set:
                # Executed already (a daemon that stopped before it said so runs the action again).
                self.log(f"change set {change_set} was executed already")
                return self._output(record)
            if pending is None:
                raise ActionFailure(f"ChangeSet [{change_set}] does not exist")
            output = self._apply(record, pending["TemplateBody"], pending["Parameters"], pending["Sources"])
            self.store.put({**self.store.get(self.name), "ExecutedChangeSet": change_set})
            return output
        if not self.config.get("TemplatePath"):
            raise ActionFailure(f"stack {self.name}: TemplatePath is needed to {mode}")
        template_file = _artifact_file(self.inputs, self.config["TemplatePath"], "TemplatePath")
        text = template_file.read_text(encoding="utf-8", errors="replace")
        parameters = _parameters(self.config, self.inputs, self.locations)
        # Where code may come from: the input artifacts by key, and the template's own folder.
        sources = {"artifacts": {loc: str(self.inputs[n]) for n, loc in self.locations.items()},
                   "template_dir": str(template_file.parent)}
        if mode == "CHANGE_SET_REPLACE":
            return self._change_set(record, text, parameters, sources)
        if mode not in ("CREATE_UPDATE", "REPLACE_ON_FAILURE"):
            raise ActionFailure(f"ActionMode {mode} is not supported")
        if record is not None and record["StackStatus"] in FAILED_STATES:
            if mode == "CREATE_UPDATE":
                raise ActionFailure(f"Stack:{record['StackId']} is in {record['StackStatus']} state and can not be updated.")
            self.log(f"stack {self.name} is in {record['StackStatus']}: deleting it before creating it again (REPLACE_ON_FAILURE)")
            self._remove(record)
            record = None
        return self._apply(record, text, parameters, sources)

    # -- modes --------------------------------------------------------------------------------

    def _plan(self, text: str, parameters: dict[str, str], quiet: bool = False) -> cfn_deploy.StackPlan:
        # Other stacks' exports (a stack id is arn:...:stack/NAME/UUID).
        exports = {k: v["Value"] for k, v in self.store.exports().items()
                   if v["ExportingStackId"].split("/")[-2] != self.name}
        try:
            plan = cfn_deploy.plan(cfn_deploy.read(text, self.config.get("TemplatePath")), parameters, self.name,
                                   self.runner.region, ACCOUNT_ID, exports, self.config.get("TemplatePath"),
                                   known=self._known)
        except TemplateError as error:
            raise ActionFailure(f"Template error: {error}") from None
        for warning in [] if quiet else plan.warnings:
            self.log(f"warning: {warning}")
        return plan

    def _change_set(self, record: dict | None, text: str, parameters: dict, sources: dict) -> ActionOutput:
        change_set = self.config.get("ChangeSetName") or "pipemu-change-set"
        self._plan(text, parameters)  # CloudFormation refuses a change set whose template is wrong
        if record is None:
            stamp = now()
            record = {"StackName": self.name, "StackId": new_stack_id(self.runner.region, ACCOUNT_ID, self.name),
                      "CreationTime": stamp, "StackStatus": "REVIEW_IN_PROGRESS", "Parameters": [], "Outputs": [],
                      "Resources": [], "TemplateBody": ""}
        record.setdefault("ChangeSets", {})[change_set] = {"TemplateBody": text, "Parameters": parameters, "Sources": sources,
                                                           "CreationTime": now()}
        self.store.put(record)
        self.log(f"stack {self.name}: change set {change_set} created; CHANGE_SET_EXECUTE applies it")
        return ActionOutput(summary=f"Change set {change_set} created for stack {self.name}",
                            external_execution_id=record["StackId"])

    def _delete(self, record: dict | None) -> ActionOutput:
        if record is None:
            self.log(f"stack {self.name} does not exist: nothing to delete")
            return ActionOutput(summary=f"Stack {self.name} does not exist", external_execution_id=self.name)
        self._remove(record)
        self.log(f"stack {self.name}: DELETE_COMPLETE")
        return ActionOutput(summary=f"Stack {self.name} deleted", external_execution_id=record["StackId"])

    def _remove(self, record: dict) -> None:
        # The record goes first: a crash after it leaves unused code, never a stack without its code.
        self.store.delete(self.name, now())
        self.runner.lambdas.endpoints.close(self.name)
        for resource in record.get("Resources") or []:
            if resource.get("Function"):
                self.log(f"{resource['LogicalResourceId']} ({resource['ResourceType']}): function "
                         f"{resource['PhysicalResourceId']} deleted")
                self.runner.lambdas.pool.retire(resource["Function"]["name"])
                _drop_code(resource["Function"].get("code_dir"), self.runner.state_dir)

    # -- making the stack ---------------------------------------------------------------------

    def _endpoints(self, text: str, parameters: dict, record: dict | None) -> dict[str, int]:
        """Serve the template's endpoints (function URLs, SAM's APIs): logical id -> port, each
        on its previous port where it had one."""
        plan = self._plan(text, parameters, quiet=True)
        previous = {r["LogicalResourceId"]: (r.get("Endpoint") or {}).get("port")
                    for r in (record or {}).get("Resources") or []}
        endpoints = self.runner.lambdas.endpoints
        wanted = {r.logical_id for r in plan.endpoints}
        for logical in {k for k in previous if previous[k]} - wanted:  # endpoints the template dropped
            endpoints.close(self.name, logical)
        return {r.logical_id: endpoints.open(self.name, r.logical_id, list(r.endpoint.routes), r.endpoint.payload,
                                             previous.get(r.logical_id)) for r in plan.endpoints}

    def _apply(self, record: dict | None, text: str, parameters: dict, sources: dict) -> ActionOutput:
        try:
            ports = self._endpoints(text, parameters, record)
        except Exception:
            self._previous_endpoints(record)
            raise
        self._known = {logical: {"FunctionUrl": f"http://127.0.0.1:{port}/"} for logical, port in ports.items()}
        plan = self._plan(text, parameters)
        self._sources = sources
        creating = record is None or record["StackStatus"] == "REVIEW_IN_PROGRESS"
        stamp = now()
        previous = {r["LogicalResourceId"]: r for r in (record or {}).get("Resources") or []}
        resources, made = [], []
        try:
            for planned in plan.resources:
                entry = {"LogicalResourceId": planned.logical_id, "PhysicalResourceId": planned.physical_id,
                         "ResourceType": planned.type, "Timestamp": stamp}
                if planned.endpoint is not None:
                    port = ports[planned.logical_id]
                    entry["PhysicalResourceId"] = f"http://127.0.0.1:{port}/"
                    entry["ResourceStatus"] = "CREATE_COMPLETE" if planned.logical_id not in previous else "UPDATE_COMPLETE"
                    entry["Endpoint"] = {"routes": [list(r) for r in planned.endpoint.routes],
                                         "payload": planned.endpoint.payload, "port": port}
                    routes = ", ".join(f"{m} {p} -> {f}" for m, p, f in planned.endpoint.routes)
                    self.log(f"{planned.logical_id} ({planned.type}): http://127.0.0.1:{port}/ ({routes})")
                elif planned.function is None:
                    entry["ResourceStatus"] = "CREATE_COMPLETE"
                    entry["ResourceStatusReason"] = "not emulated by pipemu: nothing was made"
                    self.log(f"{planned.logical_id} ({planned.type}): not emulated, nothing made")
                else:
                    fn = self._function(planned, stamp)
                    made.append(fn)
                    old = (previous.get(planned.logical_id) or {}).get("Function")
                    changed = old is None or FunctionConfig.from_record(old) != _with(fn, old)
                    entry["ResourceStatus"] = ("CREATE_COMPLETE" if old is None else
                                               "UPDATE_COMPLETE" if changed else previous[planned.logical_id]["ResourceStatus"])
                    if not changed:  # the same code and configuration: the function stays as it was
                        _drop_code(str(fn.code_dir), self.runner.state_dir)
                        fn = FunctionConfig.from_record(old)
                    entry["Function"] = fn.to_record()
                    runtime = f"{fn.runtime} (runs on {fn.local_runtime})" if fn.local_runtime else fn.runtime or fn.image
                    self.log(f"{planned.logical_id} ({planned.type}): function {fn.name} "
                             f"{'created' if old is None else 'updated' if changed else 'unchanged'}, {runtime}")
                resources.append(entry)
        except Exception as error:  # a resource failed: roll back, whatever the cause
            failure = error if isinstance(error, ActionFailure) else ActionFailure(
                f"{type(error).__name__}: {error}")
            for fn in made:
                if fn.code_dir and str(fn.code_dir) not in _code_dirs(previous.values()):
                    _drop_code(str(fn.code_dir), self.runner.state_dir)
            self._failed(record, creating, str(failure), stamp)
            self._previous_endpoints(None if creating else record)
            raise failure from None
        new = {
            "StackName": self.name,
            "StackId": record["StackId"] if record else new_stack_id(self.runner.region, ACCOUNT_ID, self.name),
            "CreationTime": record["CreationTime"] if record else stamp,
            "StackStatus": "CREATE_COMPLETE" if creating else "UPDATE_COMPLETE",
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in plan.parameters.items()],
            "NoEcho": sorted(plan.no_echo),
            "Outputs": plan.outputs,
            "Resources": resources,
            "TemplateBody": text,
        }
        if plan.description is not None:
            new["Description"] = plan.description
        if not creating:
            new["LastUpdatedTime"] = stamp
        self.store.put(new)
        kept = _code_dirs(resources)
        for old_dir in _code_dirs(previous.values()) - kept:  # replaced code goes once the record says so
            _drop_code(old_dir, self.runner.state_dir)
        current = {r["Function"]["name"] for r in resources if r.get("Function")}
        for old_entry in previous.values():  # warm environments of replaced or dropped functions go
            name = (old_entry.get("Function") or {}).get("name")
            if name and (name not in current or old_entry["Function"].get("code_dir") not in kept):
                self.runner.lambdas.pool.retire(name)
        self.log(f"stack {self.name}: {new['StackStatus']}")
        return self._output(new)

    def _previous_endpoints(self, record: dict | None) -> None:
        """A deploy that failed: its endpoints close, the previous record's serve on as they were."""
        self.runner.lambdas.endpoints.close(self.name)
        self.runner.lambdas.restore_endpoints([record] if record else [])

    def _failed(self, record: dict | None, creating: bool, reason: str, stamp: str) -> None:
        if creating:
            failed = {"StackName": self.name, "StackId": (record or {}).get("StackId")
                      or new_stack_id(self.runner.region, ACCOUNT_ID, self.name),
                      "CreationTime": stamp, "StackStatus": "ROLLBACK_COMPLETE", "StackStatusReason": reason,
                      "Parameters": [], "Outputs": [], "Resources": [], "TemplateBody": ""}
            self.store.put(failed)
            self.log(f"stack {self.name}: ROLLBACK_COMPLETE (a resource failed; the next CREATE_UPDATE needs the "
                     "stack deleted, REPLACE_ON_FAILURE does it)")
        else:
            self.store.put({**record, "StackStatus": "UPDATE_ROLLBACK_COMPLETE", "StackStatusReason": reason,
                            "LastUpdatedTime": stamp})
            self.log(f"stack {self.name}: UPDATE_ROLLBACK_COMPLETE (the stack keeps its previous resources)")

    def _function(self, planned, stamp: str) -> FunctionConfig:
        spec = planned.function
        owner = self._owner(spec.name)
        if owner is not None:
            raise ActionFailure(f"{planned.logical_id} ({planned.type}): Resource handler returned message: "
                                f"\"Function already exist: {spec.name}\" ({owner})")
        local = nearest_runtime(spec.runtime) if spec.runtime else None
        if spec.runtime and local is None:
            self.log(f"warning: {planned.logical_id}: {spec.runtime} is not a runtime pipemu runs (python3.x, nodejs); "
                     f"{spec.name} is made but invoking it fails")
        elif local and local != spec.runtime:
            self.log(f"warning: {planned.logical_id}: {spec.runtime} is deprecated; {spec.name} runs on {local}")
        code_dir = None
        if "ImageUri" not in spec.code:
            code_dir = self._code(planned, spec, local or spec.runtime or "")
        sha, size = folder_digest(code_dir) if code_dir else ("", 0)
        return FunctionConfig(
            name=spec.name, runtime=spec.runtime, handler=spec.handler, code_dir=code_dir,
            environment=spec.environment, timeout=spec.timeout, memory_size=spec.memory_size,
            description=spec.description, image=spec.code.get("ImageUri"),
            local_runtime=local if local != spec.runtime else None, code_sha256=sha, code_size=size,
            last_modified=stamp.replace("Z", "+0000"), stack=self.name)

    def _owner(self, function: str) -> str | None:
        """Who else has a function of that name: the pipelines folder, or another stack."""
        if function in (getattr(self.runner._resources(), "functions", None) or {}):
            return "declared in the pipelines folder"
        for record in self.store.live():
            if record["StackName"] != self.name and any(
                    (r.get("Function") or {}).get("name") == function for r in record.get("Resources") or []):
                return f"made by stack {record['StackName']}"
        return None

    def _code(self, planned, spec, runtime: str) -> Path:
        """A fresh folder under the state folder with the function's code."""
        root = (self.runner.state_dir / "lambda").resolve()
        dest = root / spec.name / uuid.uuid4().hex[:12]
        if not dest.resolve().is_relative_to(root):  # names are checked by the plan; never leave the folder
            raise ActionFailure(f"{planned.logical_id}: the function name {spec.name!r} is not a name")
        dest.parent.mkdir(parents=True, exist_ok=True)
        code = spec.code
        where = f"{planned.logical_id} ({planned.type})"
        if "ZipFile" in code:  # CloudFormation writes inline code as index.py / index.js
            dest.mkdir()
            (dest / ("index.js" if runtime.startswith("nodejs") else "index.py")).write_text(code["ZipFile"])
            return dest
        if "Path" in code:
            # SAM's CodeUri given as a path: the folder beside the template, as `sam build` reads it.
            try:
                source = inside(Path(self._sources["template_dir"]), code["Path"], "CodeUri", folders=True)
            except (FileNotFoundError, OutsideArtifact) as error:
                raise ActionFailure(f"{where}: CodeUri {code['Path']}: not found beside the template ({error})") from None
        else:
            source = self._s3(code["S3Bucket"], code["S3Key"], where)
        if source.is_dir():
            # Links stay links (nothing outside is read); pipes, sockets and devices are left out
            # (opening a pipe would wait forever).
            shutil.copytree(source, dest, symlinks=True, ignore=_special_files)
        else:
            try:
                with zipfile.ZipFile(source) as archive:
                    _extract(archive, dest)
            except zipfile.BadZipFile:
                raise ActionFailure(f"{where}: Resource handler returned message: \"Could not unzip uploaded file. "
                                    "Please check your file, then try to upload again.\"") from None
        return dest

    def _s3(self, bucket: str, key: str, where: str) -> Path:
        """The folder or zip an S3Bucket/S3Key pair names: an input artifact (the key
        Fn::GetArtifactAtt gave), or an object of a `buckets:` stand-in."""
        for location, folder in self._sources["artifacts"].items():
            if key == location:
                return Path(folder)
        stand_in = (getattr(self.runner._resources(), "buckets", None) or {}).get(bucket)
        if stand_in is not None:
            try:
                return inside(Path(stand_in.path), key, "S3Key", folders=True)
            except (FileNotFoundError, OutsideArtifact):
                pass
        raise ActionFailure(f"{where}: Resource handler returned message: \"Error occurred while GetObject. S3 Error Code: "
                            f"NoSuchKey. S3 Error Message: The specified key does not exist.\" (s3://{bucket}/{key}: "
                            "neither an input artifact of this action, by Fn::GetArtifactAtt's ObjectKey, nor an object "
                            f"of a buckets: stand-in named {bucket})")

    # -- answers ------------------------------------------------------------------------------

    def _output(self, record: dict) -> ActionOutput:
        outputs = {o["OutputKey"]: o["OutputValue"] for o in record["Outputs"]}
        artifacts = []
        file_name = self.config.get("OutputFileName")
        if file_name and self.command.action.output_artifacts:
            out = self.command.action.output_artifacts[0]
            dest = self.runner.fresh_artifact_dir(self.command.execution_id, out)
            dest.mkdir(parents=True)
            _output_file(dest, file_name).write_text(json.dumps(outputs, indent=2))
            artifacts.append(ArtifactOutput(out, self.runner.artifact_location(self.command.execution_id, out)))
            self.log(f"outputs written to {file_name} in {out}")
        elif file_name:
            self.log(f"OutputFileName {file_name} is not written: the action has no output artifact")
        return ActionOutput(summary=f"Stack {self.name}: {record['StackStatus']}", external_execution_id=record["StackId"],
                            output_variables=tuple(sorted(outputs.items())), artifacts=tuple(artifacts))


def _output_file(dest: Path, name: str) -> Path:
    """OutputFileName's file in the new output artifact `dest`: a name that leaves it
    (absolute, `..`) fails the action instead of writing a host file."""
    try:
        return new_file(dest, name, "OutputFileName")
    except OutsideArtifact as exc:
        raise ActionFailure(str(exc)) from None


def _with(fn: FunctionConfig, old: dict) -> FunctionConfig:
    """`fn` as it would be recorded if it equals the old one (code folder and time are new)."""
    return FunctionConfig.from_record({**fn.to_record(), "code_dir": old.get("code_dir"),
                                       "last_modified": old.get("last_modified")})


def _code_dirs(resources) -> set[str]:
    return {r["Function"]["code_dir"] for r in resources if (r.get("Function") or {}).get("code_dir")}


def _drop_code(folder: str | None, state_dir: Path) -> None:
    if folder and Path(folder).resolve().is_relative_to((state_dir / "lambda").resolve()):
        shutil.rmtree(folder, ignore_errors=True)


def _special_files(folder: str, names: list[str]) -> list[str]:
    import stat

    return [n for n in names if not stat.S_ISREG(mode := os.lstat(os.path.join(folder, n)).st_mode)
            and not stat.S_ISDIR(mode) and not stat.S_ISLNK(mode)]


def _extract(archive: zipfile.ZipFile, dest: Path) -> None:
    """Unzip, keeping every member inside `dest` (zipfile already drops `..` and absolute paths)."""
    dest.mkdir(parents=True, exist_ok=True)
    archive.extractall(dest)


# -------------------------------------------------------------- container stacks (`stacks:`)

def _container_stack(runner: ActionRunner, command: RunAction, config: dict, cancel: threading.Event) -> ActionOutput:
    """A stack declared in `stacks:` runs as a long-lived container on its environment's network;
    its parameters (ParameterOverrides) become the service's environment variables."""
    name = config["StackName"]
    stack = runner.resource("stacks", name, "stack")
    network = stack.network or command.stage
    log = lambda line: runner.log(command, line)  # noqa: E731
    mode = config["ActionMode"]
    if mode == "DELETE_ONLY":
        result = stacks.delete(runner.client(), runner.daemon_id, name, network, log)
        if not result.succeeded:
            raise ActionFailure(result.message)
        runner.stacks.delete(name, now())
        return ActionOutput(summary=result.message, external_execution_id=name)
    if mode not in ("CREATE_UPDATE", "REPLACE_ON_FAILURE", "CHANGE_SET_REPLACE", "CHANGE_SET_EXECUTE"):
        raise ActionFailure(f"ActionMode {mode} is not supported")
    try:
        overrides = json.loads(config.get("ParameterOverrides") or "{}")
        assert isinstance(overrides, dict)
    except (ValueError, AssertionError):
        raise ActionFailure("ParameterOverrides must be a JSON object") from None
    template_artifact = config.get("TemplatePath", "").split("::")[0]
    inputs = {a.name: runner.state_dir / a.location for a in command.inputs}
    artifact = inputs.get(template_artifact) or next(iter(inputs.values()), None)
    environment = {**runner.aws_environment(), **stack.environment, **{k: str(v) for k, v in overrides.items()}}
    runner.mask(command, environment)
    job = stacks.declared_job(
        stack,
        stack=name,
        network=network,
        daemon_id=runner.daemon_id,
        image=stack.image,
        dockerfile=stack.dockerfile,
        artifact=artifact,
        environment=environment,
        workdir=stack.workdir,
        labels=runner.labels(command),
        timeout_seconds=float(command.action.timeout_in_minutes or 10) * 60,
    )
    runner.network(network)
    result = stacks.deploy(runner.client(), job, log, cancel)
    if not result.succeeded:
        raise ActionFailure(result.message, external_id=name)
    _record_container_stack(runner, name, result.outputs)
    artifacts = []
    if config.get("OutputFileName") and command.action.output_artifacts:
        out = command.action.output_artifacts[0]
        dest = runner.fresh_artifact_dir(command.execution_id, out)
        dest.mkdir(parents=True)
        _output_file(dest, config["OutputFileName"]).write_text(json.dumps(result.outputs, indent=2))
        artifacts.append(ArtifactOutput(out, runner.artifact_location(command.execution_id, out)))
    return ActionOutput(
        summary=result.message,
        external_execution_id=result.outputs.get("ContainerId", name),
        output_variables=tuple(sorted(result.outputs.items())),
        artifacts=tuple(artifacts),
    )


def _record_container_stack(runner: ActionRunner, name: str, outputs: dict[str, str]) -> None:
    """DescribeStacks shows a container stack too: its outputs, and the container as its resource."""
    if not STACK_NAME.fullmatch(name):
        return
    record = runner.stacks.get(name)
    stamp = now()
    runner.stacks.put({
        "StackName": name,
        "StackId": record["StackId"] if record else new_stack_id(runner.region, ACCOUNT_ID, name),
        "CreationTime": record["CreationTime"] if record else stamp,
        **({"LastUpdatedTime": stamp} if record else {}),
        "StackStatus": "UPDATE_COMPLETE" if record else "CREATE_COMPLETE",
        "Description": f"stood in for by the container of stacks: {name}",
        "Parameters": [], "Outputs": [{"OutputKey": k, "OutputValue": str(v)} for k, v in sorted(outputs.items())],
        "Resources": [{"LogicalResourceId": name, "PhysicalResourceId": str(outputs.get("ContainerName", name)),
                       "ResourceType": "Pipemu::Container", "ResourceStatus": "CREATE_COMPLETE", "Timestamp": stamp}],
        "TemplateBody": "",
    })
