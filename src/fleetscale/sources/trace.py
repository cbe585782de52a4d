"""Source kind ``trace``: replays a load trace (CSV ``t_seconds,load``) against a clock.

The file has the header ``t_seconds,load``; ``t_seconds`` starts at 0 and steps by one
uniform interval; ``load`` is a non-negative number. ``read_trace`` validates it and raises
TraceError naming the line of the first bad row. Row ``k`` holds for
``[k x interval, (k+1) x interval)`` seconds after the replay's start.

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
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat

from fleetscale.errors import TraceError
from fleetscale.model import Observation

HEADER = ("t_seconds", "load")


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
        if not times:
            if t != 0:
                raise TraceError(f"{where}: the first t_seconds must be 0 (got {fields[0].strip()})")
        else:
            step = t - times[-1]
            if step <= 0:
                raise TraceError(f"{where}: t_seconds must increase (got {fields[0].strip()} after "
                                 f"{times[-1]:g})")
            if interval is None:
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
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"{p}: cannot read trace: {exc}") from None
    return parse_trace(text.splitlines(), name=str(p))


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1)
    metric: str = Field(default="load", min_length=1)
    scale: PositiveFloat = 1.0
    #: seconds into the trace where the replay starts
    offset: NonNegativeFloat = 0.0
    #: clock time at which the replay is at ``offset`` (default: the clock's time at start-up)
    start: AwareDatetime | None = None
    loop: bool = False
    name: str = "trace"


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
    ) -> None:
        self.trace = trace
        self.start = start
        self.metric = metric
        self.scale = scale
        self.offset = offset
        self.loop = loop
        self.name = name

    def load_at(self, now: datetime) -> float | None:
        value = self.trace.at((now - self.start).total_seconds() + self.offset, self.loop)
        return None if value is None else value * self.scale

    def read(self, pool: str, now: datetime) -> list[Observation]:
        value = self.load_at(now)
        if value is None:
            elapsed = (now - self.start).total_seconds() + self.offset
            return [Observation(self.name, self.metric, None, now,
                                error=f"trace {self.trace.name} has no data at {elapsed:.0f} s "
                                      f"(it covers 0 to {self.trace.duration:.0f} s)")]
        return [Observation(self.name, self.metric, value, now)]


def build(settings: Settings, ctx: Any) -> TraceSource:
    return TraceSource(
        read_trace(settings.path),
        settings.start or ctx.clock.now(),
        metric=settings.metric,
        scale=settings.scale,
        offset=settings.offset,
        loop=settings.loop,
        name=settings.name,
    )
