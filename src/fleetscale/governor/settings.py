"""Governor settings: typed values, validated at the config boundary by pydantic."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectionRules:
    """Rules for one direction (up or down). Durations are seconds.

    - ``hysteresis``: consecutive cycles that must agree before acting (1 = act at once).
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


def _down_default() -> DirectionRules:
    return DirectionRules(stabilisation=300.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class GovernorSettings:
    up: DirectionRules = field(default_factory=DirectionRules)
    down: DirectionRules = field(default_factory=_down_default)
    #: an observation older than this (seconds) is stale: the pool holds.
    stale_after: float = 300.0
