"""What a policy sees besides the snapshot: the pool's current units, its bounds, and the
readings of the metrics the pool's policies name (read once per cycle, shared)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple

from fleetscale.model import Observation

#: the multiplication sign of reason texts ("0.75 \u00d7 50 per unit")
TIMES = "\u00d7"


class Reading(NamedTuple):
    """One metric as the decision sees it (a NamedTuple: immutable and cheap to build, as the
    simulator builds half a million of them a year).

    ``total`` is the pool-wide value (or the sum of the per-instance values when no source
    gives a pool-wide one); ``mean`` is the per-instance average (equal to ``total`` for a
    pool-wide value). ``problem`` says why the value must not be trusted to shrink the pool
    (missing, failed read, stale); a reading with a problem may still carry a partial value.
    """

    metric: str
    total: float | None
    mean: float | None
    at: datetime | None
    problem: str | None = None

    @property
    def usable(self) -> bool:
        return self.total is not None


class PolicyContext(NamedTuple):
    """``current`` is the pool's capacity in units: ready + pending (booting instances count,
    so a cycle during boot does not launch again), draining ones excluded. ``readings`` holds
    the metrics the pool's policies declared (``metrics``), read once per cycle."""

    now: datetime
    current: int
    unit_capacity: float
    min: int
    max: int
    readings: Mapping[str, Reading]
    pending: int = 0

    def reading(self, metric: str) -> Reading:
        found = self.readings.get(metric)
        return found if found is not None else Reading(metric, None, None, None, "no reading")


def read_metric(
    observations: tuple[Observation, ...], metric: str, now: datetime, stale_after: float
) -> Reading:
    """Aggregate the observations of ``metric``: the newest pool-wide reading wins; without one,
    the per-instance readings are summed (any failed per-instance read marks a problem)."""
    pool: Observation | None = None
    per_total = 0.0
    per_count = 0
    per_errors = 0
    oldest: datetime | None = None
    first_error: str | None = None
    for o in observations:
        if o.metric != metric:
            continue
        if o.instance_id is None:
            if pool is None or o.at > pool.at:
                pool = o
        elif o.error is None and o.value is not None:
            per_total += o.value
            per_count += 1
            if oldest is None or o.at < oldest:
                oldest = o.at
        else:
            per_errors += 1
            if first_error is None:
                first_error = o.error or "no value"
    if pool is not None:
        if pool.error is not None or pool.value is None or not math.isfinite(pool.value):
            why = pool.error or "no value"
            return Reading(metric, None, None, pool.at, f"{metric}: read failed ({why})")
        return Reading(metric, pool.value, pool.value, pool.at, _staleness(metric, pool.at, now, stale_after))
    if per_count == 0:
        if per_errors:
            return Reading(metric, None, None, None, f"{metric}: every read failed ({first_error})")
        return Reading(metric, None, None, None, f"{metric}: no reading")
    problem = _staleness(metric, oldest, now, stale_after)
    if per_errors:
        problem = (
            f"{metric}: {per_errors} of {per_errors + per_count} per-instance reads failed ({first_error})"
        )
    return Reading(metric, per_total, per_total / per_count, oldest, problem)


def _staleness(metric: str, at: datetime | None, now: datetime, stale_after: float) -> str | None:
    if at is None:
        return None
    age = (now - at).total_seconds()
    if age > stale_after:
        return f"{metric}: newest reading is {age:.0f} s old (stale after {stale_after:.0f} s)"
    return None


def ceil_units(x: float) -> int:
    """ceil() that forgives float noise (412 / 37.5 is 10.986..., but 30 / 30.000000000000004
    must give 1, not 2)."""
    return max(0, math.ceil(x - 1e-9))


def fmt(x: float) -> str:
    """A number for a reason string: 412, 0.75, 37.5, inf."""
    if type(x) is int:
        return str(x)
    if x.is_integer() and -1e15 < x < 1e15:
        return str(int(x))
    return f"{x:.4g}"
