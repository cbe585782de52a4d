"""Rule: hysteresis (as dask's adaptive ``wait_count``): act in a direction only after N
consecutive cycles whose policies wanted that direction. The streak restarts after acting.

Streaks count scheduled cycles only. An extra cycle (a source reported a change between two
scheduled cycles) neither advances nor resets them, and passes this rule only when it asks
for a single cycle (no history needed: act on what is seen now) or when the scheduled cycles
have already met it (another rule, such as a cooldown, held them). So extra cycles never make a
pool move after fewer scheduled cycles than configured."""

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


def wait_extra(
    desired: int, current: int, up_streak: int, down_streak: int, up_n: int, down_n: int
) -> str | None:
    """On an extra cycle: a reason to hold, or None. ``up_streak``/``down_streak`` are the
    scheduled cycles' streaks, not advanced by this cycle."""
    if desired > current and up_n > 1 and up_streak < up_n:
        return (f"hysteresis: extra cycle; {up_streak} of {up_n} consecutive scheduled cycles "
                f"want up -> hold at {current}")
    if desired < current and down_n > 1 and down_streak < down_n:
        return (f"hysteresis: extra cycle; {down_streak} of {down_n} consecutive scheduled cycles "
                f"want down -> hold at {current}")
    return None
