"""The action-type operations: CreateCustomActionType, DeleteCustomActionType, ListActionTypes,
GetActionType, UpdateActionType.

Action types are AWS's built-in ones (emulator/definitions/action_types.py) and the custom ones
created here (owner `Custom`, kept in the state folder). As on AWS, a deleted custom action type
keeps its id: it is no longer listed nor usable, and creating it again is refused (the reference:
"To re-create a custom action after it has been deleted you must use a string in the version
field that has never been used before").

GetActionType and UpdateActionType speak the newer ActionTypeDeclaration (owner `AWS` or
`ThirdParty` only, by the model's pattern). A built-in type answers what pipemu knows of it (its
configuration properties and artifact counts; executor `JobWorker`); UpdateActionType keeps the
declaration of a `ThirdParty` type that exists (built in, or named by a pipeline's action) and
GetActionType answers it from then on; an `AWS` type is AWS's own and cannot be updated
(RequestFailedException); a type that does not exist is ActionTypeNotFoundException.
"""

from __future__ import annotations

import copy
import logging

from emulator.definitions.action_types import ACTION_TYPES
from emulator.store.action_types import ActionTypeRecords, type_key

from .errors import ServiceError, validation
from .paging import page

log = logging.getLogger(__name__)

MAX_CUSTOM_ACTION_TYPES = 50  # AWS's quota: custom actions per Region per account
MAX_TAGS = 50


def _counts(bounds: tuple[int, int], cap: int = 5) -> dict:
    """ArtifactDetails: the legacy ActionType caps counts at 5 (the model's range)."""
    return {"minimumCount": min(bounds[0], cap), "maximumCount": min(bounds[1], cap)}


def built_in_types(region: str) -> list[dict]:
    """AWS's action types as ListActionTypes answers them (ActionType shape)."""
    found = []
    for (category, owner, provider), spec in ACTION_TYPES.items():
        properties = [{"name": k, "required": True, "key": True, "secret": k in spec.secrets, "queryable": False}
                      for k in spec.required]
        properties += [{"name": k, "required": False, "key": False, "secret": k in spec.secrets, "queryable": False}
                       for k in spec.optional]
        found.append({
            "id": {"category": category, "owner": owner, "provider": provider, "version": "1"},
            "settings": {},
            "actionConfigurationProperties": properties[:10],
            "inputArtifactDetails": _counts(spec.inputs),
            "outputArtifactDetails": _counts(spec.outputs),
        })
    return found


def declaration_of(action_type: dict, region: str) -> dict:
    """The ActionTypeDeclaration of a legacy ActionType (what GetActionType answers)."""
    settings = action_type.get("settings") or {}
    urls = {new: settings[old] for old, new in (("thirdPartyConfigurationUrl", "configurationUrl"),
                                                ("entityUrlTemplate", "entityUrlTemplate"),
                                                ("executionUrlTemplate", "executionUrlTemplate"),
                                                ("revisionUrlTemplate", "revisionUrlTemplate")) if settings.get(old)}
    declaration = {
        "executor": {"configuration": {"jobWorkerExecutorConfiguration": {}}, "type": "JobWorker"},
        "id": dict(action_type["id"]),
        "inputArtifactDetails": dict(action_type["inputArtifactDetails"]),
        "outputArtifactDetails": dict(action_type["outputArtifactDetails"]),
        "properties": [{"name": p["name"], "optional": not p["required"], "key": p["key"], "noEcho": p["secret"],
                        "queryable": bool(p.get("queryable")),
                        **({"description": p["description"]} if p.get("description") else {})}
                       for p in action_type.get("actionConfigurationProperties") or ()],
    }
    if urls:
        declaration["urls"] = urls
    return declaration


