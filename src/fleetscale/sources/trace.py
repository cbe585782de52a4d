"""Source kind ``trace``: replays a load trace (CSV ``t_seconds,load``) against a clock.

The file has the header ``t_seconds,load``; ``t_seconds`` starts at 0 and steps by one
uniform interval (at most one day); ``load`` is a finite number from 0 to 1e15. The file is
UTF-8 text of at most 128 MiB. ``read_trace`` validates it and raises TraceError naming the
line of the first bad row. Row ``k`` holds for
``[k x interval, (k+1) x interval)`` seconds after the replay's start.

Honest timing: at ``now`` the source shows only what a real one could know at ``now``.

- ``value: rate`` (the default: requests/s, messages/minute): the mean over the last
  *completed* window ``[now - window, now)`` (``window`` defaults to the trace's interval;
  the simulator sets the pool's interval), never the interval that starts at ``now``. Before
  any of the trace has passed there is nothing to show (an error observation: the pool holds).
- ``value: level`` (calls, rooms, backlog: a count at an instant): the row in force at
  ``now``, stamped at or before ``now``.

Example::

    sources:
      - kind: trace
        path: traces/nasa.csv
        scale: 1.0          # multiply every load
        offset: 21600       # start 6 h into the trace
        start: 2026-01-05T00:00:00Z   # clock time of the trace's offset (default: at start-up)
        loop: false         # past the end: an error observation (the pool holds)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat

from fleetscale.errors import TraceError
from fleetscale.model import Observation

HEADER = ("t_seconds", "load")
MAX_BYTES = 128 << 20
#: the largest load a row may hold (and the largest interval between rows, seconds)
LOAD_MAX = 1e15
INTERVAL_MAX = 86400.0


@dataclass(frozen=True, slots=True)
class Trace:
    """A validated trace: ``loads[k]`` holds from ``k x interval`` seconds."""

    interval: float
    loads: tuple[float, ...]
    name: str = "trace"

    @property
    def duration(self) -> float:
        return self.interval * len(self.loads)

    def at(self, seconds: float, loop: bool = False) -> float | None:
        """The load ``seconds`` after the start; None before 0 or past the end (unless looping)."""
        if seconds < 0:
            return None
        k = int(seconds // self.interval)
        if k >= len(self.loads):
            if not loop:
                return None
            k %= len(self.loads)
        return self.loads[k]


def _number(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise TraceError(f"{where}: {what} is not a number (got {text!r})") from None
    if not math.isfinite(value):
        raise TraceError(f"{where}: {what} is not finite (got {text!r})")
    return value


def parse_trace(lines: list[str], name: str = "trace") -> Trace:
    """Validate the lines of a trace file (the header first)."""
    if not lines or tuple(c.strip() for c in lines[0].strip().split(",")) != HEADER:
        got = lines[0].strip() if lines else ""
        raise TraceError(f"{name} line 1: expected the header 't_seconds,load' (got {got!r})")
    times: list[float] = []
    loads: list[float] = []
    interval: float | None = None
    for number, raw in enumerate(lines[1:], start=2):
        line = raw.strip()
        if not line:
            continue
        where = f"{name} line {number}"
        fields = line.split(",")
        if len(fields) != 2:
            raise TraceError(f"{where}: expected 2 fields 't_seconds,load' (got {line!r})")
        t = _number(fields[0], "t_seconds", where)
        load = _number(fields[1], "load", where)
        if load < 0:
            raise TraceError(f"{where}: load is negative (got {fields[1].strip()})")
        if load > LOAD_MAX:
            raise TraceError(f"{where}: load is above {LOAD_MAX:g} (got {fields[1].strip()})")
        if not times:
            if t != 0:
                raise TraceError(f"{where}: the first t_seconds must be 0 (got {fields[0].strip()})")
        else:
            step = t - times[-1]
            if step <= 0:
                raise TraceError(f"{where}: t_seconds must increase (got {fields[0].strip()} after "
                                 f"{times[-1]:g})")
            if interval is None:
                if step > INTERVAL_MAX:
                    raise TraceError(f"{where}: the interval must be at most {INTERVAL_MAX:g} s "
                                     f"(got {step:g} s)")
                interval = step
            elif not math.isclose(step, interval, rel_tol=1e-9, abs_tol=1e-6):
                raise TraceError(f"{where}: non-uniform interval {step:g} s, expected {interval:g} s "
                                 f"(got t_seconds {fields[0].strip()})")
        times.append(t)
        loads.append(load)
    if not loads:
        raise TraceError(f"{name}: no data rows after the header")
    if interval is None:
        raise TraceError(f"{name}: needs at least 2 rows to know its interval")
    return Trace(interval=interval, loads=tuple(loads), name=name)


def read_trace(path: str | Path) -> Trace:
    """Read and validate a trace file. Raises TraceError naming the file and the line."""
    p = Path(path)
    try:
        if p.is_dir():
            raise TraceError(f"{p}: is a directory, expected a trace file")
        with p.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise TraceError(f"{p}: cannot read trace: {exc.strerror}") from None
    except ValueError as exc:  # e.g. a NUL character in the path
        raise TraceError(f"{p}: cannot read trace: {exc}") from None
    if len(raw) > MAX_BYTES:
        raise TraceError(f"{p}: larger than {MAX_BYTES >> 20} MiB")
    if b"\0" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\0")) + 1
        raise TraceError(f"{p}: binary data (a NUL byte at line {line}); expected CSV text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise TraceError(f"{p}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at line {line})") from None
    return parse_trace(text.splitlines(), name=str(p))


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1)
    metric: str = Field(default="load", min_length=1)
    scale: PositiveFloat = Field(default=1.0, le=1e6)
    #: seconds into the trace where the replay starts
    offset: NonNegativeFloat = Field(default=0.0, le=1e9)
    #: clock time at which the replay is at ``offset`` (default: the clock's time at start-up)
    start: AwareDatetime | None = None
    loop: bool = False
    name: str = Field(default="trace", min_length=1)
    #: ``rate``: mean of the last completed window; ``level``: the value in force at ``now``
    value: Literal["rate", "level"] = "rate"
    #: seconds the mean of a rate covers (default: the trace's own interval)
    window: PositiveFloat | None = Field(default=None, le=86400)


class TraceSource:
    def __init__(
        self,
        trace: Trace,
        start: datetime,
        *,
        metric: str = "load",
        scale: float = 1.0,
        offset: float = 0.0,
        loop: bool = False,
        name: str = "trace",
        value: str = "rate",
        window: float | None = None,
        metrics: tuple[str, ...] = (),
    ) -> None:
        self.trace = trace
        self.start = start
        self.metric = metric
        #: every metric the reading is shown under (the simulator shows one trace as each
        #: metric the pool's policies read)
        self.metrics = metrics or (metric,)
        self.scale = scale
        self.offset = offset
        self.loop = loop
        self.name = name
        self.rate = value == "rate"
        self.window = window or trace.interval
        loads = trace.loads
        #: integral of the load from 0 to the start of each row (precomputed once)
        self._cum = [0.0] * (len(loads) + 1)
        for k, v in enumerate(loads):
            self._cum[k + 1] = self._cum[k] + v * trace.interval
        self._aligned = math.isclose(self.window, trace.interval)

    def load_at(self, now: datetime) -> float | None:
        """What the source shows at ``now`` (see the module docstring), or None."""
        elapsed = (now - self.start).total_seconds() + self.offset
        value = self._mean_before(elapsed) if self.rate else self.trace.at(elapsed, self.loop)
        return None if value is None else value * self.scale

    def _mean_before(self, t: float) -> float | None:
        duration = self.trace.duration
        if self.loop and t > duration:
            t = t % duration or duration
        lo = max(0.0, t - self.window)
        if t <= 0 or lo >= duration:
            return None
        interval = self.trace.interval
        if self._aligned:
            k = t / interval
            if abs(k - round(k)) < 1e-9 and round(k) >= 1:
                return self.trace.loads[round(k) - 1]
        hi = min(t, duration)
        return (self._integral(hi) - self._integral(lo)) / (hi - lo)

    def _integral(self, t: float) -> float:
        k = min(int(t // self.trace.interval), len(self.trace.loads) - 1)
        return self._cum[k] + (t - k * self.trace.interval) * self.trace.loads[k]

    def read(self, pool: str, now: datetime) -> list[Observation]:
        value = self.load_at(now)
        if value is None:
            elapsed = (now - self.start).total_seconds() + self.offset
            return [Observation(self.name, m, None, now,
                                error=f"no completed data at {elapsed:.0f} s "
                                      f"(the trace covers 0 to {self.trace.duration:.0f} s)")
                    for m in self.metrics]
        return [Observation(self.name, m, value, now) for m in self.metrics]


def build(settings: Settings, ctx: Any) -> TraceSource:
    return TraceSource(
        read_trace(settings.path),
        settings.start or ctx.clock.now(),
        metric=settings.metric,
        scale=settings.scale,
        offset=settings.offset,
        loop=settings.loop,
        name=settings.name,
        value=settings.value,
        window=settings.window or (float(ctx.pool.interval) if ctx.pool is not None else None),
    )
