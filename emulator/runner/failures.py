"""The one error type of the providers: an action failed for a reason its user should read.

Its own module so that the providers (providers.py, cfn_record.py, ...) and the runner that
reports their results (actions.py) all import it, and none of them the others."""

from __future__ import annotations


class ActionFailure(Exception):
    """The action failed for a reason its user should read (the text); not a bug of ours."""

    def __init__(self, message: str, external_id: str | None = None):
        super().__init__(message)
        self.external_id = external_id
