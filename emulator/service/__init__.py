"""The service: one method per API operation over the engine, the store and the runner."""

from emulator.store import StateNotWritable

from .errors import ServiceError
from .operations import CodePipeline

__all__ = ["CodePipeline", "ServiceError", "StateNotWritable"]
