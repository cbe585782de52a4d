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
    observations: tuple[Observation, ...] = ()
    stale_after: float = 300.0

    def reading(self, metric: str) -> Reading:
        """The reading of ``metric``: precomputed for the metrics policies declare (their
        ``metrics``, whose problems also stop scale-down), else read now."""
        found = self.readings.get(metric)
        if found is not None:
            return found
        return read_metric(self.observations, metric, self.now, self.stale_after)


def read_metric(
    observations: tuple[Observation, ...], metric: str, now: datetime, stale_after: float
) -> Reading:
    """See ``_read``; a reading whose timestamps cannot be compared (a naive datetime from a
    faulty source) is a failed read, never an exception."""
    if len(observations) == 1:
        # fast path, the same answer as ``_read``: one good pool-wide reading taken at ``now``
        # (what the simulator passes every step), so it is 0 s old
        o = observations[0]
        if o.metric == metric and o.at is now and o.instance_id is None and o.error is None:
            value = o.value
            if value is not None and 0.0 <= value < _INF and not stale_after < 0.0:
                return Reading(metric, value, value, now, None)
    try:
        return _read(observations, metric, now, stale_after)
    except TypeError as exc:
        return Reading(metric, None, None, None, f"{metric}: unusable timestamps ({exc})")


def _read(
    observations: tuple[Observation, ...], metric: str, now: datetime, stale_after: float
) -> Reading:
    """Aggregate the observations of ``metric``.

    The value is the newest good pool-wide reading; without one, the sum (and mean) of the good
    per-instance readings. Any failed read of the metric in the snapshot (pool-wide or
    per-instance) is a problem, as is a value older than ``stale_after`` seconds: the value may
    still be used to grow the pool, never to shrink it. A value that is not a finite number
    >= 0 (NaN, inf, negative) is garbage: a failed read.
    """
    pool: Observation | None = None
    per_total = 0.0
    per_count = 0
    errors = 0
    oldest: datetime | None = None
    first_error: str | None = None
    for o in observations:
        if o.metric != metric:
            continue
        value = o.value
        if o.error is not None or value is None or not 0.0 <= value < _INF:
            errors += 1
            if first_error is None:
                first_error = o.error or _garbage(value)
        elif o.instance_id is None:
            if pool is None or o.at > pool.at:
                pool = o
        else:
            per_total += value
            per_count += 1
            if oldest is None or o.at < oldest:
                oldest = o.at
    if pool is not None:
        total: float | None = pool.value
        mean: float | None = total
        at: datetime | None = pool.at
    elif per_count:
        total, mean, at = per_total, per_total / per_count, oldest
    else:
        total = mean = at = None
    if errors:
        if total is None:
            return Reading(metric, None, None, None, f"{metric}: read failed ({first_error})")
        count = errors + per_count + (1 if pool is not None else 0)
        return Reading(metric, total, mean, at, f"{metric}: {errors} of {count} reads failed ({first_error})")
    if total is None:
        return Reading(metric, None, None, None, f"{metric}: no reading")
    return Reading(metric, total, mean, at, _staleness(metric, at, now, stale_after))


_INF = math.inf


def _garbage(value: float | None) -> str:
    return "no value" if value is None else f"not a finite number >= 0: {value!r}"


def _staleness(metric: str, at: datetime | None, now: datetime, stale_after: float) -> str | None:
    if at is None:
        return None
    age = (now - at).total_seconds()
    if age > stale_after:
        return f"{metric}: newest reading is {age:.0f} s old (stale after {stale_after:.0f} s)"
    return None


#: a desire this large is "as many as allowed": the governor clamps it to the pool's max
HUGE_UNITS = 10**12


def ceil_units(x: float) -> int:
    """ceil() that forgives float noise (412 / 37.5 is 10.986..., but 30 / 30.000000000000004
    must give 1, not 2). A huge, infinite or undefined quotient (a finite load over a tiny
    target can overflow) is HUGE_UNITS, never an exception: more capacity is the safe side."""
    if not x < HUGE_UNITS:  # also true for inf and nan
        return HUGE_UNITS
    return max(0, math.ceil(x - 1e-9))


def fmt(x: float) -> str:
    """A number for a reason string: 412, 0.75, 37.5, inf."""
    if type(x) is int:
        return str(x)
    if x.is_integer() and -1e15 < x < 1e15:
        return str(int(x))
    return f"{x:.4g}"
