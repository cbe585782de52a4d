"""Policy ``schedule`` (pure): time-of-day windows in an IANA time zone.

A window starts at local wall-clock ``start`` ("HH:MM" or "HH:MM:SS") and runs until ``end``,
or, without ``end``, until the next window's start (wrapping around midnight and the week).
``days`` limits it to some days of the week (the day the window starts). Times are local
wall-clock times in ``timezone`` (zoneinfo), so an 08:00 window starts at 08:00 local on both
sides of a DST change. A window may set:

- ``min`` — a floor (the seed's ``unlockedMin``), ``max`` — a ceiling;
- ``utilisation`` (fraction of ``unit_capacity``, the seed's ``loadMax``) or ``target``
  (absolute metric per unit): desired = ceil(metric / per-unit target).

The seed's map is accepted as is in ``auto_scale_threshold``:
``{"08:00:00": {"unlockedMin": 10, "loadMax": 0.75}}`` — each key starts a window that runs
until the next key. When windows overlap, the safest value of each wins (highest floor,
lowest ceiling, lowest per-unit target).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fleetscale.model import Proposal, Snapshot
from fleetscale.policy.context import TIMES, PolicyContext, ceil_units, fmt

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY = 86400
_WEEK = 7 * _DAY


def parse_clock(text: str, *, allow_24: bool = False) -> int:
    """ "HH:MM" or "HH:MM:SS" -> seconds after midnight."""
    parts = text.split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        h, m = int(parts[0]), int(parts[1])
        s = int(parts[2]) if len(parts) == 3 else 0
    except ValueError:
        raise ValueError(f"time must be HH:MM or HH:MM:SS (got {text!r})") from None
    total = h * 3600 + m * 60 + s
    if not (0 <= m < 60 and 0 <= s < 60 and (0 <= h < 24 or (allow_24 and total == _DAY))):
        raise ValueError(f"time must be between 00:00 and 23:59:59 (got {text!r})")
    return total


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    start: str
    #: None = until the next window starts; "24:00" = until midnight
    end: str | None = None
    #: empty = every day
    days: tuple[Day, ...] = ()
    min: int | None = None
    max: int | None = None
    utilisation: float | None = None
    target: float | None = None

    def __post_init__(self) -> None:
        start = parse_clock(self.start)
        if self.end is not None and parse_clock(self.end, allow_24=True) == start:
            raise ValueError(f"end must differ from start (got {self.end!r})")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        if self.utilisation is not None and self.target is not None:
            raise ValueError("give either utilisation or target, not both")
        if self.utilisation is not None and not 0 < self.utilisation <= 10:
            raise ValueError(f"utilisation must be in (0, 10] (got {self.utilisation})")
        if self.target is not None and not self.target > 0:
            raise ValueError(f"target must be > 0 (got {self.target})")
        if (self.min is not None and self.min < 0) or (self.max is not None and self.max < 0):
            raise ValueError("min and max must be >= 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold:
    """One entry of the seed's ``auto_scale_threshold`` map (its own key names)."""

    unlockedMin: int | None = None
    loadMax: float | None = None

    def __post_init__(self) -> None:
        if self.loadMax is not None and not 0 < self.loadMax <= 10:
            raise ValueError(f"loadMax must be in (0, 10] (got {self.loadMax})")
        if self.unlockedMin is not None and self.unlockedMin < 0:
            raise ValueError(f"unlockedMin must be >= 0 (got {self.unlockedMin})")


@dataclass(frozen=True, slots=True)
class _Segment:
    """One window on one day, in seconds after Monday 00:00 local (end may pass the week)."""

    start: int
    end: int
    label: str
    floor: int | None
    ceiling: int | None
    utilisation: float | None
    target: float | None
    seed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SchedulePolicy:
    kind: Literal["schedule"] = "schedule"
    name: str | None = None
    #: IANA time zone of the window times, e.g. "Europe/Paris"
    timezone: str = "UTC"
    metric: str = "load"
    windows: tuple[Window, ...] = ()
    #: the seed gateway Scaler's map, accepted as is
    auto_scale_threshold: Mapping[str, Threshold] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone: unknown IANA time zone (got {self.timezone!r})") from None
        for key in self.auto_scale_threshold:
            parse_clock(key)
        if not self.windows and not self.auto_scale_threshold:
            raise ValueError("give windows and/or auto_scale_threshold")

    @property
    def metrics(self) -> tuple[str, ...]:
        if any(w.utilisation is not None or w.target is not None for w in self.windows) or any(
            t.loadMax is not None for t in self.auto_scale_threshold.values()
        ):
            return (self.metric,)
        return ()

    def compile(self, unit_capacity: float) -> CompiledSchedule:
        """The weekly timeline: the sorted boundaries (seconds after Monday 00:00 local) and
        what holds from each to the next, with each span's per-unit target for
        ``unit_capacity`` chosen."""
        segments = _build(self)
        points = sorted({0} | {s.start for s in segments} | {s.end % _WEEK for s in segments})
        spans = tuple(_span(segments, t, unit_capacity) for t in points)
        return CompiledSchedule(self.metric, self.timezone, ZoneInfo(self.timezone), tuple(points), spans)

    def propose(
        self, snapshot: Snapshot, ctx: PolicyContext, state: object, label: str
    ) -> tuple[Proposal, object]:
        return self.compile(ctx.unit_capacity).propose(snapshot, ctx, state, label)


