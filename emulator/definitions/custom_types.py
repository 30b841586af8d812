"""Custom action types declared in the pipelines folder (`customActionTypes:`), as stand-ins for
the account's custom actions: what CreateCustomActionType would have created on AWS, in its
shape (and AWS::CodePipeline::CustomActionType's, which a template import turns into this).

A pipeline of the folder whose action names a Custom type finds it here or among the types
created through the API (kept in the state folder); the daemon refuses one that names neither.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArtifactDetails(_Strict):
    minimumCount: int = Field(ge=0, le=5)
    maximumCount: int = Field(ge=0, le=5)


class ConfigurationProperty(_Strict):
    name: str = Field(min_length=1, max_length=50)
    required: bool
    key: bool
    secret: bool
    queryable: bool = False
    description: str | None = Field(default=None, min_length=1, max_length=160)
    type: Literal["String", "Number", "Boolean"] | None = None


class Settings(_Strict):
    thirdPartyConfigurationUrl: str | None = None
    entityUrlTemplate: str | None = None
    executionUrlTemplate: str | None = None
    revisionUrlTemplate: str | None = None


class CustomActionType(_Strict):
    category: Literal["Source", "Build", "Deploy", "Test", "Invoke", "Approval", "Compute"]
    provider: str = Field(min_length=1, max_length=35, pattern=r"^[0-9A-Za-z_-]+$")
    version: str = Field(min_length=1, max_length=9, pattern=r"^[0-9A-Za-z_-]+$")
    settings: Settings | None = None
    configurationProperties: list[ConfigurationProperty] = Field(default=[], max_length=10)
    inputArtifactDetails: ArtifactDetails
    outputArtifactDetails: ArtifactDetails

    @model_validator(mode="after")
    def _as_aws_checks(self):
        names = [p.name for p in self.configurationProperties]
        if len(set(names)) != len(names):
            raise ValueError("configurationProperties names must be unique")
        queryable = [p for p in self.configurationProperties if p.queryable]
        if len(queryable) > 1:
            raise ValueError("at most one configuration property may be queryable")
        if queryable and (not queryable[0].required or queryable[0].secret):
            raise ValueError(f"queryable property {queryable[0].name} must be required and not secret")
        for side in (self.inputArtifactDetails, self.outputArtifactDetails):
            if side.minimumCount > side.maximumCount:
                raise ValueError("minimumCount is larger than maximumCount")
        return self

    def action_type(self) -> dict:
        """The ActionType shape (ListActionTypes, CreateCustomActionType's answer)."""
        return {
            "id": {"category": self.category, "owner": "Custom", "provider": self.provider, "version": self.version},
            "settings": self.settings.model_dump(exclude_none=True) if self.settings else {},
            "actionConfigurationProperties": [p.model_dump(exclude_none=True) for p in self.configurationProperties],
            "inputArtifactDetails": self.inputArtifactDetails.model_dump(),
            "outputArtifactDetails": self.outputArtifactDetails.model_dump(),
        }
