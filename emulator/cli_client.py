"""How the CLI talks to a running daemon: its AWS APIs (botocore) and pipemu's own
endpoints (`/health`, `/pipemu/logs/...`, `/pipemu/events`), with every failure turned into one
line and an exit code scripts can rely on.

The CLI is a client like any other: nothing here imports the engine, the service or the store.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Iterator

DEFAULT_ENDPOINT = "http://127.0.0.1:7788"

# Exit codes (documented in each command's help).
OK = 0
NEGATIVE = 1  # the thing asked about is in a failed / negative state, or definitions have errors
USAGE = 2  # a usage error (click's own usage errors exit 2 as well)
UNREACHABLE = 3  # the daemon does not answer
AWS_ERROR = 4  # the daemon answered with an AWS error


class CliError(Exception):
    """An error the CLI reports as `pipemu: <message>` on one line of stderr, exiting with `code`."""

    def __init__(self, message: str, code: int):
        super().__init__(" ".join(str(message).split()))
        self.code = code

    @property
    def message(self) -> str:
        return str(self)


def aws_error(code: str, message: str) -> CliError:
    return CliError(f"{code}: {message}", AWS_ERROR)


def unreachable(endpoint: str, why: object = "") -> CliError:
    detail = f" ({why})" if why else ""
    return CliError(f"cannot reach the daemon at {endpoint}{detail}; is `pipemu serve` running?"
                    " (set --endpoint or PIPEMU_ENDPOINT)", UNREACHABLE)


def _credentials() -> tuple[str, str]:
    """The keys to sign with: the daemon's own (PIPEMU_*), AWS's usual ones, or any (accepted by default)."""
    for key_var, secret_var in (("PIPEMU_ACCESS_KEY", "PIPEMU_SECRET_KEY"), ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")):
        if os.environ.get(key_var) and os.environ.get(secret_var):
            return os.environ[key_var], os.environ[secret_var]
    return "pipemu-cli", "pipemu-cli"


def _http_error(error: urllib.error.HTTPError) -> CliError:
    """An error answer of pipemu's endpoints (`{"__type", "message"}`) as a CliError."""
    try:
        body = json.loads(error.read() or b"{}")
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    return aws_error(body.get("__type") or f"HTTP{error.code}", body.get("message") or error.reason)


