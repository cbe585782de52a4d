"""Rules set by the operator: a manual override (hold at N until a time) and a pause per
direction. Both act on the decision after every other rule except the bounds."""

from __future__ import annotations

from datetime import datetime


def override_active(until: datetime | None, now: datetime) -> bool:
    return until is not None and now < until


def paused(desired: int, current: int, directions: frozenset[str]) -> str | None:
    if not directions:
        return None
    if desired > current and "up" in directions:
        return f"paused: scale-up is paused by the operator -> hold at {current}"
    if desired < current and "down" in directions:
        return f"paused: scale-down is paused by the operator -> hold at {current}"
    return None
