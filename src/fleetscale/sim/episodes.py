"""Under-provisioned episodes of a timeline, and the windows a reader should look at (pure).

An *episode* is a maximal run of consecutive intervals in which the units in service
(``ready``) are fewer than the units the load demands (``demanded``). Its size is the
shortfall summed over time (``unit_hours``: one unit missing for one hour is 1.0) and its
depth the most units missing at once (``peak_short``). The *worst* episodes are the largest
by ``unit_hours`` (then the deepest, then the earliest), which is what a person on call
would ask about first: the longest, deepest hole in service.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Episode:
    """Intervals ``[start, end)`` (indices into the timeline) with ``ready < demanded``."""

    start: int
    end: int
    #: seconds from the start of the run
    start_s: float
    duration_s: float
    #: the most units missing in one interval
    peak_short: int
    #: units missing summed over the episode, in unit-hours
    unit_hours: float

    @property
    def steps(self) -> int:
        return self.end - self.start


def _short(demanded: npt.ArrayLike, ready: npt.ArrayLike) -> npt.NDArray[np.int64]:
    d = np.asarray(demanded, dtype=np.int64)
    s = np.asarray(ready, dtype=np.int64)
    if d.shape != s.shape or d.ndim != 1:
        raise ValueError(f"demanded and ready must be one-dimensional and of one length "
                         f"(got {d.shape} and {s.shape})")
    return np.asarray(np.maximum(d - s, 0), dtype=np.int64)


def find_episodes(demanded: npt.ArrayLike, ready: npt.ArrayLike, interval: float) -> tuple[Episode, ...]:
    """Every under-provisioned episode, in time order (none when never short)."""
    short = _short(demanded, ready)
    padded = np.concatenate(([False], short > 0, [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    cum = np.concatenate(([0], np.cumsum(short)))
    found = []
    for start, end in zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True):
        found.append(Episode(
            start=start,
            end=end,
            start_s=start * interval,
            duration_s=(end - start) * interval,
            peak_short=int(short[start:end].max()),
            unit_hours=float(cum[end] - cum[start]) * interval / 3600.0,
        ))
    return tuple(found)


def worst_episodes(demanded: npt.ArrayLike, ready: npt.ArrayLike, interval: float,
                   count: int = 5) -> tuple[Episode, ...]:
    """The ``count`` largest episodes by unit-hours short (then deepest, then earliest)."""
    ranked = sorted(find_episodes(demanded, ready, interval),
                    key=lambda e: (-e.unit_hours, -e.peak_short, e.start))
    return tuple(ranked[:max(count, 0)])


def day_window(n: int, interval: float, at: int) -> tuple[int, int]:
    """The indices ``[start, end)`` of the day (24 h from the run's start, which is
    midnight) that holds index ``at``; the whole run when it is shorter than a day."""
    per_day = max(1, math.floor(DAY / interval + 1e-9))
    if n <= per_day:
        return 0, n
    start = (min(max(at, 0), n - 1) // per_day) * per_day
    end = min(start + per_day, n)
    if end - start < per_day:  # a partial last day: show the last 24 h instead
        start = max(0, end - per_day)
    return start, end


def worst_day(demanded: npt.ArrayLike, ready: npt.ArrayLike, interval: float) -> tuple[int, int]:
    """The day of the worst episode; with no episode, the day of the highest demand."""
    worst = worst_episodes(demanded, ready, interval, count=1)
    d = np.asarray(demanded, dtype=np.int64)
    at = worst[0].start if worst else int(np.argmax(d)) if len(d) else 0
    return day_window(len(d), interval, at)


def around(episode: Episode, n: int, interval: float, *, context_s: float = 3600.0,
           least_s: float = 2 * 3600.0) -> tuple[int, int]:
    """Indices ``[start, end)`` of the episode with ``context_s`` either side, widened to at
    least ``least_s`` in all (a one-minute episode still shows its surroundings) and shifted
    to lie within the run's ``n`` intervals where it fits."""
    pad = math.ceil(context_s / interval)
    lo, hi = episode.start - pad, episode.end + pad
    least = math.ceil(least_s / interval)
    if hi - lo < least:
        grow = least - (hi - lo)
        lo -= grow // 2
        hi += grow - grow // 2
    if lo < 0:
        lo, hi = 0, hi - lo
    if hi > n:
        lo, hi = lo - (hi - n), n
    return max(0, lo), hi
