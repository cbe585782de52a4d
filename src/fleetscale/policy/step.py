"""Policy ``step`` (pure): threshold bands with step sizes, like AWS step scaling.

Each step is a band ``[above, below)`` of the compared value (either side may be open) and
one adjustment: ``add``/``remove`` N units, or ``add_percent``/``remove_percent`` of the
current units. The first step whose band holds the value applies; no band -> keep.

``compare: value`` compares the metric itself; ``compare: utilisation`` compares
metric / (current units x unit_capacity) (with 0 units: any load is infinitely high).

Steps apply on scheduled cycles only: an extra cycle (a source reported a change between
two) proposes to keep the current units, so notifications never add steps.

Percent steps round like AWS PercentChangeInCapacity: a change between 0 and 1 unit is
1 unit, a larger one is rounded toward zero; ``min_adjustment`` (AWS
MinAdjustmentMagnitude) sets a larger minimum. Unlike AWS, ``add_percent`` on an empty pool
adds ``min_adjustment`` units (a percent of 0 would never grow it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from fleetscale.model import Proposal, Snapshot
from fleetscale.policy.context import PolicyContext, fmt


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    #: the band's lower bound (inclusive); None = no lower bound
    above: float | None = None
    #: the band's upper bound (exclusive); None = no upper bound
    below: float | None = None
    add: int | None = None
    remove: int | None = None
    add_percent: float | None = None
    remove_percent: float | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.add, self.remove, self.add_percent, self.remove_percent) if v is not None]
        if len(given) != 1:
            raise ValueError("a step needs exactly one of add, remove, add_percent, remove_percent")
        if given[0] < 0:
            raise ValueError(f"a step size must be >= 0 (got {given[0]})")
        if self.above is None and self.below is None:
            raise ValueError("a step needs above and/or below")
        if self.above is not None and self.below is not None and self.above >= self.below:
            raise ValueError(f"above ({self.above}) must be lower than below ({self.below})")

    def holds(self, value: float) -> bool:
        return (self.above is None or value >= self.above) and (self.below is None or value < self.below)

    def band(self) -> str:
        above, below = self.above, self.below
        if below is None:
            return f">= {fmt(above)}" if above is not None else "any value"
        if above is None:
            return f"< {fmt(below)}"
        return f"in [{fmt(above)}, {fmt(below)})"

    def change(self, current: int, min_adjustment: int) -> int:
        """Signed change in units."""
        if self.add is not None:
            return self.add
        if self.remove is not None:
            return -self.remove
        percent = self.add_percent if self.add_percent is not None else -(self.remove_percent or 0.0)
        raw = current * percent / 100.0
        if raw == 0:
            # a percent of 0 units is 0; growing from an empty pool still adds min_adjustment
            return min_adjustment if percent > 0 else 0
        size = max(1, math.floor(abs(raw) + 1e-9), min_adjustment)
        return size if raw > 0 else -size


@dataclass(frozen=True, slots=True, kw_only=True)
class StepPolicy:
    kind: Literal["step"] = "step"
    name: str | None = None
    metric: str = "load"
    compare: Literal["value", "utilisation"] = "value"
    steps: tuple[Step, ...] = ()
    min_adjustment: int = 1

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("steps: give at least one step")
        if self.min_adjustment < 1:
            raise ValueError(f"min_adjustment must be >= 1 (got {self.min_adjustment})")

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.metric,)

    def compile(self, unit_capacity: float) -> StepPolicy:
        """Nothing to precompute: the policy proposes as it is."""
        return self

    def propose(
        self, snapshot: Snapshot, ctx: PolicyContext, state: object, label: str
    ) -> tuple[Proposal, object]:
        if not snapshot.scheduled:  # a step is per evaluation: extra cycles would add steps
            return Proposal(label, ctx.current, f"extra cycle: steps apply on scheduled cycles only "
                                                f"-> keep {ctx.current}"), state
        reading = ctx.reading(self.metric)
        if reading.total is None:
            return Proposal(label, None, f"no usable {self.metric} ({reading.problem})"), state
        current = ctx.current
        if self.compare == "utilisation":
            capacity = current * ctx.unit_capacity
            value = reading.total / capacity if capacity > 0 else float("inf") if reading.total > 0 else 0.0
            what = f"{self.metric} utilisation {fmt(value)}"
        else:
            value = reading.total
            what = f"{self.metric} {fmt(value)}"
        for step in self.steps:
            if step.holds(value):
                delta = step.change(current, self.min_adjustment)
                desired = max(0, current + delta)
                return Proposal(
                    label, desired, f"{what} {step.band()} -> {delta:+d} -> {desired} units"
                ), state
        return Proposal(label, current, f"{what} in no step band -> keep {current}"), state
