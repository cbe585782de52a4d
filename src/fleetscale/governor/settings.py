"""Governor settings: typed values, validated at the config boundary by pydantic."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectionRules:
    """Rules for one direction (up or down). Durations are seconds.

    - ``hysteresis``: consecutive cycles that must agree before acting (1 = act at once);
      the count restarts after each change in that direction.
    - ``stabilisation``: window over which the most conservative desire is used
      (for down: the highest desire in the window, as Kubernetes HPA does).
    - ``cooldown``: after a change in this direction, no further change in it for this long.
    - ``max_step_count`` / ``max_step_percent``: at most this many units / this percent of the
      current capacity changed per ``step_period`` (None = unlimited; with both set the
      larger wins, as HPA's selectPolicy Max).
    """

    hysteresis: int = 1
    stabilisation: float = 0.0
    cooldown: float = 0.0
    max_step_count: int | None = None
    max_step_percent: float | None = None
    step_period: float = 60.0

    def __post_init__(self) -> None:
        if self.hysteresis < 1:
            raise ValueError(f"hysteresis must be >= 1 cycle (got {self.hysteresis})")
        for name in ("stabilisation", "cooldown"):
            value = getattr(self, name)
            if value < 0:
                raise ValueError(f"{name} must be >= 0 seconds (got {value})")
        if not self.step_period > 0:
            raise ValueError(f"step_period must be > 0 seconds (got {self.step_period})")
        if self.max_step_count is not None and self.max_step_count < 0:
            raise ValueError(f"max_step_count must be >= 0 (got {self.max_step_count})")
        if self.max_step_percent is not None and not self.max_step_percent > 0:
            raise ValueError(f"max_step_percent must be > 0 (got {self.max_step_percent})")


def _down_default() -> DirectionRules:
    return DirectionRules(stabilisation=300.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class GovernorSettings:
    up: DirectionRules = field(default_factory=DirectionRules)
    down: DirectionRules = field(default_factory=_down_default)
    #: an observation older than this (seconds) is stale: the pool does not shrink on it.
    stale_after: float = 300.0

    def __post_init__(self) -> None:
        if not self.stale_after > 0:
            raise ValueError(f"stale_after must be > 0 seconds (got {self.stale_after})")
