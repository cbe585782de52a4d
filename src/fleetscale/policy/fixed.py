"""Policy ``fixed`` (pure): always the same capacity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from fleetscale.model import Proposal, Snapshot
from fleetscale.policy.context import PolicyContext


@dataclass(frozen=True, slots=True, kw_only=True)
class FixedPolicy:
    kind: Literal["fixed"] = "fixed"
    name: str | None = None
    #: the capacity to keep, in units
    units: int = 1

    def __post_init__(self) -> None:
        if self.units < 0:
            raise ValueError(f"units must be >= 0 (got {self.units})")

    @property
    def metrics(self) -> tuple[str, ...]:
        return ()

    def propose(self, snapshot: Snapshot, ctx: PolicyContext, state: Any, label: str) -> tuple[Proposal, Any]:
        return Proposal(label, self.units, f"fixed at {self.units} units"), state
