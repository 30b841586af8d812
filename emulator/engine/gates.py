"""Stage gates: how many executions a stage holds and what a newcomer at a full entrance does.

One small named policy per executionMode (Prefect's orchestration rules are the model): the
machine asks the pipeline's policy, it never branches on the mode itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from .state import StageSlot


@dataclass(frozen=True)
class GatePolicy:
    mode: str
    capacity: int | None  # executions inside one stage at once; None = no lock
    supersede_waiting: bool  # True: a newcomer replaces the one waiting; False: FIFO queue

    def arrive(self, slot: StageSlot, execution_id: str) -> tuple[bool, list[str]]:
        """Whether `execution_id` enters now, and the waiting executions it supersedes."""
        if self._has_room(slot) and not slot.waiting:
            return True, []
        if self.supersede_waiting:
            return False, list(slot.waiting)
        return False, []

    def admit(self, slot: StageSlot) -> list[str]:
        """The waiting executions that may enter now, oldest first."""
        admitted = []
        waiting = list(slot.waiting)
        while waiting and self._has_room(slot, extra=len(admitted)):
            admitted.append(waiting.pop(0))
        return admitted

    def has_room(self, slot: StageSlot) -> bool:
        """Room inside for one more, whoever waits (a rollback goes first)."""
        return self._has_room(slot)

    def _has_room(self, slot: StageSlot, extra: int = 0) -> bool:
        if not slot.transition_enabled:
            return False
        return self.capacity is None or len(slot.inside) + extra < self.capacity


GATES = {
    "SUPERSEDED": GatePolicy("SUPERSEDED", capacity=1, supersede_waiting=True),
    "QUEUED": GatePolicy("QUEUED", capacity=1, supersede_waiting=False),
    "PARALLEL": GatePolicy("PARALLEL", capacity=None, supersede_waiting=False),
}
