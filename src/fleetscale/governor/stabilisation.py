"""Rule: stabilisation windows (as Kubernetes HPA's behavior.stabilizationWindowSeconds).

Scale-down goes only as low as the HIGHEST desire seen in the down window; scale-up only as
high as the LOWEST desire in the up window. The window holds the desires after bounds,
this cycle's included. Windows come compiled (``governor/compiled.py``) as ``timedelta``.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def record(
    desires: tuple[tuple[datetime, int], ...], now: datetime, desired: int, keep: timedelta
) -> tuple[tuple[datetime, int], ...]:
    """Append this cycle's desire; drop entries older than ``keep`` (and any from the future,
    should time go backwards, as when a simulation restarts)."""
    if not keep:
        return ()
    if not desires:
        return ((now, desired),)
    if desires[-1][0] > now:
        desires = tuple(d for d in desires if d[0] <= now)
    cutoff = now - keep
    i = 0
    n = len(desires)
    while i < n and desires[i][0] < cutoff:
        i += 1
    return (*desires[i:], (now, desired))


def stabilise(
    desired: int,
    current: int,
    desires: tuple[tuple[datetime, int], ...],
    now: datetime,
    up_window: timedelta,
    down_window: timedelta,
    since: datetime | None = None,
) -> tuple[int, str | None]:
    """``since``: when this memory started (None = long ago). Until a whole down window has
    been seen, there is no evidence the desire stayed low: scale-down waits (a restart
    without a checkpoint must not shrink the pool on its first reading)."""
    if desired < current and down_window:
        cutoff = now - down_window
        if since is not None and since > cutoff:
            seen = (now - since).total_seconds()
            return current, (
                f"stabilisation: only {seen:.0f} s of history "
                f"(< {down_window.total_seconds():.0f} s window) -> hold at {current}"
            )
        seen_desires = [d for t, d in desires if t >= cutoff]
        highest = max(seen_desires) if seen_desires else desired
        if highest > desired:
            new = min(current, highest)
            verb = "hold" if new == current else f"down only to {new}"
            return new, (
                f"stabilisation: highest desire in the last {down_window.total_seconds():.0f} s "
                f"is {highest} -> {verb}"
            )
    elif desired > current and up_window:
        cutoff = now - up_window
        seen_desires = [d for t, d in desires if t >= cutoff]
        lowest = min(seen_desires) if seen_desires else desired
        if lowest < desired:
            new = max(current, lowest)
            verb = "hold" if new == current else f"up only to {new}"
            return new, (
                f"stabilisation: lowest desire in the last {up_window.total_seconds():.0f} s "
                f"is {lowest} -> {verb}"
            )
    return desired, None
