"""Rule: hysteresis (as dask's adaptive ``wait_count``): act in a direction only after N
consecutive cycles whose policies wanted that direction. The streak restarts after acting."""

from __future__ import annotations


def streaks(raw: int, current: int, up_streak: int, down_streak: int) -> tuple[int, int]:
    """Count this cycle: the direction the policies wanted (after bounds)."""
    if raw > current:
        return up_streak + 1, 0
    if raw < current:
        return 0, down_streak + 1
    return 0, 0


def wait(desired: int, current: int, up_streak: int, down_streak: int, up_n: int, down_n: int) -> str | None:
    """A reason to hold, or None."""
    if desired > current and up_streak < up_n:
        return f"hysteresis: {up_streak} of {up_n} consecutive cycles want up -> hold at {current}"
    if desired < current and down_streak < down_n:
        return f"hysteresis: {down_streak} of {down_n} consecutive cycles want down -> hold at {current}"
    return None
