"""Rule: stabilisation windows (as Kubernetes HPA's behavior.stabilizationWindowSeconds).

Scale-down goes only as low as the HIGHEST desire seen in the down window; scale-up only as
high as the LOWEST desire in the up window. The window holds the desires after bounds,
this cycle's included.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def record(
    desires: tuple[tuple[datetime, int], ...], now: datetime, desired: int, keep: float
) -> tuple[tuple[datetime, int], ...]:
    """Append this cycle's desire; drop entries older than ``keep`` seconds."""
    if keep <= 0:
        return ((now, desired),)
    cutoff = now - timedelta(seconds=keep)
    kept = [d for d in desires if d[0] >= cutoff and d[0] <= now]
    kept.append((now, desired))
    return tuple(kept)


def stabilise(
    desired: int,
    current: int,
    desires: tuple[tuple[datetime, int], ...],
    now: datetime,
    up_window: float,
    down_window: float,
) -> tuple[int, str | None]:
    if desired < current and down_window > 0:
        cutoff = now - timedelta(seconds=down_window)
        highest = max(d for t, d in desires if t >= cutoff)
        if highest > desired:
            new = min(current, highest)
            verb = "hold" if new == current else f"down only to {new}"
            return new, (
                f"stabilisation: highest desire in the last {down_window:.0f} s is {highest} -> {verb}"
            )
    elif desired > current and up_window > 0:
        cutoff = now - timedelta(seconds=up_window)
        lowest = min(d for t, d in desires if t >= cutoff)
        if lowest < desired:
            new = max(current, lowest)
            verb = "hold" if new == current else f"up only to {new}"
            return new, f"stabilisation: lowest desire in the last {up_window:.0f} s is {lowest} -> {verb}"
    return desired, None
