"""Policy ``fixed`` (pure): always the same capacity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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

    def compile(self, unit_capacity: float) -> FixedPolicy:
        """Nothing to precompute: the policy proposes as it is."""
        return self

    def propose(
        self, snapshot: Snapshot, ctx: PolicyContext, state: object, label: str
    ) -> tuple[Proposal, object]:
        return Proposal(label, self.units, f"fixed at {self.units} units"), state
