"""Rule: bounds. The pool's min/max and the schedule's floor/ceiling.

The effective range is [max(min, floor), min(max, ceiling)]; when a floor and a ceiling
cross, the floor wins (more capacity is the safe side), but the pool's ``max`` is absolute.
"""

from __future__ import annotations


def effective(pool_min: int, pool_max: int, floor: int | None, ceiling: int | None) -> tuple[int, int]:
    lo = pool_min if floor is None else max(pool_min, floor)
    hi = pool_max if ceiling is None else min(pool_max, ceiling)
    lo = min(lo, pool_max)
    hi = max(hi, lo)
    return lo, hi


def clamp(desired: int, lo: int, hi: int, lo_text: str, hi_text: str) -> tuple[int, str | None]:
    if desired < lo:
        return lo, f"bounds: {desired} is below the minimum {lo} ({lo_text}) -> {lo}"
    if desired > hi:
        return hi, f"bounds: {desired} is above the maximum {hi} ({hi_text}) -> {hi}"
    return desired, None
