"""What of a declaration pipemu does not carry out yet: every such field, as a warning that names
it and its path, so that a pipeline never behaves differently here than on AWS without a word.

The warnings go to `pipemu validate`, the daemon's log, /health and the dashboard's definition
notices. When a later change carries a field out, its warning goes from here.
"""

from __future__ import annotations

import difflib

from .action_types import ACTION_TYPES, UNSUPPORTED_CONFIGURATION
from .conditions_check import skip_warnings
from .models import Loc, PipelineDeclaration, Problem

GITHUB_V1 = ("Source", "ThirdParty", "GitHub")

def not_carried_out(pipeline: PipelineDeclaration) -> list[Problem]:
    """(path relative to the pipeline, message) of each field pipemu accepts but does not carry out."""
    found: list[Problem] = []
    # Triggers' push filters are carried out (emulator/daemon/git_watch.py), and their
    # pullRequest filters by `pipemu pr` (emulator/daemon/pull_requests.py).
    for s, stage in enumerate(pipeline.stages):
        # Stage conditions, their rules, automatic retry and rollback are carried out
        # (emulator/engine/conditions.py, emulator/rules/); SKIP beside other rules is named.
        found.extend(skip_warnings(stage, ("stages", s)))
        if stage.blockers:
            found.append((("stages", s, "blockers"), "blockers are not carried out"))
        for a, action in enumerate(stage.actions):
            found.extend(_action(action, ("stages", s, "actions", a)))
    return found


def _likely(type_id) -> str:
    """'; did you mean ...' for a near miss of a known type of the same category (CodeCommitt)."""
    known = {f"{owner}/{provider}": (owner, provider) for category, owner, provider in ACTION_TYPES
             if category == type_id.category}
    close = difflib.get_close_matches(f"{type_id.owner}/{type_id.provider}", list(known), n=1, cutoff=0.8)
    return f" (did you mean {close[0]}?)" if close else ""


def _action(action, at: Loc) -> list[Problem]:
    type_id = action.actionTypeId
    key = type_id.key
    spec = ACTION_TYPES.get(key)
    described = f"{type_id.owner}/{type_id.provider} ({type_id.category})"
    if spec is None and (type_id.owner == "Custom" or type_id.owner == "ThirdParty"):
        # Carried out: its jobs wait for a job worker (emulator/service/worker_jobs.py); a Custom
        # one is checked against the account's custom action types when it is declared.
        return []
    if spec is None:
        return [(at + ("actionTypeId",), f"{described} is not an action type pipemu knows{_likely(type_id)}; accepted "
                                         "as AWS may offer it, and recorded without running anything")]
    found: list[Problem] = []
    if not spec.emulated:
        output = " (its output artifacts are empty)" if action.outputArtifacts else ""
        found.append((at + ("actionTypeId",), f"{described} actions are not emulated yet: recorded when they run, "
                                              f"nothing is {'deployed' if type_id.category == 'Deploy' else 'run'}{output}"))
    if key == GITHUB_V1:
        found.append((at + ("actionTypeId",), "GitHub version 1 actions are deprecated by AWS (use CodeStarSourceConnection); "
                                              "stood in for by the local repository Owner/Repo, the OAuth token is not used"))
    for name, why in UNSUPPORTED_CONFIGURATION.get(key, {}).items():
        value = (action.configuration or {}).get(name)
        if value is not None and value.lower() != "false":
            found.append((at + ("configuration", name), f"not carried out yet: {why}"))
    return found
