"""The API operations that define pipelines (Create/Update/DeletePipeline) and tag them.

Two sources of pipelines, one namespace: a file in the pipelines folder owns its pipeline (edit
the file to change it), and a pipeline created through the API lives in the state folder (its
declarations are in the event log). A name belongs to one source: the API cannot create, update
or delete a file's pipeline, and a file naming an API pipeline is reported as an error.
"""

from __future__ import annotations

import copy
import logging
import re

from emulator.definitions import check_declaration
from emulator.definitions.action_types import masked
from emulator.definitions.models import RESOURCE_KINDS
from emulator.engine import ExecutionStarted, PipelineDeclared, PipelineDeleted, plan_from_declaration

from . import views
from .core import change_detection_on
from .errors import ServiceError, pipeline_not_found, validation
from .paging import page

log = logging.getLogger(__name__)

_ARN = re.compile(r"arn:aws:codepipeline:[a-z0-9-]+:\d{12}:(?P<name>[A-Za-z0-9.@\-_]+)")


class PipelineOperations:
    def create_pipeline(self, params: dict) -> dict:
        with self.lock:
            declaration, warnings = self._checked(params["pipeline"])
            name = declaration["name"]
            if name in self.engine.pipelines:
                raise ServiceError("PipelineNameInUseException", f"Pipeline '{name}' already exists")
            declaration["version"] = 1
            self.apply(PipelineDeclared(name, 1, plan_from_declaration(declaration), origin="api"))
            self._keep_warnings(name, warnings)
            tags = {t["key"]: t["value"] for t in params.get("tags") or ()}
            if tags:
                self.store.set_tags(views.pipeline_arn(self.region, name), tags)
            if change_detection_on(declaration):  # AWS runs a new pipeline once
                self.apply(ExecutionStarted(name, self._new_id(), "CreatePipeline",
                                            source_revisions=self.pinned_sources(name)))
            answer = {"pipeline": self.mask_custom_secrets(copy.deepcopy(declaration))}
            if "tags" in params:  # as sent, an empty list included (AWS answers it back)
                answer["tags"] = params["tags"]
            return answer

    def update_pipeline(self, params: dict) -> dict:
        with self.lock:
            declaration, warnings = self._checked(params["pipeline"])
            pipeline = self._owned_by_api(declaration["name"], "updated")
            version = pipeline.version + 1
            declaration["version"] = version
            self.apply(PipelineDeclared(pipeline.name, version, plan_from_declaration(declaration), origin="api"))
            self._keep_warnings(pipeline.name, warnings)
            return {"pipeline": self.mask_custom_secrets(copy.deepcopy(declaration))}

    def delete_pipeline(self, params: dict) -> dict:
        with self.lock:
            if params["name"] not in self.engine.pipelines:
                return {}  # as AWS: deleting what is not there is not an error
            pipeline = self._owned_by_api(params["name"], "deleted")
            self.apply(PipelineDeleted(pipeline.name))
            self.api_warnings.pop(pipeline.name, None)
            self.store.remove_tags(views.pipeline_arn(self.region, pipeline.name))
            return {}

    def list_tags_for_resource(self, params: dict) -> dict:
        arn = self._tagged(params["resourceArn"])
        tags = [{"key": k, "value": v} for k, v in self.store.tags(arn).items()]
        chunk, token = page(tags, params)
        return {"tags": chunk, **({"nextToken": token} if token else {})}

    def tag_resource(self, params: dict) -> dict:
        arn = self._tagged(params["resourceArn"])
        tags = {t["key"]: t["value"] for t in params["tags"]}
        if len(self.store.tags(arn) | tags) > 50:
            raise ServiceError("TooManyTagsException", "A pipeline takes at most 50 tags")
        if any(k.lower().startswith("aws:") for k in tags):
            raise ServiceError("InvalidTagsException", "Tag keys starting with 'aws:' are reserved")
        self.store.set_tags(arn, tags)
        return {}

    def untag_resource(self, params: dict) -> dict:
        self.store.remove_tags(self._tagged(params["resourceArn"]), list(params["tagKeys"]))
        return {}

    # -- helpers ----------------------------------------------------------------------------

    def _checked(self, data: dict) -> tuple[dict, list[str]]:
        """The declaration in AWS's form with defaults filled in, and its warnings; or AWS's error."""
        declared = {section: getattr(self.resources, section, None) or {} for section in RESOURCE_KINDS}
        model, problems, warnings = check_declaration(data, declared)
        if problems:
            path, message = problems[0]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            code = "InvalidStructureException"
            if ".actions[" in path:
                code = "InvalidActionDeclarationException"
            elif ".stages[" in path:
                code = "InvalidStageDeclarationException"
            raise ServiceError(code, f"{path}: {message}{more}")
        custom = self.custom_action_problems(model.model_dump(mode="json", exclude_none=True))
        if custom:  # Custom actions are checked against the account's custom action types
            path, message = custom[0]
            raise ServiceError("InvalidActionDeclarationException", f"{path}: {message}")
        return masked(model.model_dump(mode="json", exclude_none=True)), [f"{path}: {message}" for path, message in warnings]

    def _keep_warnings(self, name: str, warnings: list[str]) -> None:
        """The warnings of the declaration just applied: logged, and shown on /health while it lives."""
        self.api_warnings[name] = [f"pipeline {name} (created through the API): warning: {w}" for w in warnings]
        for warning in self.api_warnings[name]:
            log.warning("%s", warning)

    def _owned_by_api(self, name: str, verb: str):
        pipeline = self.engine.pipelines.get(name)
        if pipeline is None:
            raise pipeline_not_found(name)
        if pipeline.origin != "api":
            where = self._file_of(name)
            raise validation(
                f"Pipeline '{name}' is defined by the file {where} in the pipelines folder and cannot be "
                f"{verb} through the API: edit the file instead"
            )
        return pipeline

    def _file_of(self, name: str) -> str:
        entry = (getattr(self.resources, "pipelines", {}) or {}).get(name)
        return str(entry[0]) if entry else "(removed)"

    def _tagged(self, arn: str) -> str:
        match = _ARN.fullmatch(arn)
        if match is None:
            raise ServiceError("InvalidArnException", f"'{arn}' is not a pipeline ARN")
        with self.lock:
            if match.group("name") not in self.engine.pipelines:
                raise ServiceError("ResourceNotFoundException", f"No pipeline for '{arn}'")
        return arn
