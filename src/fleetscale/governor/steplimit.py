"""Rule: step limits per direction (as Kubernetes HPA's behavior policies).

Within any ``step_period`` seconds a direction may change at most
max(``max_step_count``, ceil(``max_step_percent`` % of the capacity at the period's start))
units — with both set the larger wins (HPA ``selectPolicy: Max``); a percent limit allows at
least 1 unit. HPA's scale-up default is the equivalent of count 4, percent 100, period 15 s.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from fleetscale.governor.compiled import CompiledDirection
from fleetscale.governor.settings import DirectionRules


def record(
    changes: tuple[tuple[datetime, int], ...], now: datetime, change: int, keep: timedelta
) -> tuple[tuple[datetime, int], ...]:
    if not keep:
        return ()
    if not changes and not change:
        return changes
    cutoff = now - keep
    kept = [c for c in changes if c[0] > cutoff and c[0] <= now]
    if change:
        kept.append((now, change))
    return tuple(kept)


def allowance(rules: DirectionRules, period_start: int) -> int:
    best = 0
    if rules.max_step_count is not None:
        best = rules.max_step_count
    if rules.max_step_percent is not None:
        best = max(best, 1, math.ceil(period_start * rules.max_step_percent / 100.0 - 1e-9))
    return best


def limit(
    desired: int,
    current: int,
    changes: tuple[tuple[datetime, int], ...],
    now: datetime,
    up: CompiledDirection,
    down: CompiledDirection,
) -> tuple[int, str | None]:
    if desired > current and up.limited:
        cutoff = now - up.period
        used = sum(c for t, c in changes if t > cutoff and c > 0)
        allowed = allowance(up.rules, current - used)
        room = max(0, allowed - used)
        if desired - current > room:
            new = current + room
            return new, (
                f"step limit: up at most {allowed} units per {up.rules.step_period:.0f} s, "
                f"{used} used -> {'hold at' if room == 0 else 'up to'} {new}"
            )
    elif desired < current and down.limited:
        cutoff = now - down.period
        used = -sum(c for t, c in changes if t > cutoff and c < 0)
        allowed = allowance(down.rules, current + used)
        room = max(0, allowed - used)
        if current - desired > room:
            new = current - room
            return new, (
                f"step limit: down at most {allowed} units per {down.rules.step_period:.0f} s, "
                f"{used} used -> {'hold at' if room == 0 else 'down to'} {new}"
            )
    return desired, None
