"""Rules set by the operator: a manual override (hold at N until a time) and a pause per
direction. Both act on the decision after every other rule except the bounds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fleetscale.model import Direction


@dataclass(frozen=True, slots=True)
class Override:
    """Operator's manual override: hold the pool at ``hold`` units until ``until``."""

    hold: int
    until: datetime


def override_active(until: datetime | None, now: datetime) -> bool:
    return until is not None and now < until


def paused(desired: int, current: int, directions: frozenset[Direction]) -> str | None:
    if not directions:
        return None
    if desired > current and Direction.UP in directions:
        return f"paused: scale-up is paused by the operator -> hold at {current}"
    if desired < current and Direction.DOWN in directions:
        return f"paused: scale-down is paused by the operator -> hold at {current}"
    return None
