"""Rule: per-direction cooldown: after a change in one direction, no further change in that
direction for ``cooldown`` seconds."""

from __future__ import annotations

from datetime import datetime


def cooling(
    desired: int,
    current: int,
    now: datetime,
    last_up_at: datetime | None,
    last_down_at: datetime | None,
    up_cooldown: float,
    down_cooldown: float,
) -> str | None:
    """A reason to hold, or None."""
    if desired > current and up_cooldown > 0 and last_up_at is not None:
        ago = (now - last_up_at).total_seconds()
        if ago < up_cooldown:
            return f"cooldown: last scale-up {ago:.0f} s ago < {up_cooldown:.0f} s -> hold at {current}"
    elif desired < current and down_cooldown > 0 and last_down_at is not None:
        ago = (now - last_down_at).total_seconds()
        if ago < down_cooldown:
            return f"cooldown: last scale-down {ago:.0f} s ago < {down_cooldown:.0f} s -> hold at {current}"
    return None
