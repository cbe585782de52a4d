"""The service objective (``--slo tau_under=1,unserved=0.1``) and how a run is judged.

``tau_under``: % of time under-provisioned; ``unserved``: % of the load not served. A run
meets the objective when both are at or under their limits; among runs that meet it the
cheapest (instance-hours) wins; a run that misses is ranked by how far it misses (the sum of
its overshoots, each relative to its limit), then by cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fleetscale.errors import ConfigError

KEYS = ("tau_under", "unserved")


@dataclass(frozen=True, slots=True)
class Slo:
    tau_under: float = 1.0
    #: % of load
    unserved: float = 0.1

    def as_dict(self) -> dict[str, float]:
        return {"tau_under": self.tau_under, "unserved": self.unserved}


def parse_slo(text: str) -> Slo:
    """``tau_under=1,unserved=0.1`` (either may be left out: its default stays)."""
    values: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, eq, raw = part.partition("=")
        key = key.strip()
        if not eq or key not in KEYS:
            raise ConfigError(f"--slo: expected KEY=VALUE with KEY one of {', '.join(KEYS)} (got {part!r})")
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"--slo: {key} must be a number in % (got {raw.strip()!r})") from None
        if not value >= 0:
            raise ConfigError(f"--slo: {key} must be >= 0 (got {raw.strip()!r})")
        values[key] = value
    if not values:
        raise ConfigError(f"--slo: give tau_under=% and/or unserved=% (got {text!r})")
    return Slo(**values)


@dataclass(frozen=True, slots=True)
class Figures:
    """What the search reads from a ``sim.report`` body."""

    instance_hours: float
    cost_vs_oracle: float
    tau_under: float
    #: % of load
    unserved: float

    @classmethod
    def of(cls, body: dict[str, Any]) -> Figures:
        return cls(float(body["instance_hours"]), float(body["cost_vs_oracle"]), float(body["tau_under"]),
                   100.0 * float(body["unserved_fraction"]))

    def meets(self, slo: Slo) -> bool:
        return self.tau_under <= slo.tau_under + 1e-12 and self.unserved <= slo.unserved + 1e-12

    def miss(self, slo: Slo) -> float:
        """How far the run misses the objective (0 when it meets it)."""
        over = max(self.tau_under - slo.tau_under, 0.0) / max(slo.tau_under, 1e-3)
        return over + max(self.unserved - slo.unserved, 0.0) / max(slo.unserved, 1e-3)

    def rank(self, slo: Slo) -> tuple[float, float]:
        return (self.miss(slo), self.instance_hours)

    def as_dict(self) -> dict[str, float]:
        return {"instance_hours": self.instance_hours, "cost_vs_oracle": self.cost_vs_oracle,
                "tau_under": self.tau_under, "unserved_percent": self.unserved}
