"""API errors by AWS's exception names. The wire layer turns them into HTTP 400 bodies."""

from __future__ import annotations

from .views import ACCOUNT_ID


class ServiceError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


def pipeline_not_found(name: str) -> ServiceError:
    # AWS's own words for it.
    return ServiceError("PipelineNotFoundException", f"Account '{ACCOUNT_ID}' does not have a pipeline with name '{name}'")