class _Span(NamedTuple):
    """What holds between two consecutive window boundaries of the week."""

    active: bool
    floor: int | None
    ceiling: int | None
    #: "floor ... (08:00 window); ceiling ..." or ""
    bounds: str
    #: the per-unit target of the active window with the lowest one (None: no window sets one)
    per_unit: float | None
    #: how that target is said in the reason, and which window it comes from (when that is
    #: not the window that sets the floor)
    how: str
    window: str


@dataclass(frozen=True, slots=True)
class CompiledSchedule:
    """A ``SchedulePolicy`` for one ``unit_capacity``: its week as spans between boundaries."""

    metric: str
    timezone: str
    tz: ZoneInfo
    points: tuple[int, ...]
    spans: tuple[_Span, ...]

    def propose(
        self, snapshot: Snapshot, ctx: PolicyContext, state: object, label: str
    ) -> tuple[Proposal, object]:
        local = ctx.now.astimezone(self.tz)
        t = local.weekday() * _DAY + local.hour * 3600 + local.minute * 60 + local.second
        span = self.spans[bisect_right(self.points, t) - 1]
        if not span.active:
            return Proposal(label, None, f"no schedule window at {local:%a %H:%M} {self.timezone}"), state
        floor, ceiling, bounds, per_unit = span.floor, span.ceiling, span.bounds, span.per_unit
        if per_unit is None:
            return Proposal(label, None, bounds, floor, ceiling), state
        reading = ctx.reading(self.metric)
        if reading.total is None:
            text = f"no usable {self.metric} ({reading.problem})"
            return Proposal(label, None, f"{text}; {bounds}" if bounds else text, floor, ceiling), state
        desired = ceil_units(reading.total / per_unit)
        text = f"{self.metric} {fmt(reading.total)} / ({span.how}) -> {desired} units{span.window}"
        if bounds:
            text += f"; {bounds}"
        return Proposal(label, desired, text, floor, ceiling), state


def _per_unit(s: _Segment, unit_capacity: float) -> float:
    if s.utilisation is not None:
        return s.utilisation * unit_capacity
    assert s.target is not None  # a candidate sets one of the two
    return s.target


def _span(segments: tuple[_Segment, ...], t: int, unit_capacity: float) -> _Span:
    active = [s for s in segments if s.start <= t < s.end or s.start <= t + _WEEK < s.end]
    floor_seg: _Segment | None = None
    ceiling_seg: _Segment | None = None
    floor: int | None = None
    ceiling: int | None = None
    for s in active:
        if s.floor is not None and (floor is None or s.floor > floor):
            floor_seg, floor = s, s.floor
        if s.ceiling is not None and (ceiling is None or s.ceiling < ceiling):
            ceiling_seg, ceiling = s, s.ceiling
    texts = []
    if floor_seg is not None:
        word = "unlockedMin" if floor_seg.seed else "min"
        texts.append(f"floor {word} {floor} ({floor_seg.label} window)")
    if ceiling_seg is not None:
        texts.append(f"ceiling max {ceiling} ({ceiling_seg.label} window)")
    bounds = "; ".join(texts)
    candidates = [s for s in active if s.utilisation is not None or s.target is not None]
    if not candidates:
        return _Span(bool(active), floor, ceiling, bounds, None, "", "")
    best = candidates[0]
    best_per_unit = _per_unit(best, unit_capacity)
    for s in candidates[1:]:
        per_unit = _per_unit(s, unit_capacity)
        if per_unit < best_per_unit:
            best, best_per_unit = s, per_unit
    if best.utilisation is not None:
        word = "loadMax" if best.seed else "utilisation"
        how = f"{word} {fmt(best.utilisation)} {TIMES} {fmt(unit_capacity)} per unit"
    else:
        how = f"target {fmt(best_per_unit)} per unit"
    window = "" if best is floor_seg else f" ({best.label} window)"
    return _Span(True, floor, ceiling, bounds, best_per_unit, how, window)


def _build(spec: SchedulePolicy) -> tuple[_Segment, ...]:
    raw: list[tuple[int, int | None, str, int | None, int | None, float | None, float | None, bool]] = []
    for w in spec.windows:
        start = parse_clock(w.start)
        length = None
        if w.end is not None:
            length = (parse_clock(w.end, allow_24=True) - start) % _DAY or _DAY
        for d, day in enumerate(DAYS):
            if not w.days or day in w.days:
                raw.append(
                    (d * _DAY + start, length, _label(w.start), w.min, w.max, w.utilisation, w.target, False)
                )
    for key, th in spec.auto_scale_threshold.items():
        start = parse_clock(key)
        for d in range(7):
            raw.append((d * _DAY + start, None, _label(key), th.unlockedMin, None, th.loadMax, None, True))
    starts = sorted({r[0] for r in raw})
    segments = []
    for begin, length, text, lo, hi, util, target, seed in raw:
        if length is not None:
            end = begin + length
        else:
            later = [s for s in starts if s > begin]
            end = later[0] if later else starts[0] + _WEEK
        segments.append(_Segment(begin, end, text, lo, hi, util, target, seed))
    return tuple(sorted(segments, key=lambda s: s.start))


def _label(text: str) -> str:
    """ "08:00:00" -> "08:00" (seconds only when they matter)."""
    return text[:5] if len(text) == 8 and text.endswith(":00") else text