class Daemon:
    """The daemon at `endpoint`: `call` for the CodePipeline API, `get` for pipemu's endpoints."""

    def __init__(self, endpoint: str | None = None):
        self.endpoint = (endpoint or os.environ.get("PIPEMU_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
        parsed = urllib.parse.urlparse(self.endpoint)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise CliError(f"--endpoint must be an http(s) URL, not {self.endpoint!r}", USAGE)
        self._clients: dict = {}

    @property
    def client(self):
        return self.client_for("codepipeline")

    def client_for(self, service: str):
        """A botocore client of `service` (as `emulator.demo.play.client_for` makes one), but failing
        fast: one attempt, so that a daemon that is down is reported at once instead of after retries."""
        if service not in self._clients:
            import botocore.session
            from botocore.config import Config

            key, secret = _credentials()
            session = botocore.session.get_session()
            self._clients[service] = session.create_client(
                service, region_name=os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
                endpoint_url=self.endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                              read_timeout=120, parameter_validation=True))
        return self._clients[service]

    def call(self, operation: str, **params) -> dict:
        """One CodePipeline operation by its Python name (`get_pipeline_state`); errors become CliError."""
        return self.call_service("codepipeline", operation, **params)

    def call_service(self, service: str, operation: str, **params) -> dict:
        """One operation of `service` (`cloudwatch`, `describe_alarms`); errors become CliError."""
        from botocore.exceptions import (BotoCoreError, ClientError, ConnectionClosedError,
                                         EndpointConnectionError, ParamValidationError, ReadTimeoutError)

        try:
            answer = getattr(self.client_for(service), operation)(**params)
        except ClientError as error:
            details = error.response.get("Error", {})
            raise aws_error(details.get("Code") or "Error", details.get("Message") or str(error)) from None
        except ParamValidationError as error:
            raise CliError(str(error).replace("\n", " "), USAGE) from None
        except (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError) as error:
            raise unreachable(self.endpoint, type(error).__name__) from None
        except BotoCoreError as error:  # other transport failures
            raise unreachable(self.endpoint, error) from None
        answer.pop("ResponseMetadata", None)
        return answer

    def pages(self, operation: str, key: str, limit: int | None = None, **params) -> list[dict]:
        """Every item under `key` across the pages of a listing operation (up to `limit`)."""
        items: list[dict] = []
        token = None
        while True:
            answer = self.call(operation, **params, **({"nextToken": token} if token else {}))
            items.extend(answer.get(key, []))
            token = answer.get("nextToken")
            if not token or (limit is not None and len(items) >= limit):
                return items[:limit] if limit is not None else items

    def _signed(self, method: str, path: str, headers: dict[str, str], data: bytes | None = None) -> urllib.request.Request:
        """A request to one of pipemu's endpoints, SigV4-signed (body included) as the API's calls
        are (a daemon with credentials answers nothing unsigned)."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        request = AWSRequest(method=method, url=self.endpoint + path, data=data, headers=headers)
        SigV4Auth(Credentials(*_credentials()), "codepipeline",
                  os.environ.get("AWS_DEFAULT_REGION") or "us-east-1").add_auth(request)
        return urllib.request.Request(self.endpoint + path, data=data, method=method,
                                      headers=dict(request.headers.items()))

    def _signed_get(self, path: str, headers: dict[str, str]) -> urllib.request.Request:
        return self._signed("GET", path, headers)

    def _json(self, request: urllib.request.Request, timeout: float) -> dict:
        """The JSON answer; an error body `{"__type", "message"}` becomes CliError."""
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise _http_error(error) from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise unreachable(self.endpoint, getattr(error, "reason", error)) from None

    def get(self, path: str, timeout: float = 10) -> dict:
        """GET one of pipemu's JSON endpoints."""
        return self._json(self._signed_get(path, {"Accept": "application/json"}), timeout)

    def post(self, path: str, body: dict, timeout: float = 60) -> dict:
        """POST JSON to one of pipemu's endpoints."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        return self._json(self._signed("POST", path, headers, json.dumps(body).encode()), timeout)

    def health(self) -> dict:
        return self.get("/health")

    def logs(self, action_execution_id: str, after: int = 0, wait: float = 0) -> dict:
        quoted = urllib.parse.quote(action_execution_id, safe="")
        return self.get(f"/pipemu/logs/{quoted}?after={after}&wait={wait:g}", timeout=wait + 30)

    def events(self) -> Iterator[int]:
        """The change counter each time the daemon's state moves (server-sent events), the current one
        first. Ends by raising CliError(UNREACHABLE) when the stream closes."""
        try:
            # Longer than the daemon's 15 s heartbeat, so a quiet daemon is not taken for a dead one.
            stream = urllib.request.urlopen(self._signed_get("/pipemu/events", {}), timeout=60)
        except urllib.error.HTTPError as error:
            raise _http_error(error) from None
        except (urllib.error.URLError, OSError) as error:
            raise unreachable(self.endpoint, getattr(error, "reason", error)) from None
        try:
            with stream:
                for raw in stream:
                    line = raw.decode("utf-8", "replace").strip()
                    if line.startswith("data:"):
                        try:
                            yield int(json.loads(line[5:]).get("changes", 0))
                        except (ValueError, AttributeError):
                            yield 0
        except OSError as error:
            raise unreachable(self.endpoint, error) from None
        raise CliError(f"the daemon at {self.endpoint} closed the event stream", UNREACHABLE)

    # -- lookups shared by several commands -------------------------------------------------------

    def state(self, pipeline: str) -> dict:
        return self.call("get_pipeline_state", name=pipeline)

    def declaration(self, pipeline: str) -> dict:
        return self.call("get_pipeline", name=pipeline)["pipeline"]

    def pipeline_names(self) -> list[str]:
        return [p["name"] for p in self.pages("list_pipelines", "pipelines")]

    def executions(self, pipeline: str, limit: int = 100) -> list[dict]:
        return self.pages("list_pipeline_executions", "pipelineExecutionSummaries", limit=limit,
                          pipelineName=pipeline, maxResults=min(limit, 100))

    def status_snapshot(self, target: str | None, by: str = "commit") -> dict:
        """What `status` shows: one pipeline, a product (`my` -> every `my-*`) or all, and /health's
        definition errors (the shape `status --json` prints)."""
        from emulator.cli_render import revision_labels, rollback_targets, status_model

        names = self.pipeline_names()
        if target is not None:
            chosen = [target] if target in names else [n for n in names if n.startswith(target + "-")]
            if not chosen:
                self.state(target)  # the daemon's own PipelineNotFoundException
                chosen = [target]
            names = chosen
        models = []
        for name in names:
            summaries = self.executions(name, limit=100)
            models.append(status_model(self.state(name), revision_labels(summaries, by), rollback_targets(summaries)))
        return {"pipelines": models, "definitionErrors": self.health().get("definitionErrors", [])}

    def pending_approval(self, pipeline: str, stage: str, action: str | None) -> tuple[str, str, str | None]:
        """(action, token, execution inside the stage) of the approval waiting in `stage`; `action`
        defaults to the stage's only manual approval (or the only one of several that waits)."""
        approvals = approval_actions(self.declaration(pipeline), stage)
        stage_state = stage_of(self.state(pipeline), stage)
        actions = {a["actionName"]: a for a in stage_state["actionStates"]}

        def pending(name: str) -> bool:
            latest = actions.get(name, {}).get("latestExecution", {})
            return latest.get("status") == "InProgress" and "token" in latest

        if action is None:
            if not approvals:
                raise CliError(f"stage {stage} of {pipeline} has no manual approval action", USAGE)
            waiting = [name for name in approvals if pending(name)]
            if len(approvals) > 1 and len(waiting) != 1:
                raise CliError(f"stage {stage} has several approval actions ({', '.join(approvals)}): name one", USAGE)
            action = waiting[0] if waiting else approvals[0]
        elif action not in actions:
            raise aws_error("ActionNotFoundException",
                            f"Action '{action}' not found in stage '{stage}' of pipeline '{pipeline}'")
        elif action not in approvals:
            raise CliError(f"{stage}.{action} of {pipeline} is not a manual approval", USAGE)
        if not pending(action):
            latest = actions[action].get("latestExecution", {}).get("status")
            was = f" (its latest execution is {latest})" if latest else ""
            raise CliError(f"nothing waits for approval at {stage}.{action} of {pipeline}{was}", NEGATIVE)
        execution = (stage_state.get("latestExecution") or {}).get("pipelineExecutionId")
        return action, actions[action]["latestExecution"]["token"], execution

    def pick_action(self, pipeline: str, execution: str | None, stage: str | None, action: str | None) -> dict:
        """The newest action execution that matches (ListActionExecutions is newest first); approvals,
        which have no log, are skipped unless `action` names one."""
        params: dict = {"pipelineName": pipeline, "maxResults": 100}
        if execution:
            params["filter"] = {"pipelineExecutionId": execution}
        for _ in range(50):
            answer = self.call("list_action_executions", **params)
            for detail in answer.get("actionExecutionDetails", []):
                if stage and detail["stageName"] != stage or action and detail["actionName"] != action:
                    continue
                if not action and detail.get("input", {}).get("actionTypeId", {}).get("category") == "Approval":
                    continue
                return detail
            if not answer.get("nextToken"):
                break
            params["nextToken"] = answer["nextToken"]
        wanted = " ".join(f"{k} {v}" for k, v in (("execution", execution), ("stage", stage), ("action", action)) if v)
        raise CliError(f"no action execution of {pipeline} to show{' for ' + wanted if wanted else ''}", NEGATIVE)


def stage_of(state: dict, stage: str) -> dict:
    for candidate in state["stageStates"]:
        if candidate["stageName"] == stage:
            return candidate
    known = ", ".join(s["stageName"] for s in state["stageStates"])
    raise aws_error("StageNotFoundException",
                    f"Stage '{stage}' not found in pipeline '{state['pipelineName']}' (stages: {known})")


def approval_actions(declaration: dict, stage: str) -> list[str]:
    """The names of the stage's manual approval actions, in declaration order."""
    for candidate in declaration["stages"]:
        if candidate["name"] == stage:
            return [a["name"] for a in candidate["actions"]
                    if a["actionTypeId"].get("category") == "Approval" and a["actionTypeId"].get("provider") == "Manual"]
    raise aws_error("StageNotFoundException", f"Stage '{stage}' not found in pipeline '{declaration['name']}'")


def source_actions(declaration: dict) -> list[str]:
    return [a["name"] for a in declaration["stages"][0]["actions"] if a["actionTypeId"].get("category") == "Source"]
