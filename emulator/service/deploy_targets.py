"""ListDeployActionExecutionTargets: the targets a deploy action execution deployed to.

AWS lists targets for the EC2 deploy action (its instances). Here the ECS deploy stand-in records
its service as a target (runner/ecs_deploy.py) with its steps as events; every other action
execution (an S3 deploy included: AWS lists no objects) answers an empty list, as AWS answers
for an action without targets. The records are the runner's (runner/deploy_targets.py).
"""

from __future__ import annotations

from emulator.engine.state import ActionRun

from .errors import ServiceError, validation
from .paging import page

TARGET_FILTERS = {"TARGET_STATUS": "status"}


class DeployTargetOperations:
    def list_deploy_action_execution_targets(self, params: dict) -> dict:
        wanted = params["actionExecutionId"]
        name = params.get("pipelineName")
        with self.lock:
            if name is not None:
                self._pipeline(name)  # PipelineNotFoundException
            found = self.find_action_run(wanted)
            if found is None or not isinstance(found[2], ActionRun) or (name is not None and found[0] != name):
                raise ServiceError("ActionExecutionNotFoundException", f"Action execution '{wanted}' not found"
                                   + (f" in pipeline '{name}'" if name is not None else ""))
        store = getattr(self.runner, "deploy_targets", None)
        targets = store.get(wanted) if store is not None else []
        for condition in params.get("filters") or ():
            # botocore's model allows only TARGET_STATUS as a name (checked by the wire layer),
            # yet leaves it optional; its values are alternatives.
            field = TARGET_FILTERS.get(condition.get("name"))
            if field is None:
                raise validation("filters: each filter needs a name (TARGET_STATUS)")
            values = set(condition.get("values") or ())
            if values:
                targets = [t for t in targets if t.get(field) in values]
        chunk, token = page(targets, params)
        return {"targets": chunk, **({"nextToken": token} if token else {})}