class ActionTypeOperations:
    @property
    def action_type_records(self) -> ActionTypeRecords:
        records = getattr(self, "_action_type_records", None)
        if records is None:
            records = self._action_type_records = ActionTypeRecords(self.store)
        return records

    # -- what exists ----------------------------------------------------------------------------

    def custom_action_type(self, category: str, provider: str, version: str) -> dict | None:
        """The live custom action type of that id (ActionType shape), or None (never created, or
        deleted). Declarations check their Custom actions with it."""
        found = self.action_type_records.get(type_key(category, "Custom", provider, version))
        if found is not None and not found[2] and "declaration" not in found[0]:
            return found[0]
        if found is None:  # a stand-in of the pipelines folder (a deleted id stays deleted)
            for stand_in in self._folder_custom_types():
                if (stand_in["id"]["category"], stand_in["id"]["provider"], stand_in["id"]["version"]) == (
                        category, provider, version):
                    return stand_in
        return None

    def _folder_custom_types(self) -> list[dict]:
        return [declared.action_type() for _, declared in getattr(self.resources, "custom_action_types", None) or ()]

    def custom_action_problems(self, declaration: dict) -> list[tuple[str, str]]:
        """(path, message) of each Custom action of a declaration (AWS's form) that AWS would
        refuse: its type does not exist (or was deleted), a required configuration property is
        missing, a key is not one of the type's, or its artifacts are not as many as the type says."""
        problems = []
        for s, stage in enumerate(declaration.get("stages") or ()):
            for a, action in enumerate(stage.get("actions") or ()):
                type_id = action["actionTypeId"]
                if type_id["owner"] != "Custom":
                    continue
                at = f"pipeline.stages[{s}].actions[{a}]"
                found = self.custom_action_type(type_id["category"], type_id["provider"], str(type_id["version"]))
                if found is None:
                    # AWS's words for an action type the account does not have.
                    problems.append((f"{at}.actionTypeId", (
                        f"ActionType (Category: '{type_id['category']}', Provider: '{type_id['provider']}', "
                        f"Owner: 'Custom', Version: '{type_id['version']}') in action '{action['name']}' "
                        "is not available")))
                    continue
                configuration = action.get("configuration") or {}
                properties = {p["name"]: p for p in found["actionConfigurationProperties"]}
                for name, prop in properties.items():
                    if prop["required"] and name not in configuration:
                        problems.append((f"{at}.configuration", f"Action configuration for action "
                                         f"'{action['name']}' is missing required configuration '{name}'"))
                for name in configuration:
                    if name not in properties:
                        problems.append((f"{at}.configuration.{name}", f"Action configuration for action "
                                         f"'{action['name']}' contains unknown configuration '{name}'"))
                for side, member in (("inputArtifactDetails", "inputArtifacts"),
                                     ("outputArtifactDetails", "outputArtifacts")):
                    count, bounds = len(action.get(member) or ()), found[side]
                    if not bounds["minimumCount"] <= count <= bounds["maximumCount"]:
                        problems.append((f"{at}.{member}", (
                            f"Action '{action['name']}' has {count} {member}; its type takes "
                            f"{bounds['minimumCount']} to {bounds['maximumCount']}")))
        return problems

    def secret_keys(self, type_id: dict) -> set[str]:
        """The configuration keys of a Custom type that AWS keeps secret (shown as ****)."""
        if type_id.get("owner") != "Custom":
            return set()
        found = self.custom_action_type(type_id["category"], type_id["provider"], str(type_id["version"]))
        return {p["name"] for p in (found or {}).get("actionConfigurationProperties") or () if p["secret"]}

    def mask_custom_secrets(self, declaration: dict) -> dict:
        """The declaration with its Custom actions' secret values as "****": AWS hides them from
        every answer but the job's own (PollForJobs, GetJobDetails)."""
        for stage in declaration.get("stages") or ():
            for action in stage.get("actions") or ():
                configuration = action.get("configuration")
                for key in self.secret_keys(action.get("actionTypeId") or {}) if configuration else ():
                    if key in configuration:
                        configuration[key] = "****"
        return declaration

    def _live_custom_types(self) -> list[dict]:
        """The API's custom action types, then the folder's stand-ins of ids the API never made."""
        records = self.action_type_records.all()
        live = [body for body, _, deleted in records if not deleted and "declaration" not in body]
        made = {type_key(**body["id"]) for body, _, _ in records if "declaration" not in body}
        return live + [t for t in self._folder_custom_types() if type_key(**t["id"]) not in made]

    def _third_party_in_use(self, category: str, provider: str, version: str) -> bool:
        """A ThirdParty type no built-in names exists here once a pipeline's action uses it."""
        with self.lock:
            for pipeline in self.engine.pipelines.values():
                for stage in pipeline.plan.stages:
                    for action in stage.actions:
                        if (action.owner, action.category, action.provider, action.version) == (
                                "ThirdParty", category, provider, version):
                            return True
        return False

    # -- operations -----------------------------------------------------------------------------

    def create_custom_action_type(self, params: dict) -> dict:
        properties = params.get("configurationProperties") or []
        names = [p["name"] for p in properties]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise validation(f"Configuration property names must be unique: {', '.join(duplicated)}")
        queryable = [p for p in properties if p.get("queryable")]
        if len(queryable) > 1:
            raise validation("An action type can have at most one queryable configuration property")
        for prop in queryable:  # the reference: a queryable property must be required and not secret
            if not prop["required"] or prop["secret"]:
                raise validation(f"Queryable configuration property '{prop['name']}' must be required and not secret")
        for side in ("inputArtifactDetails", "outputArtifactDetails"):
            counts = params[side]
            if counts["minimumCount"] > counts["maximumCount"]:
                raise validation(f"{side}: minimumCount {counts['minimumCount']} is larger than "
                                 f"maximumCount {counts['maximumCount']}")
        tags = {t["key"]: t["value"] for t in params.get("tags") or ()}
        if len(tags) > MAX_TAGS:
            raise ServiceError("TooManyTagsException", f"An action type takes at most {MAX_TAGS} tags")
        if any(k.lower().startswith("aws:") for k in tags):
            raise ServiceError("InvalidTagsException", "Tag keys starting with 'aws:' are reserved")
        type_id = {"category": params["category"], "owner": "Custom", "provider": params["provider"],
                   "version": params["version"]}
        key = type_key(**type_id)
        with self.lock:
            existing = self.action_type_records.get(key)
            if existing is None and self.custom_action_type(type_id["category"], type_id["provider"],
                                                            type_id["version"]) is not None:
                raise validation(f"Action type {params['category']}/Custom/{params['provider']}/"
                                 f"{params['version']} already exists (declared in the pipelines folder)")
            action_type = {
                "id": type_id,
                "settings": dict(params.get("settings") or {}),
                "actionConfigurationProperties": [dict(p) for p in properties],
                "inputArtifactDetails": dict(params["inputArtifactDetails"]),
                "outputArtifactDetails": dict(params["outputArtifactDetails"]),
            }
            if existing is not None and not (existing[2] and existing[0] == action_type):
                # The reference: a deleted custom action is restored by creating it again exactly
                # as it was; any other create of a used id is refused.
                why = ("was deleted; to create it again use a version never used before, or the very same "
                       "declaration to restore it" if existing[2] else "already exists")
                raise validation(f"Action type {params['category']}/Custom/{params['provider']}/"
                                 f"{params['version']} {why}")
            if len(self._live_custom_types()) >= MAX_CUSTOM_ACTION_TYPES:
                raise ServiceError("LimitExceededException",
                                   f"The account has {MAX_CUSTOM_ACTION_TYPES} custom action types, AWS's quota")
            self.action_type_records.put(key, action_type, tags)
            if existing is not None:
                self.action_type_records.restore(key)
        answer = {"actionType": copy.deepcopy(action_type)}
        if tags:
            answer["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
        return answer

    def delete_custom_action_type(self, params: dict) -> dict:
        key = type_key(params["category"], "Custom", params["provider"], params["version"])
        with self.lock:
            found = self.action_type_records.get(key)
            if found is None or found[2]:
                # Not modeled for this operation: AWS answers a ValidationException.
                raise validation(f"Action type {params['category']}/Custom/{params['provider']}/"
                                 f"{params['version']} does not exist")
            self.action_type_records.mark_deleted(key)
        return {}

    def list_action_types(self, params: dict) -> dict:
        owner = params.get("actionOwnerFilter")
        region = params.get("regionFilter")
        found = []
        if region is None or region == self.region:  # the daemon is one Region
            found = built_in_types(self.region) + self._live_custom_types()
            if owner is not None:
                found = [t for t in found if t["id"]["owner"] == owner]
        chunk, token = page(found, params, default_size=100)
        return {"actionTypes": chunk, **({"nextToken": token} if token else {})}

    def get_action_type(self, params: dict) -> dict:
        type_id = {k: params[k] for k in ("category", "owner", "provider", "version")}
        return {"actionType": self._declaration(type_id)}

    def update_action_type(self, params: dict) -> dict:
        declaration = params["actionType"]
        type_id = declaration["id"]
        self._declaration(type_id)  # ActionTypeNotFoundException when it does not exist
        if type_id["owner"] == "AWS":
            raise ServiceError("RequestFailedException",
                               f"Action type {type_id['category']}/AWS/{type_id['provider']}/{type_id['version']} "
                               "is AWS's own and cannot be updated")
        executor = declaration["executor"]
        configuration = executor.get("configuration") or {}
        wanted = "lambdaExecutorConfiguration" if executor["type"] == "Lambda" else "jobWorkerExecutorConfiguration"
        if wanted not in configuration:
            raise validation(f"executor.configuration needs {wanted} for executor type {executor['type']}")
        with self.lock:
            self.action_type_records.put(type_key(**type_id), {"declaration": copy.deepcopy(declaration)}, {})
        for warning in _update_warnings(declaration):
            log.warning("%s", warning)
        return {}

    def action_type_warnings(self) -> list[str]:
        """What the kept UpdateActionType declarations say that is not carried out (for /health)."""
        return [w for body, _, _ in self.action_type_records.all() if "declaration" in body
                for w in _update_warnings(body["declaration"])]

    def _declaration(self, type_id: dict) -> dict:
        key = (type_id["category"], type_id["owner"], type_id["provider"])
        stored = self.action_type_records.get(type_key(**type_id))
        if stored is not None and "declaration" in stored[0]:
            return copy.deepcopy(stored[0]["declaration"])
        if key in ACTION_TYPES and type_id["version"] == "1":
            built_in = next(t for t in built_in_types(self.region) if t["id"] == dict(type_id))
            return declaration_of(built_in, self.region)
        if type_id["owner"] == "ThirdParty" and self._third_party_in_use(
                type_id["category"], type_id["provider"], type_id["version"]):
            # A partner's type pipemu knows only by its use: its jobs wait for a worker.
            return {"executor": {"configuration": {"jobWorkerExecutorConfiguration": {}}, "type": "JobWorker"},
                    "id": dict(type_id), "inputArtifactDetails": {"minimumCount": 0, "maximumCount": 10},
                    "outputArtifactDetails": {"minimumCount": 0, "maximumCount": 10}}
        raise ServiceError("ActionTypeNotFoundException",
                           f"Action type {type_id['category']}/{type_id['owner']}/{type_id['provider']}/"
                           f"{type_id['version']} not found")


def _update_warnings(declaration: dict) -> list[str]:
    executor = declaration["executor"]
    ignored = [name for name, present in (
        ("executor.type Lambda (its jobs still wait for a job worker)", executor["type"] == "Lambda"),
        ("executor.jobTimeout (a job waits as its action's timeout says)", "jobTimeout" in executor),
        ("executor.policyStatementsTemplate", "policyStatementsTemplate" in executor),
        ("executor.configuration.jobWorkerExecutorConfiguration (any worker may poll)",
         bool((executor.get("configuration") or {}).get("jobWorkerExecutorConfiguration"))),
        ("permissions (any caller may use it)", "permissions" in declaration)) if present]
    type_id = declaration["id"]
    described = f"{type_id['category']}/{type_id['owner']}/{type_id['provider']}/{type_id['version']}"
    return [f"action type {described} (UpdateActionType): warning: {name} is not carried out" for name in ignored]
