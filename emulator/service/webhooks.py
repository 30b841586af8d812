"""Webhooks (PutWebhook, ListWebhooks, DeleteWebhook, Register/DeregisterWebhookWithThirdParty)
and what happens when one is called: a POST to its URL that passes its authentication and all
its JSONPath filters starts its pipeline, as AWS's webhook endpoint does.

Kept in `webhooks.json` in the state folder (mode 0600: it holds the secret tokens, which no
answer and no log line ever shows), so they survive a restart; their tags are kept with the
pipelines' (store.tags, by the webhook's ARN).

The URL: AWS gives `https://<region>.webhooks.aws/trigger?t=<token>&v=1`; ours is the same path
on this daemon (`http://<host>:<port>/webhooks/trigger?t=<token>&v=1`), its host and port those
the daemon serves on now (`webhook_endpoint`, set by the daemon when it starts listening).
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import re
import secrets
from pathlib import Path

# jsonpath-ng: the maintained JSONPath implementation for Python (the filters are AWS's
# JsonPath expressions, e.g. `$.ref`, `$.repository.full_name`); not ours to write again.
from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext import parse as jsonpath

from emulator.store import StateNotWritable

from .errors import ServiceError, pipeline_not_found, validation
from .paging import page
from .views import ACCOUNT_ID

log = logging.getLogger(__name__)

MASK = "****"  # AWS: "If a secret token was provided, it will be redacted in the response."
WEBHOOK_ARN = re.compile(r"arn:aws:codepipeline:[a-z0-9-]+:\d{12}:webhook:(?P<name>[A-Za-z0-9.@\-_]+)")
_REFERENCE = re.compile(r"\{([^{}]+)\}")  # matchEquals' `{Branch}`: a configuration key of the target action


def read_kept(path: Path | None, empty):
    """A JSON file the daemon keeps in the state folder, or `empty`. One that cannot be read
    (damaged by hand) is moved aside as `<name>.damaged` and said, rather than refusing every
    call that needs it."""
    if path is None or not path.exists():
        return empty
    try:
        found = json.loads(path.read_text())
        if isinstance(found, type(empty)):
            return found
        raise ValueError(f"not a JSON {type(empty).__name__}")
    except (ValueError, UnicodeDecodeError, OSError) as error:
        aside = path.with_suffix(".damaged")
        log.error("%s cannot be read (%s): moved to %s, starting without it", path, error, aside)
        try:
            os.replace(path, aside)
        except OSError:
            pass
        return empty


def write_kept(path: Path, value) -> None:
    """Write a kept JSON file whole, then rename it over the old one (a crash leaves one or the
    other, never half); mode 0600. A disk that refuses is StateNotWritable (503, as the store's)."""
    temporary = path.with_suffix(".tmp")
    try:
        fd = os.open(temporary, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(value, out, indent=1, sort_keys=True)
        os.replace(temporary, path)
    except OSError as error:
        raise StateNotWritable(error.errno or errno.EIO, error.strerror or str(error), path) from None


def webhook_not_found(name: str) -> ServiceError:
    return ServiceError("WebhookNotFoundException", f"The specified webhook '{name}' was not found")


class WebhookRefused(Exception):
    """A webhook call that starts nothing: `status` and `message` are the HTTP answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def github_signature_ok(secret: str, body: bytes, headers) -> bool:
    """GitHub's webhook signature: `X-Hub-Signature: sha1=<hex HMAC-SHA1 of the raw body>`, keyed
    with the secret token, which is what CodePipeline checks. GitHub also sends
    `X-Hub-Signature-256` (HMAC-SHA256); a request carrying only that one is checked by it."""
    for header, digest in (("x-hub-signature", hashlib.sha1), ("x-hub-signature-256", hashlib.sha256)):
        sent = headers.get(header)
        if sent is None:
            continue
        expected = digest().name + "=" + hmac.new(secret.encode(), body, digest).hexdigest()
        return hmac.compare_digest(sent.strip().lower(), expected)
    return False


class WebhookOperations:
    """Mixed into CodePipeline (operations.py): needs `lock`, `store`, `region`, `engine`, `now`,
    `start_by_trigger`."""

    webhook_endpoint = "http://127.0.0.1:7788"  # the daemon sets its own when it starts listening

    # -- state ------------------------------------------------------------------------------

    @property
    def _webhooks(self) -> dict[str, dict]:
        """name -> {"definition", "token", "lastTriggered", "registered"}; read once from the state folder."""
        found = self.__dict__.get("_webhooks_cache")
        if found is None:
            found = read_kept(self._webhooks_path(), {})
            self.__dict__["_webhooks_cache"] = found
        return found

    def _webhooks_path(self) -> Path | None:
        state_dir = getattr(self.store, "state_dir", None)
        return Path(state_dir) / "webhooks.json" if state_dir is not None else None

    def _save_webhooks(self, updated: dict[str, dict]) -> None:
        """Keep `updated` as the webhooks: written first, so that memory never holds what the
        state folder would not take."""
        path = self._webhooks_path()
        if path is not None:
            write_kept(path, updated)
        self.__dict__["_webhooks_cache"] = updated

    def webhook_arn(self, name: str) -> str:
        return f"arn:aws:codepipeline:{self.region}:{ACCOUNT_ID}:webhook:{name}"

    def _item(self, name: str) -> dict:
        """ListWebhookItem: the definition with its secret redacted, the URL, the ARN, the tags."""
        kept = self._webhooks[name]
        definition = json.loads(json.dumps(kept["definition"]))
        configuration = definition.get("authenticationConfiguration") or {}
        if "SecretToken" in configuration:
            configuration["SecretToken"] = MASK
        item = {"definition": definition, "url": f"{self.webhook_endpoint}/webhooks/trigger?t={kept['token']}&v=1",
                "arn": self.webhook_arn(name)}
        if kept.get("lastTriggered") is not None:
            item["lastTriggered"] = kept["lastTriggered"]
        problem = self._webhook_problem(kept["definition"])
        if problem is not None:  # ListWebhookItem's errorCode/errorMessage: what keeps it from working
            item["errorCode"], item["errorMessage"] = problem
        return self._tagged_item(name, item)

    def _webhook_problem(self, definition: dict) -> tuple[str, str] | None:
        pipeline = self.engine.pipelines.get(definition["targetPipeline"])
        action = next((a for a in pipeline.plan.stages[0].actions if a.name == definition["targetAction"]), None) \
            if pipeline is not None else None
        if action is None:  # the pipeline was deleted or changed since
            return "WebhookTargetNotFound", (f"the target action {definition['targetPipeline']}."
                                             f"{definition['targetAction']} is not there any more")
        unknown = unknown_references(definition["filters"], dict(action.config))
        return ("InvalidWebhookFilterPattern", unknown) if unknown else None

    def _tagged_item(self, name: str, item: dict) -> dict:
        tags = self.store.tags(self.webhook_arn(name))
        if tags:
            item["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
        return item

    # -- operations -------------------------------------------------------------------------

    def put_webhook(self, params: dict) -> dict:
        definition = params["webhook"]
        name = definition["name"]
        tags = {t["key"]: t["value"] for t in params.get("tags") or ()}
        if any(k.lower().startswith("aws:") for k in tags):
            raise ServiceError("InvalidTagsException", "Tag keys starting with 'aws:' are reserved for AWS")
        if len(tags) > 50:
            raise ServiceError("TooManyTagsException", "A webhook takes at most 50 tags")
        with self.lock:
            kept = self._webhooks.get(name)
            if kept is not None and kept.get("origin") == "file":
                raise validation(f"Webhook '{name}' is defined in the pipelines folder (webhooks:) and cannot be "
                                 "changed through the API: edit the file instead")
            pipeline = self._checked_webhook(definition)
            token = kept["token"] if kept else secrets.token_urlsafe(32)  # a PutWebhook again keeps its URL
            self._save_webhooks({**self._webhooks, name: {
                "definition": definition, "token": token, "lastTriggered": kept.get("lastTriggered") if kept else None,
                "registered": bool(kept and kept.get("registered"))}})
            if tags:
                self.store.set_tags(self.webhook_arn(name), tags)
            log.info("webhook %s: starts %s (%s)", name, pipeline.name, definition["authentication"])
            problem = self._webhook_problem(definition)
            if problem is not None:
                log.warning("webhook %s: %s", name, problem[1])
            return {"webhook": self._item(name)}

    def _checked_webhook(self, definition: dict):
        """What PutWebhook checks (and a file's webhook too): the target, filters, authentication."""
        pipeline = self.engine.pipelines.get(definition["targetPipeline"])
        if pipeline is None:
            raise pipeline_not_found(definition["targetPipeline"])
        action = next((a for a in pipeline.plan.stages[0].actions if a.name == definition["targetAction"]), None)
        if action is None:
            raise validation(f"The action '{definition['targetAction']}' is not in the first stage of pipeline "
                             f"'{pipeline.name}': a webhook's target action must be a source action")
        for rule in definition["filters"]:
            _check_filter(rule)
        _check_authentication(definition["authentication"], definition.get("authenticationConfiguration") or {})
        return pipeline

    def load_definitions(self, folder) -> list[str]:
        """The pipelines (ServiceCore), then the folder's webhooks (`webhooks:`, or
        AWS::CodePipeline::Webhook in a template): made, changed or removed with their files;
        each keeps its URL while its name stays. One that does not check out is a definition error."""
        declared = super().load_definitions(folder)
        with self.lock:
            problems = self._sync_file_webhooks(getattr(folder, "webhooks", None) or {}, folder)
            self.definition_errors.extend(problems)
        for problem in problems:
            log.error("%s", problem)
        return declared

    def _sync_file_webhooks(self, declared: dict, folder) -> list[str]:
        problems = []
        updated = {n: w for n, w in self._webhooks.items() if w.get("origin") != "file" or n in declared}
        for name, model in sorted(declared.items()):
            kept = updated.get(name)
            if kept is not None and kept.get("origin") != "file":
                problems.append(f"webhooks: {name}: webhook {name} was made with PutWebhook (DeleteWebhook it first, "
                                "or rename this one)")
                continue
            definition = {"name": name, **model.model_dump(mode="json", exclude_none=True)}
            try:
                definition["authenticationConfiguration"] = _resolved_secret(
                    definition.get("authenticationConfiguration") or {}, folder, name)
                self._checked_webhook(definition)
            except ServiceError as error:
                problems.append(f"webhooks: {name}: {error.code}: {error.message}")
                updated.pop(name, None)
                continue
            updated[name] = {"definition": definition, "origin": "file",
                             "token": kept["token"] if kept else secrets.token_urlsafe(32),
                             "lastTriggered": kept.get("lastTriggered") if kept else None, "registered": False}
        if updated != self._webhooks:
            try:
                self._save_webhooks(updated)
            except StateNotWritable as error:  # the folder's webhooks wait for the next reload
                problems.append(f"webhooks: {error}")
        return problems

    def list_webhooks(self, params: dict) -> dict:
        with self.lock:
            items = [self._item(name) for name in sorted(self._webhooks)]
        # ListWebhooks pages with MaxResults/NextToken (capitalised, unlike the other listings).
        chunk, token = page(items, {"maxResults": params.get("MaxResults"), "nextToken": params.get("NextToken")})
        return {"webhooks": chunk, **({"NextToken": token} if token else {})}

    def delete_webhook(self, params: dict) -> dict:
        # AWS answers a name it does not know with success too (DeleteWebhook models no
        # WebhookNotFoundException): deleting is idempotent.
        with self.lock:
            if (self._webhooks.get(params["name"]) or {}).get("origin") == "file":
                raise validation(f"Webhook '{params['name']}' is defined in the pipelines folder (webhooks:) and "
                                 "cannot be deleted through the API: remove it from the file instead")
            if params["name"] in self._webhooks:
                self._save_webhooks({n: w for n, w in self._webhooks.items() if n != params["name"]})
                self.store.remove_tags(self.webhook_arn(params["name"]))
        return {}

    def register_webhook_with_third_party(self, params: dict) -> dict:
        return self._set_registered(params.get("webhookName"), True)

    def deregister_webhook_with_third_party(self, params: dict) -> dict:
        return self._set_registered(params.get("webhookName"), False)

    def _set_registered(self, name: str | None, registered: bool) -> dict:
        """There is no GitHub here to tell: the webhook is marked (de)registered and the log says
        that whoever sends the events must POST to its URL themselves."""
        with self.lock:
            if name is None or name not in self._webhooks:
                raise webhook_not_found(name or "")
            self._save_webhooks({**self._webhooks, name: {**self._webhooks[name], "registered": registered}})
        if registered:
            log.warning("webhook %s: RegisterWebhookWithThirdParty: no third party is called locally; POST the "
                        "events to the webhook's URL (ListWebhooks) yourself", name)
        return {}

    def _tagged(self, arn: str) -> str:
        """TagResource and friends take a webhook's ARN too (else a pipeline's: PipelineOperations)."""
        match = WEBHOOK_ARN.fullmatch(arn)
        if match is None:
            return super()._tagged(arn)
        with self.lock:
            if match.group("name") not in self._webhooks:
                raise ServiceError("ResourceNotFoundException", f"No webhook for '{arn}'")
        return arn

    # -- a call to a webhook's URL ----------------------------------------------------------

    def webhook_called(self, token: str, body: bytes, headers, client_address: str | None) -> dict:
        """A POST to a webhook's URL: authentication, then every filter, then the start. Returns
        {"pipelineExecutionId"}; raises WebhookRefused with the HTTP answer otherwise."""
        with self.lock:
            found = next(((n, w) for n, w in self._webhooks.items() if hmac.compare_digest(w["token"], token)), None)
            if found is None:
                raise WebhookRefused(404, "Webhook not found")
            name, kept = found
            definition = kept["definition"]
            authentication = definition["authentication"]
            configuration = definition.get("authenticationConfiguration") or {}
        if authentication == "GITHUB_HMAC" and not github_signature_ok(configuration.get("SecretToken", ""), body, headers):
            log.warning("webhook %s: refused a call whose signature does not match", name)
            raise WebhookRefused(403, "Signature verification failed")
        if authentication == "IP" and not _address_in(client_address, configuration.get("AllowedIPRange", "")):
            log.warning("webhook %s: refused a call from %s, outside its AllowedIPRange", name, client_address)
            raise WebhookRefused(403, f"Requests from {client_address} are not allowed")
        try:
            payload = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise WebhookRefused(400, "The payload is not JSON") from None
        with self.lock:
            pipeline = self.engine.pipelines.get(definition["targetPipeline"])
            if pipeline is None:
                raise WebhookRefused(404, f"Pipeline '{definition['targetPipeline']}' not found")
            action = next((a for a in pipeline.plan.stages[0].actions if a.name == definition["targetAction"]), None)
            configuration = dict(action.config) if action is not None else {}
            for rule in definition["filters"]:
                passed, why = _filter_passes(rule, configuration, payload)
                if not passed:
                    log.info("webhook %s: not started: %s", name, why)
                    raise WebhookRefused(200, f"The payload does not match the webhook's filters: {why}")
            execution_id = self.start_by_trigger(pipeline.name, "Webhook", self.webhook_arn(name), {})
            if name in self._webhooks:
                try:
                    self._save_webhooks({**self._webhooks, name: {**self._webhooks[name], "lastTriggered": self.now()}})
                except StateNotWritable as error:  # the start itself is saved (the store): only the time is lost
                    log.warning("webhook %s: lastTriggered not kept: %s", name, error)
        log.info("webhook %s: started %s execution %s", name, pipeline.name, execution_id)
        return {"pipelineExecutionId": execution_id}


_DYNAMIC = re.compile(r"\{\{resolve:(secretsmanager|ssm|ssm-secure):([^}]+)\}\}")


def _resolved_secret(configuration: dict, folder, webhook: str) -> dict:
    """A file's SecretToken as CloudFormation templates write it, `{{resolve:secretsmanager:ID}}`
    (or `...:ID:SecretString:KEY`, or `{{resolve:ssm:NAME}}`), read from the folder's `secrets:`
    and `parameters:` stand-ins; a plain value as it is."""
    from emulator.runner.secrets import Reference, SecretError, resolve  # the same reader as CodeBuild's secrets

    token = configuration.get("SecretToken")
    match = _DYNAMIC.fullmatch(token or "")
    if match is None:
        return configuration
    kind, reference = match.groups()
    if kind == "secretsmanager":  # CloudFormation's id:SecretString:key:stage:version -> CodeBuild's id:key:stage:version
        parts = reference.split(":")
        if len(parts) > 1 and parts[1] == "SecretString":
            del parts[1]
        reference = ":".join(parts)
    found = Reference("SecretToken", "SECRETS_MANAGER" if kind == "secretsmanager" else "PARAMETER_STORE",
                      reference, f"webhook {webhook} authenticationConfiguration")
    try:
        value = resolve([found], folder).environment["SecretToken"]
    except SecretError as error:
        raise validation(str(error)) from None
    return {**configuration, "SecretToken": value}


def _resolved(match_equals: str, configuration: dict[str, str]) -> str:
    return _REFERENCE.sub(lambda m: configuration.get(m.group(1), m.group(0)), match_equals)


def _check_filter(rule: dict) -> None:
    try:
        jsonpath(rule["jsonPath"])
    except (JsonPathLexerError, JsonPathParserError, Exception) as error:  # its parser raises bare Exceptions too
        raise ServiceError("InvalidWebhookFilterPatternException",
                           f"The jsonPath '{rule['jsonPath']}' is not a valid JsonPath expression: {error}") from None


def unknown_references(filters: list[dict], configuration: dict[str, str]) -> str | None:
    """What is wrong with `{Key}`s of matchEquals that name no configuration property of the
    target action (`{Branch}` of a CodeCommit action, whose key is BranchName): AWS documents no
    refusal for them, so they are accepted and said (the log, ListWebhooks' errorMessage); such a
    placeholder stays as written, so its filter passes only a payload holding it literally."""
    for rule in filters:
        for key in _REFERENCE.findall(rule.get("matchEquals") or ""):
            if key not in configuration:
                return (f"matchEquals '{rule['matchEquals']}' refers to {{{key}}}, which is not a configuration "
                        f"property of the target action ({', '.join(sorted(configuration)) or 'none'})")
    return None


def _check_authentication(kind: str, configuration: dict) -> None:
    """As AWS documents: GITHUB_HMAC takes only SecretToken, IP only AllowedIPRange (a CIDR
    range), UNAUTHENTICATED neither."""
    def refuse(message: str) -> None:
        raise ServiceError("InvalidWebhookAuthenticationParametersException", message)

    token, cidr = configuration.get("SecretToken"), configuration.get("AllowedIPRange")
    if kind == "GITHUB_HMAC" and (not token or cidr is not None):
        refuse("GITHUB_HMAC authentication takes a SecretToken and no AllowedIPRange")
    if kind == "IP":
        if not cidr or token is not None:
            refuse("IP authentication takes an AllowedIPRange and no SecretToken")
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            refuse(f"AllowedIPRange '{cidr}' is not a CIDR range")
    if kind == "UNAUTHENTICATED" and (token is not None or cidr is not None):
        refuse("UNAUTHENTICATED authentication takes no SecretToken and no AllowedIPRange")


def _address_in(address: str | None, cidr: str) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def _filter_passes(rule: dict, configuration: dict[str, str], payload) -> tuple[bool, str]:
    """A WebhookFilterRule: the value its jsonPath selects equals matchEquals (its `{Key}`s
    replaced by the target action's configuration); without matchEquals, it selects something."""
    try:
        values = [m.value for m in jsonpath(rule["jsonPath"]).find(payload)]
    except Exception as error:  # an expression that cannot be applied to this payload (a filter on a string)
        return False, f"{rule['jsonPath']} cannot be applied to the payload: {error}"

    expected = rule.get("matchEquals")
    if expected is None:
        return bool(values), f"{rule['jsonPath']} selects nothing"
    expected = _resolved(expected, configuration)
    texts = [v if isinstance(v, str) else json.dumps(v) for v in values]
    if expected in texts:
        return True, ""
    return False, f"{rule['jsonPath']} is {texts[0] if len(texts) == 1 else texts}, not {expected}"
