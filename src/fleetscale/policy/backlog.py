"""Policy ``backlog`` (pure): the backlog per instance a latency objective allows.

AWS's guidance for scaling workers on an SQS queue: *acceptable backlog per instance =
acceptable latency / average processing time per message*. With a latency objective of
120 s and 0.5 s per message, each worker may have 240 messages waiting, so

    desired = ceil(backlog / (latency x rate))        rate = messages per second per instance

The rate is measured from the queue, automatically, from successive readings: when the
backlog falls between two cycles with ``n`` ready instances, ``(before - after) / seconds / n``
is a sample. Arrivals during the interval hide some deletions, so a sample is a lower bound of
the true rate; the estimate is the highest sample of the last ``window`` (the tightest lower
bound). Under-estimating the rate only over-provisions, so the pool errs on the safe side.
Until a first sample exists, ``initial_processing_time`` is assumed; ``processing_time`` fixes
the rate and turns measuring off.

An empty queue proposes 0 (scale to zero when the pool's ``min`` is 0) and the first message
proposes 1 again: ceil(any backlog > 0 / target) >= 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from fleetscale.model import InstanceState, Proposal, Snapshot
from fleetscale.policy.context import TIMES, PolicyContext, ceil_units, fmt


@dataclass(frozen=True, slots=True)
class RateState:
    """What the policy remembers: the previous reading and recent per-instance rate samples."""

    at: datetime | None = None
    backlog: float | None = None
    ready: int = 0
    samples: tuple[float, ...] = ()

    @property
    def rate(self) -> float | None:
        return max(self.samples) if self.samples else None


@dataclass(frozen=True, slots=True, kw_only=True)
class BacklogPolicy:
    kind: Literal["backlog"] = "backlog"
    name: str | None = None
    metric: str = "backlog"
    #: acceptable latency: seconds a message may wait before a worker starts it
    latency: float
    #: seconds one instance needs per message; None = measure it from the queue
    processing_time: float | None = None
    #: assumed until the first measurement
    initial_processing_time: float = 10.0
    #: rate samples kept (the estimate is their maximum)
    window: int = 20
    #: ignore intervals shorter than this (seconds): counts lag, tiny intervals are noise
    min_interval: float = 5.0

    def __post_init__(self) -> None:
        if not self.latency > 0:
            raise ValueError(f"latency must be > 0 seconds (got {self.latency})")
        if self.processing_time is not None and not self.processing_time > 0:
            raise ValueError(f"processing_time must be > 0 seconds (got {self.processing_time})")
        if not self.initial_processing_time > 0:
            raise ValueError(f"initial_processing_time must be > 0 s (got {self.initial_processing_time})")
        if self.window < 1:
            raise ValueError(f"window must be >= 1 (got {self.window})")

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.metric,)

    def measure(self, state: RateState, backlog: float, ready: int, now: datetime) -> RateState:
        """The state after one reading (a new rate sample when the backlog fell)."""
        samples = state.samples
        if state.at is not None and state.backlog is not None and state.ready > 0:
            seconds = (now - state.at).total_seconds()
            drained = state.backlog - backlog
            if seconds >= self.min_interval and drained > 0:
                samples = (*samples, drained / seconds / state.ready)[-self.window:]
        return RateState(now, backlog, ready, samples)

    def compile(self, unit_capacity: float) -> BacklogPolicy:
        """Nothing to precompute: the policy proposes as it is."""
        return self

    def propose(
        self, snapshot: Snapshot, ctx: PolicyContext, state: object, label: str
    ) -> tuple[Proposal, object]:
        st = state if isinstance(state, RateState) else RateState()
        reading = ctx.reading(self.metric)
        if reading.total is None or reading.problem is not None:
            why = reading.problem or "no value"
            return Proposal(label, None, f"no usable {self.metric} ({why}); rate kept"), st
        backlog = reading.total
        ready = snapshot.units(InstanceState.READY)
        at = reading.at or ctx.now
        new = st if self.processing_time is not None else self.measure(st, backlog, ready, at)
        if self.processing_time is not None:
            rate = 1.0 / self.processing_time
            how = f"{fmt(self.processing_time)} s per message (configured)"
        elif new.rate is not None:
            rate = new.rate
            how = f"{fmt(1.0 / rate)} s per message (measured, {len(new.samples)} samples)"
        else:
            rate = 1.0 / self.initial_processing_time
            how = f"{fmt(self.initial_processing_time)} s per message (assumed, not measured yet)"
        per_instance = self.latency * rate
        desired = ceil_units(backlog / per_instance)
        text = (f"{self.metric} {fmt(backlog)} / (latency {fmt(self.latency)} s {TIMES} {how} "
                f"= {fmt(per_instance)} per instance) -> {desired} units")
        return Proposal(label, desired, text), new
