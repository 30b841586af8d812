"""The CloudFormation API over the stacks deploys made (cfn/store.py): one method per operation,
answering AWS's shapes (the query protocol's wire is api/query.py).

Errors as CloudFormation answers them: a stack that does not exist is `ValidationError` with
"Stack with id NAME does not exist" (HTTP 400), which is what scripts written for AWS match on.
"""

from __future__ import annotations

from emulator.cfn.store import StackStore

from .errors import ServiceError

STACK_MEMBERS = ("StackId", "StackName", "Description", "Parameters", "CreationTime", "LastUpdatedTime",
                 "DeletionTime", "StackStatus", "StackStatusReason", "Outputs")
PAGE = 100


def _missing(name: str) -> ServiceError:
    return ServiceError("ValidationError", f"Stack with id {name} does not exist")


def _page(items: list, params: dict) -> tuple[list, str | None]:
    token = params.get("NextToken")
    start = int(token) if token and token.isdigit() else 0
    if token and not token.isdigit():
        raise ServiceError("ValidationError", "Invalid NextToken")
    return items[start:start + PAGE], str(start + PAGE) if len(items) > start + PAGE else None


class CloudFormation:
    def __init__(self, store: StackStore) -> None:
        self.store = store

    def _stack(self, name: str | None, deleted_too: bool = False) -> dict:
        """A stack by name (live ones only) or by id (deleted ones too, as CloudFormation)."""
        record = None
        if name and name.startswith("arn:"):
            record = self.store.by_id(name)
        elif name:
            record = self.store.get(name)
        if record is None or (not deleted_too and record.get("StackStatus") == "DELETE_COMPLETE"):
            raise _missing(name or "")
        return record

    @staticmethod
    def _view(record: dict) -> dict:
        stack = {k: record[k] for k in STACK_MEMBERS if record.get(k) is not None}
        hidden = set(record.get("NoEcho") or ())
        stack["Parameters"] = [{**p, "ParameterValue": "****"} if p["ParameterKey"] in hidden else p
                               for p in record.get("Parameters") or []]
        stack.setdefault("Outputs", [])
        stack["DisableRollback"] = False
        stack["NotificationARNs"] = []
        stack["Tags"] = []
        stack["EnableTerminationProtection"] = False
        stack["DriftInformation"] = {"StackDriftStatus": "NOT_CHECKED"}
        return stack

    def describe_stacks(self, params: dict) -> dict:
        if params.get("StackName"):
            return {"Stacks": [self._view(self._stack(params["StackName"], deleted_too=True))]}
        stacks, token = _page(self.store.live(), params)
        return {"Stacks": [self._view(r) for r in stacks], **({"NextToken": token} if token else {})}

    def list_stacks(self, params: dict) -> dict:
        wanted = set(params.get("StackStatusFilter") or ())
        records = [r for r in self.store.all() if not wanted or r.get("StackStatus") in wanted]
        page, token = _page(records, params)
        summaries = []
        for r in page:
            summary = {k: r[k] for k in ("StackId", "StackName", "CreationTime", "LastUpdatedTime", "DeletionTime",
                                         "StackStatus", "StackStatusReason") if r.get(k) is not None}
            if r.get("Description") is not None:
                summary["TemplateDescription"] = r["Description"]
            summary["DriftInformation"] = {"StackDriftStatus": "NOT_CHECKED"}
            summaries.append(summary)
        return {"StackSummaries": summaries, **({"NextToken": token} if token else {})}

    @staticmethod
    def _resource(record: dict, resource: dict) -> dict:
        return {"StackName": record["StackName"], "StackId": record["StackId"],
                **{k: resource[k] for k in ("LogicalResourceId", "PhysicalResourceId", "ResourceType", "Timestamp",
                                             "ResourceStatus", "ResourceStatusReason") if resource.get(k) is not None},
                "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"}}

    def describe_stack_resources(self, params: dict) -> dict:
        if not params.get("StackName") and not params.get("PhysicalResourceId"):
            raise ServiceError("ValidationError", "Either StackName or PhysicalResourceId must be specified")
        if params.get("StackName"):
            records = [self._stack(params["StackName"], deleted_too=True)]
        else:
            records = [r for r in self.store.live() if any(
                x.get("PhysicalResourceId") == params["PhysicalResourceId"] for x in r.get("Resources") or [])]
            if not records:
                raise ServiceError("ValidationError", f"Stack for {params['PhysicalResourceId']} does not exist")
        found = [self._resource(r, x) for r in records for x in r.get("Resources") or []
                 if params.get("LogicalResourceId") in (None, x["LogicalResourceId"])
                 and params.get("PhysicalResourceId") in (None, x.get("PhysicalResourceId"))]
        return {"StackResources": found}

    def describe_stack_resource(self, params: dict) -> dict:
        record = self._stack(params.get("StackName"), deleted_too=True)
        for resource in record.get("Resources") or []:
            if resource["LogicalResourceId"] == params.get("LogicalResourceId"):
                detail = self._resource(record, resource)
                detail["LastUpdatedTimestamp"] = detail.pop("Timestamp")
                return {"StackResourceDetail": detail}
        raise ServiceError("ValidationError", f"Resource {params.get('LogicalResourceId')} does not exist for stack "
                                              f"{params.get('StackName')}")

    def list_stack_resources(self, params: dict) -> dict:
        record = self._stack(params.get("StackName"), deleted_too=True)
        page, token = _page(record.get("Resources") or [], params)
        summaries = []
        for x in page:
            summary = {k: x[k] for k in ("LogicalResourceId", "PhysicalResourceId", "ResourceType", "ResourceStatus",
                                          "ResourceStatusReason") if x.get(k) is not None}
            summary["LastUpdatedTimestamp"] = x["Timestamp"]
            summary["DriftInformation"] = {"StackResourceDriftStatus": "NOT_CHECKED"}
            summaries.append(summary)
        return {"StackResourceSummaries": summaries, **({"NextToken": token} if token else {})}

    def get_template(self, params: dict) -> dict:
        record = self._stack(params.get("StackName"), deleted_too=True)
        change_set = params.get("ChangeSetName")
        body = record.get("TemplateBody", "")
        if change_set:
            pending = (record.get("ChangeSets") or {}).get(change_set)
            if pending is None:
                raise ServiceError("ChangeSetNotFoundException", f"ChangeSet [{change_set}] does not exist")
            body = pending["TemplateBody"]
        # Transforms are not carried out, so the processed template is the original one.
        return {"TemplateBody": body, "StagesAvailable": ["Original", "Processed"]}

    def list_exports(self, params: dict) -> dict:
        page, token = _page(sorted(self.store.exports().values(), key=lambda e: e["Name"]), params)
        return {"Exports": page, **({"NextToken": token} if token else {})}


OPERATIONS = ("DescribeStacks", "ListStacks", "DescribeStackResources", "DescribeStackResource",
              "ListStackResources", "GetTemplate", "ListExports")
