"""Policy ``target`` (pure): target tracking.

- ``mode: total`` (default): desired = ceil(metric / per_unit), where ``per_unit`` is the
  load one capacity unit should carry: ``target`` (absolute) or ``utilisation`` x the pool's
  ``unit_capacity``. This is AWS target tracking on a pool total, the seed's ``loadMax``
  (calls over capacity) and DynoScaler's backlog per instance.
- ``mode: ratio``: the Kubernetes HPA form desired = ceil(current x metric / per_unit), where the
  metric is a per-instance average (or the pool's average utilisation).

``tolerance``: when the usage ratio (metric / what the current units should carry) is within
±tolerance of 1.0 the policy proposes the current capacity (HPA's default is 0.1).
With neither ``target`` nor ``utilisation`` the per-unit target is 75 % of ``unit_capacity``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fleetscale.model import Proposal, Snapshot
from fleetscale.policy.context import TIMES, PolicyContext, ceil_units, fmt

DEFAULT_UTILISATION = 0.75


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetPolicy:
    kind: Literal["target"] = "target"
    name: str | None = None
    #: the metric to track (pool total ``load`` by default; any name a source gives)
    metric: str = "load"
    #: metric each unit should carry, absolute (e.g. 40 calls); excludes ``utilisation``
    target: float | None = None
    #: fraction of ``unit_capacity`` each unit should carry (e.g. 0.75); excludes ``target``
    utilisation: float | None = None
    mode: Literal["total", "ratio"] = "total"
    #: hold while the usage ratio is within 1 ± tolerance
    tolerance: float = 0.0

    def __post_init__(self) -> None:
        if self.target is not None and self.utilisation is not None:
            raise ValueError("give either target or utilisation, not both")
        if self.target is not None and not self.target > 0:
            raise ValueError(f"target must be > 0 (got {self.target})")
        if self.utilisation is not None and not 0 < self.utilisation <= 10:
            raise ValueError(f"utilisation must be in (0, 10] (got {self.utilisation})")
        if not 0 <= self.tolerance < 1:
            raise ValueError(f"tolerance must be in [0, 1) (got {self.tolerance})")

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.metric,)

    def per_unit(self, unit_capacity: float) -> tuple[float, str]:
        """The metric one unit should carry, and how to say it."""
        if self.target is not None:
            return self.target, f"target {fmt(self.target)} per unit"
        u = self.utilisation if self.utilisation is not None else DEFAULT_UTILISATION
        return u * unit_capacity, f"{fmt(u)} {TIMES} {fmt(unit_capacity)} per unit"

    def compile(self, unit_capacity: float) -> CompiledTarget:
        per_unit, how = self.per_unit(unit_capacity)
        return CompiledTarget(self.metric, self.mode, self.tolerance, per_unit, how)

    def propose(
        self, snapshot: Snapshot, ctx: PolicyContext, state: object, label: str
    ) -> tuple[Proposal, object]:
        return self.compile(ctx.unit_capacity).propose(snapshot, ctx, state, label)


@dataclass(frozen=True, slots=True)
class CompiledTarget:
    """A ``TargetPolicy`` for one ``unit_capacity``: its per-unit target and text computed."""

    metric: str
    mode: Literal["total", "ratio"]
    tolerance: float
    per_unit: float
    #: how the per-unit target is said in the reason ("0.75 \u00d7 50 per unit")
    how: str

    def propose(
        self, snapshot: Snapshot, ctx: PolicyContext, state: object, label: str
    ) -> tuple[Proposal, object]:
        metric = self.metric
        reading = ctx.reading(metric)
        if reading.total is None:
            return Proposal(label, None, f"no usable {metric} ({reading.problem})"), state
        per_unit, how = self.per_unit, self.how
        current = ctx.current
        if self.mode == "ratio":
            mean = reading.mean if reading.mean is not None else reading.total
            if current <= 0:
                return Proposal(
                    label, None, f"ratio mode cannot scale from 0 units ({metric} {fmt(mean)})"
                ), state
            ratio = mean / per_unit
            raw = ceil_units(current * ratio)
            text = f"{current} {TIMES} {metric} {fmt(mean)} / ({how}) -> {raw} units"
        else:
            total = reading.total
            raw = ceil_units(total / per_unit)
            ratio = total / (current * per_unit) if current > 0 else float("inf")
            text = f"{metric} {fmt(total)} / ({how}) -> {raw} units"
        if self.tolerance and current > 0 and abs(ratio - 1.0) <= self.tolerance and raw != current:
            text += f"; usage ratio {ratio:.2f} within ±{fmt(self.tolerance)} -> keep {current}"
            raw = current
        return Proposal(label, raw, text), state
