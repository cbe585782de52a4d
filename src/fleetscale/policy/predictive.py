"""Policy ``predictive`` (pure): provision ahead for the load expected over the next
``horizon`` seconds (boot delay + interval), learnt from the pool's own history, and never
below what the current load needs (it is always combined with its own reactive part, so a
surprise still gets capacity at once).

How it forecasts (O(1) per cycle, no refitting):

- History is a ring of *bucket peaks*: the highest reading of ``metric`` in each
  ``bucket``-second slot of wall time (5 min by default), ``weeks`` weeks long.
- When a bucket closes, the seasonal shape for the next buckets is looked up: the median
  of the same slot over the last ``weeks`` weeks (weekly seasonality: weekends, office hours)
  when at least two weeks are known, otherwise the median of the same slot over the last
  ``days`` days (daily seasonality). A median of three ignores one holiday or one outlier.
- The shape is scaled to today's level: ``level`` is the ratio of the recent actual peaks to
  what the shape said for them (an exponentially weighted ratio over ``level_window``
  seconds, clipped to [``min_level``, ``max_level``]), so a trace that grows week on week is
  not under-forecast.
- forecast = level x max(shape over the buckets ``[now, now + horizon]``).
- Noise headroom (``volatility`` = z, off by default; with a learnt headroom, only until
  it has ``error_min`` errors): z standard deviations of the reading's
  change over the horizon, ``z * sqrt(v * horizon)``, with ``v`` the exponentially weighted
  squared change per second (over ``volatility_window``). Smooth traffic gets almost none,
  bursty traffic a lot, instead of one fixed utilisation for both.
- Learnt headroom (``error_quantile`` = p, off by default): the policy scores its own
  forecasts. Each cycle's point forecast ``max(forecast, current reading)`` is kept until
  ``horizon`` seconds have passed; its error is then the highest reading that came in over
  those seconds minus the forecast (what the pool would have lacked over the lead time, in
  metric units). The headroom is the p-quantile of the last ``error_window`` errors (never
  below 0; none until ``error_min`` errors are known). A pool learns its own noise, bursts and
  the forecast's own misses: a smooth seasonal pool gets almost none, a spiky one a lot, and
  it follows when the traffic changes kind.
- Errors at a similar load (``error_band`` = r, off by default): each error keeps the *level*
  of the reading its forecast was made at, that reading on a log scale in quarter-octave steps
  over one unit's share (``round(4 log2(max(reading, share) / share))``, one byte: readings
  below one unit's share are level 0), and the quantile is taken over the errors made within
  ``floor(4 log2 r)`` levels of the current reading's (r = 2: 4 levels, a factor 2 either way,
  up to the rounding of both levels) when at least ``error_min`` of them are in the window;
  otherwise over all of them. A quiet night learns from quiet hours and a busy hour from busy
  ones: the errors stay in metric units (no ratio that explodes at low load), they are only
  chosen by load.
- desired = ceil((max(forecast, current reading) + headroom) / per-unit target).
- What one reading teaches is bounded (``Forecaster.learnable``): the state learns at most what
  the pool's max carries over ``min_level``. A reading beyond it (a broken exporter, a unit
  mix-up) still asks for the max this cycle, like any reading the max cannot
  carry, but is remembered as that bound: unbounded, one reading of 1e30 kept the level at
  ``max_level`` (5x the fleet) for two and a half days, and the volatility margin for longer.

The state (``PredictiveState``) lives in ``Memory.policies`` and is replaced, never
mutated: the history array is copied when a bucket closes (once per ``bucket`` seconds);
the error window (a read-only array) is copied when an error comes in. Both arrays hold
float32 (``STORED``: half the memory of float64, most of a replica's at 10,000 pools); every
value read from them is a Python float (exact), and the arithmetic on it is in float64. A
state saved with float64 arrays (before 2026-12) is rebuilt in float32 (``from_saved``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

from fleetscale.model import Proposal, Snapshot
from fleetscale.policy.context import PolicyContext, ceil_units

DEFAULT_UTILISATION = 0.75
#: the dtype of the stored bucket peaks and errors (a reading keeps about 7 significant digits)
STORED = np.float32
_T = TypeVar("_T", bound=np.generic)
_DAY = 86400.0
_WEEK = 7 * _DAY
#: the empty error window (read-only, shared by every state that has scored nothing yet)
_NO_ERRORS: npt.NDArray[np.float32] = np.empty(0, dtype=STORED)
_NO_ERRORS.flags.writeable = False
#: the empty level window (read-only, shared)
_NO_LEVELS: npt.NDArray[np.int8] = np.empty(0, dtype=np.int8)
_NO_LEVELS.flags.writeable = False
#: a reading's level: quarter-octave steps over one unit's share, clipped to one signed byte;
#: -1 for an error whose reading is unknown (saved before the levels were kept)
_STEPS_PER_OCTAVE = 4
_TOP_LEVEL = 127
_UNKNOWN_LEVEL = -1
#: seconds a cycle may come early and still score a forecast ``horizon`` seconds old
_SLACK = 0.5


class PredictiveState(NamedTuple):
    """Never mutated (a NamedTuple: it is rebuilt every cycle, and a tuple is the cheapest
    immutable value to build). ``bucket`` comes first: two states with the same bucket share
    one history array, so comparing them never compares arrays element-wise."""

    #: absolute index (unix seconds // bucket) of the bucket being filled
    bucket: int
    #: highest reading so far in that bucket
    peak: float
    #: ring of bucket peaks (NaN = unknown), indexed by absolute bucket % len (float32: a
    #: 3-week ring of 5-minute buckets, 6,048 slots, is 24 KB per pool)
    history: npt.NDArray[np.float32]
    #: seasonal shape (unscaled) for buckets bucket, bucket+1, ... (NaN = unknown)
    shape: tuple[float, ...]
    #: exponentially weighted actual and shape sums, for the level ratio
    actual_ewma: float = 0.0
    shape_ewma: float = 0.0
    buckets_seen: int = 0
    #: the previous reading and its time (unix seconds), for the volatility
    last_value: float = math.nan
    last_when: float = math.nan
    #: exponentially weighted squared change of the reading per second
    var_rate: float = 0.0
    #: forecasts awaiting their outcome: (made at, point forecast, highest reading since,
    #: reading when made), oldest first (only with ``error_quantile``; a state saved before
    #: the reading was kept has 3-tuples: their reading counts as unknown)
    pending: tuple[tuple[float, ...], ...] = ()
    #: the last ``error_window`` forecast errors in arrival order (read-only; an array, not a
    #: tuple of floats: 2,880 errors are 11.5 KB per pool in float32 instead of about 90 KB)
    errors: npt.NDArray[np.float32] = _NO_ERRORS
    #: the level of the reading each of those errors' forecast was made at (``Forecaster.
    #: load_level``: quarter-octaves over one unit's share, one byte each, 2,880 bytes per pool;
    #: same length and order as ``errors``, read-only; -1 = unknown; only with ``error_band``)
    error_levels: npt.NDArray[np.int8] = _NO_LEVELS

    @classmethod
    def from_saved(cls, *fields: Any) -> PredictiveState:
        """The state rebuilt from its saved fields (``journal.state_codec``), its arrays in
        their current dtype: a state saved with float64 history and errors (before they were
        float32) loads as float32, so a pool keeps its history and learnt errors across the
        upgrade and holds them in half the memory from its first cycle."""
        st = cls(*fields)
        history, errors = st.history, st.errors
        if isinstance(history, np.ndarray) and history.dtype != STORED:
            st = st._replace(history=_stored(history))
        if isinstance(errors, np.ndarray) and errors.dtype != STORED:
            st = st._replace(errors=_stored(errors))
        return st


def _stored(values: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    """A read-only float32 copy of ``values``."""
    out = values.astype(STORED)
    out.flags.writeable = False
    return out


def _joined(old: npt.NDArray[Any], keep: int, new: list[float] | list[int],
            dtype: type[_T]) -> npt.NDArray[_T]:
    """The last ``keep`` values of ``old`` followed by ``new``, in ``dtype``, as a new read-only
    array."""
    with np.errstate(over="ignore"):  # beyond float32's range: inf (the safe side), not a warning
        out = np.concatenate((old[max(0, len(old) - keep):], np.asarray(new, dtype=dtype)), dtype=dtype)
    out.flags.writeable = False
    return out


def _median_of_known(known: list[float]) -> float:
    """The median of ``known`` (floats, no NaN; sorted in place)."""
    known.sort()
    n = len(known)
    if n == 0:
        return math.nan
    mid = n // 2
    return known[mid] if n % 2 else 0.5 * (known[mid - 1] + known[mid])


@dataclass(frozen=True, slots=True, kw_only=True)
class PredictivePolicy:
    kind: Literal["predictive"] = "predictive"
    name: str | None = None
    metric: str = "load"
    #: metric each unit should carry, absolute; excludes ``utilisation``
    target: float | None = None
    #: fraction of ``unit_capacity`` each unit should carry (default 0.75)
    utilisation: float | None = None
    #: seconds ahead to provision for: the boot delay plus the decision interval
    horizon: float = 180.0
    #: seconds per history slot
    bucket: float = 300.0
    days: int = 3
    weeks: int = 3
    #: seconds over which the recent level is averaged
    level_window: float = 3600.0
    min_level: float = 0.2
    max_level: float = 5.0
    #: headroom for noise: this many standard deviations of the load's change over the horizon
    #: (the reading's recent volatility, exponentially weighted over ``volatility_window``); 0 = off
    volatility: float = 0.0
    volatility_window: float = 3600.0
    #: learnt headroom: this quantile of the policy's own recent forecast errors over the
    #: horizon (0 = off); over the last ``error_window`` errors, once ``error_min`` are known
    error_quantile: float = 0.0
    error_window: int = 2880
    error_min: int = 100
    #: learn from the errors made at a similar load: the quantile is taken over the errors
    #: whose forecast was made at a reading within this factor of the current one (e.g. 2:
    #: half to twice), once ``error_min`` of them are known; 0 = over all errors
    error_band: float = 0.0

    def __post_init__(self) -> None:
        if self.target is not None and self.utilisation is not None:
            raise ValueError("give either target or utilisation, not both")
        if self.target is not None and not self.target > 0:
            raise ValueError(f"target must be > 0 (got {self.target})")
        if self.utilisation is not None and not 0 < self.utilisation <= 10:
            raise ValueError(f"utilisation must be in (0, 10] (got {self.utilisation})")
        if self.horizon < 0:
            raise ValueError(f"horizon must be >= 0 seconds (got {self.horizon})")
        if not 60 <= self.bucket <= 3600 or _DAY % self.bucket:
            raise ValueError(f"bucket must divide a day and be 60..3600 s (got {self.bucket})")
        if self.days < 1 or self.weeks < 0 or self.days > 7 * max(self.weeks, 1):
            raise ValueError(f"need 1 <= days <= 7 x weeks (got days {self.days}, weeks {self.weeks})")
        if self.volatility < 0 or self.volatility_window <= 0:
            raise ValueError(f"need volatility >= 0 and volatility_window > 0 (got {self.volatility}, "
                             f"{self.volatility_window})")
        if not 0 <= self.error_quantile < 1:
            raise ValueError(f"error_quantile must be in [0, 1) (got {self.error_quantile})")
        if self.error_band != 0 and not self.error_band > 1:
            raise ValueError(f"error_band must be 0 (off) or > 1 (got {self.error_band})")
        if not 1 <= self.error_min <= self.error_window:
            raise ValueError(f"need 1 <= error_min <= error_window (got {self.error_min}, "
                             f"{self.error_window})")
        if not 0 < self.min_level <= 1 <= self.max_level:
            raise ValueError(f"need 0 < min_level <= 1 <= max_level (got {self.min_level}, {self.max_level})")

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.metric,)

    def per_unit(self, unit_capacity: float) -> tuple[float, str]:
        """The metric one unit should carry, and how to say it."""
        if self.target is not None:
            return self.target, f"target {self.target:.4g} per unit"
        u = self.utilisation if self.utilisation is not None else DEFAULT_UTILISATION
        return u * unit_capacity, f"{u:g} x {unit_capacity:.4g} per unit"

    def compile(self, unit_capacity: float) -> Forecaster:
        per_unit, how = self.per_unit(unit_capacity)
        day = int(_DAY // self.bucket)
        week = day * 7
        return Forecaster(
            spec=self,
            per_unit=per_unit,
            how=how,
            slots=week * max(self.weeks, 1),
            ahead=math.ceil(self.horizon / self.bucket) + 1,
            weekly=tuple(w * week for w in range(1, self.weeks + 1)) if self.weeks >= 2 else (),
            daily=tuple(d * day for d in range(1, self.days + 1)),
            level_keep=math.exp(-self.bucket / self.level_window),
            horizon_text=f"{self.horizon:g}",
            band_levels=(math.floor(_STEPS_PER_OCTAVE * math.log2(self.error_band) + 1e-9)
                         if self.error_band else 0),
        )

    def propose(
        self, snapshot: Snapshot, ctx: PolicyContext, state: object, label: str
    ) -> tuple[Proposal, object]:
        return self.compile(ctx.unit_capacity).propose(snapshot, ctx, state, label)


@dataclass(frozen=True, slots=True, kw_only=True)
class Forecaster:
    """A ``PredictivePolicy`` for one ``unit_capacity``: the seasonal model and the policy,
    with the spec's derived constants computed once."""

    spec: PredictivePolicy
    #: the metric one unit should carry, and how to say it
    per_unit: float
    how: str
    #: ring length (buckets of history), buckets of shape looked up ahead
    slots: int
    ahead: int
    #: how many buckets back the same slot was 1, 2, ... weeks ago (empty: weekly shape off)
    #: and 1, 2, ... days ago
    weekly: tuple[int, ...]
    daily: tuple[int, ...]
    #: the level's exponential weight per bucket: exp(-bucket / level_window)
    level_keep: float
    #: ``f"{horizon:g}"`` for the reason texts
    horizon_text: str
    #: how many levels either way ``error_band`` reaches: floor(4 log2 band) (0 when off)
    band_levels: int = 0

    # --- the seasonal model -----------------------------------------------------------

    def _shape(self, item: Callable[[int], float], n: int, bucket: int) -> float:
        """The seasonal value of absolute ``bucket`` (NaN when unknown) from the history's
        ``item`` (Python floats: the same values, cheaper to compare and sort) and length ``n``:
        the median of the same slot in the last weeks when two are known, else in the last days."""
        if self.weekly:
            known = [v for back in self.weekly if (v := item((bucket - back) % n)) == v]
            if len(known) >= 2:
                return _median_of_known(known)
        return _median_of_known([v for back in self.daily if (v := item((bucket - back) % n)) == v])

    def _close(self, st: PredictiveState, new_bucket: int) -> PredictiveState:
        """Commit the finished bucket, mark skipped ones unknown, look up the next shape."""
        history = st.history.astype(STORED)  # a copy (float32 also if a float64 state came in)
        n = len(history)
        gap = new_bucket - st.bucket
        if gap >= n:
            history[:] = np.nan
        else:
            for b in range(st.bucket + 1, new_bucket):
                history[b % n] = np.nan
        with np.errstate(over="ignore"):  # a peak beyond float32's range is stored as inf
            history[st.bucket % n] = st.peak
        history.flags.writeable = False
        actual_ewma, shape_ewma = st.actual_ewma, st.shape_ewma
        expected = st.shape[0] if st.shape else math.nan
        if expected == expected:
            keep = self.level_keep
            actual_ewma = keep * actual_ewma + (1 - keep) * st.peak
            shape_ewma = keep * shape_ewma + (1 - keep) * expected
        item = history.item
        shape = tuple(self._shape(item, n, new_bucket + i) for i in range(self.ahead))
        return PredictiveState(new_bucket, -math.inf, history, shape, actual_ewma, shape_ewma,
                               st.buckets_seen + 1, st.last_value, st.last_when, st.var_rate,
                               st.pending, st.errors, st.error_levels)

    def learnable(self, top: int) -> float:
        """The most of one reading the state learns: what ``top`` units carry, over
        ``min_level``, so a forecast from it (times a level of at least ``min_level``) still asks
        for ``top`` units. Readings a pool's max cannot serve are not worth learning beyond
        that, and an absurd one (1e30) would otherwise keep the level at ``max_level`` for
        ln(reading / load) level windows."""
        return max(top, 1) * self.per_unit / self.spec.min_level

    def level(self, st: PredictiveState) -> float:
        """Today's level: recent actual peaks over what the shape said for them (clipped)."""
        if st.shape_ewma <= 0:
            return 1.0
        return min(self.spec.max_level, max(self.spec.min_level, st.actual_ewma / st.shape_ewma))

    def observe(self, state: object, when: float, value: float) -> PredictiveState:
        """The state after seeing ``value`` at unix time ``when``."""
        spec = self.spec
        bucket = int(when // spec.bucket)
        if isinstance(state, PredictiveState) and len(state.history) == self.slots:
            st = state
            if bucket > st.bucket:
                st = self._close(st, bucket)
        else:
            empty = np.full(self.slots, np.nan, dtype=STORED)
            empty.flags.writeable = False
            st = PredictiveState(bucket, -math.inf, empty, ())
        (filling, peak, history, shape, actual_ewma, shape_ewma, seen, last_value, last_when, var_rate,
         pending, errors, error_levels) = st
        dt = when - last_when
        if dt > 0:  # False while NaN (first reading)
            keep = math.exp(-dt / spec.volatility_window)
            change = value - last_value
            var_rate = keep * var_rate + (1 - keep) * change * change / dt
        if value > peak:
            peak = value
        if pending:
            pending, errors, error_levels = self._score(pending, errors, error_levels, when, value)
        return PredictiveState(filling, peak, history, shape, actual_ewma, shape_ewma, seen, value, when,
                               var_rate, pending, errors, error_levels)

    def _score(
        self, pending: tuple[tuple[float, ...], ...], errors: npt.NDArray[np.float32],
        error_levels: npt.NDArray[np.int8], when: float, value: float,
    ) -> tuple[tuple[tuple[float, ...], ...], npt.NDArray[np.float32], npt.NDArray[np.int8]]:
        """The reading ``value`` at ``when`` counts towards every earlier forecast still
        waiting; a forecast ``horizon`` seconds old is scored (highest reading since minus the
        forecast) into the error window, with the level of the reading it was made at when
        ``error_band`` is on. Forecasts from the future (the clock went back) are dropped."""
        horizon = self.spec.horizon
        waiting: list[tuple[float, ...]] = []
        new: list[float] = []
        new_levels: list[int] = []
        for entry in pending:
            made, forecast, peak = entry[0], entry[1], entry[2]
            if made >= when:
                continue
            if value > peak:
                peak = value
            if when + _SLACK >= made + horizon:
                new.append(peak - forecast)
                if self.spec.error_band:
                    new_levels.append(self.load_level(entry[3]) if len(entry) > 3 else _UNKNOWN_LEVEL)
            else:
                waiting.append((made, forecast, peak, *entry[3:]))
        if not new:
            return tuple(waiting), errors, error_levels
        window = self.spec.error_window
        keep = max(0, window - len(new))  # the last ``keep`` errors stay (none when keep is 0)
        joined = _joined(errors, keep, new[-window:], STORED)
        if self.spec.error_band:
            if len(error_levels) != len(errors) or error_levels.dtype != np.int8:  # none kept yet
                error_levels = np.full(len(errors), _UNKNOWN_LEVEL, dtype=np.int8)
            error_levels = _joined(error_levels, keep, new_levels[-window:], np.int8)
        return tuple(waiting), joined, error_levels

    def learnt(self, st: PredictiveState) -> float:
        """Learnt headroom: the ``error_quantile`` of the error window (0 while fewer than
        ``error_min`` errors are known; never negative); with ``error_band``, of the errors
        made at a similar reading when ``error_min`` of them are known."""
        found = self._learnt(st)
        return found[0] if found is not None else 0.0

    def _learnt(self, st: PredictiveState) -> tuple[float, str] | None:
        """The learnt headroom and which errors it was learnt from (for the reason), or None
        while fewer than ``error_min`` errors are known (or the learnt headroom is off)."""
        spec = self.spec
        errors = st.errors
        if not spec.error_quantile or len(errors) < spec.error_min:
            return None
        which = f"{len(errors)} errors"
        if spec.error_band and len(st.error_levels) == len(errors) and st.error_levels.dtype == np.int8:
            similar = errors[self.similar(st)]
            if len(similar) >= spec.error_min:
                errors, which = similar, f"{len(similar)} errors at a similar load"
        k = min(len(errors) - 1, int(spec.error_quantile * len(errors)))
        # float32 rounding keeps the order: this is the float32 of the float64 errors' quantile
        return max(0.0, float(np.partition(errors, k)[k])), which

    def load_level(self, reading: float) -> int:
        """The level of ``reading``: quarter-octave steps over one unit's share,
        ``round(4 log2(max(reading, share) / share))`` clipped to 0..127 (a reading at or below
        one unit's share is 0; 127 is 2^31.75 shares; NaN counts as 0)."""
        ratio = reading / self.per_unit
        if not ratio > 1:  # also NaN
            return 0
        return min(_TOP_LEVEL, round(_STEPS_PER_OCTAVE * math.log2(ratio)))

    def similar(self, st: PredictiveState) -> npt.NDArray[np.bool_]:
        """Which errors of the window were made at a reading within ``error_band`` of the
        current one: a level at most ``band_levels`` from the current reading's (unknown never)."""
        now = self.load_level(st.last_value)
        reach = self.band_levels
        levels = st.error_levels
        return (levels >= max(0, now - reach)) & (levels <= min(_TOP_LEVEL, now + reach))

    def headroom(self, st: PredictiveState) -> tuple[float, str]:
        """The headroom over the point forecast and how to say it: the learnt one once
        ``error_min`` errors are known, else the volatility margin (a prior while learning)."""
        found = self._learnt(st)
        if found is not None:
            learnt, which = found
            return learnt, f" + learnt headroom {learnt:.4g} (q{100 * self.spec.error_quantile:g} of {which})"
        pad = self.margin(st)
        return pad, f" + noise {pad:.4g}" if pad else ""

    def expect(self, st: PredictiveState, when: float, base: float, now: float) -> PredictiveState:
        """``st`` waiting for the outcome of the point forecast ``base`` made at ``when`` with
        the reading ``now`` (unchanged when the learnt headroom is off)."""
        if not self.spec.error_quantile:
            return st
        return st._replace(pending=(*st.pending, (when, base, -math.inf, now)))

    def margin(self, st: PredictiveState) -> float:
        """Noise headroom: ``volatility`` standard deviations of the change over the horizon."""
        spec = self.spec
        if not spec.volatility:
            return 0.0
        return spec.volatility * math.sqrt(st.var_rate * spec.horizon)

    def forecast_shape(self, st: PredictiveState, when: float) -> float | None:
        """The highest unscaled shape over ``[when, when + horizon]`` (None while unknown);
        times ``level`` it is the forecast."""
        last = int((when + self.spec.horizon) // self.spec.bucket) - st.bucket
        best = -1.0
        for v in st.shape[: last + 1]:
            if v > best:  # NaN compares False
                best = v
        return None if best < 0 else best

    # --- the policy -------------------------------------------------------------------

    def propose(
        self, snapshot: Snapshot, ctx: PolicyContext, state: object, label: str
    ) -> tuple[Proposal, object]:
        metric = self.spec.metric
        reading = ctx.reading(metric)
        now = reading.total
        if now is None or reading.problem is not None:
            why = reading.problem or "no reading"
            return Proposal(label, None, f"no usable {metric} ({why}); history kept"), state
        when = ctx.now.timestamp()
        st = self.observe(state, when, min(now, self.learnable(ctx.max)))
        per_unit, how = self.per_unit, self.how
        pad, noise = self.headroom(st)
        best = self.forecast_shape(st, when)
        if best is None:
            st = self.expect(st, when, now, now)
            units = ceil_units((now + pad) / per_unit)
            text = f"{metric} {now:.4g}{noise} / ({how}) -> {units} units; no forecast yet"
            return Proposal(label, units, text), st
        level = self.level(st)
        expected = best * level
        if expected > now:
            st = self.expect(st, when, expected, now)
            units = ceil_units((expected + pad) / per_unit)
            text = (f"forecast {metric} {expected:.4g} in next {self.horizon_text} s "
                    f"(level x{level:.2f}){noise} / ({how}) -> {units} units [now {now:.4g}]")
            return Proposal(label, units, text), st
        st = self.expect(st, when, now, now)
        units = ceil_units((now + pad) / per_unit)
        text = (f"{metric} {now:.4g}{noise} / ({how}) -> {units} units "
                f"[forecast {expected:.4g} in next {self.horizon_text} s]")
        return Proposal(label, units, text), st
