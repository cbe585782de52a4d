"""A recorded journal made the real way: the controller's ``PoolRunner`` cycling a simulated
pool (simulated provider and clock, a trace source) with the SQL journal as its sink."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from fleetscale.cycle import CycleSpec
from fleetscale.decide import DecisionSpec
from fleetscale.journal.sql import SqlJournal
from fleetscale.journal.state_store import MemoryStore
from fleetscale.model import InstanceType
from fleetscale.policy.recommended import recommended_governor, recommended_policies
from fleetscale.reconciler import Rules
from fleetscale.runner import PoolRunner
from fleetscale.sim.clock import SimClock
from fleetscale.sim.provider import SimulatedProvider
from fleetscale.sim.run import START
from fleetscale.sources.trace import Trace, TraceSource

TYPES = (InstanceType("default"),)


def wavy(n: int, seed: int = 1, base: float = 20.0) -> list[float]:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return (base + 12 * np.sin(t / 25.0) + rng.normal(0, 2.5, n)).clip(0).round(3).tolist()


def pool_spec(pool: str = "web", capacity: float = 2.0, interval: float = 60.0,
              boot: float = 120.0) -> DecisionSpec:
    return DecisionSpec(pool=pool, min=1, max=60, unit_capacity=capacity,
                        policies=recommended_policies(horizon=boot + interval),
                        governor=recommended_governor())


def record_run(url: str, loads: Sequence[float], *, spec: DecisionSpec | None = None, interval: float = 60.0,
               boot: float = 120.0, down: Sequence[range] = (), restart_at: int | None = None) -> None:
    """Cycle a simulated pool over ``loads`` (one per interval), journaling to ``url``.
    ``down``: step ranges during which no cycle runs (the controller is down); ``restart_at``:
    a new runner (same store) takes over at that step, as after a process restart."""
    spec = spec or pool_spec(interval=interval, boot=boot)
    clock = SimClock(START)
    first = math.ceil(loads[0] / spec.unit_capacity) or 1
    provider = SimulatedProvider(clock, TYPES, pool=spec.pool, boot_delay=boot, sessions_per_unit=1,
                                 initial=first)
    source = TraceSource(Trace(interval, tuple(loads), "recorded"), START, metric="load", window=interval,
                         name="trace")
    journal = SqlJournal(url)
    store = MemoryStore()

    def runner(run_id: str) -> PoolRunner:
        return PoolRunner(spec.pool, CycleSpec(spec, TYPES, Rules()), interval, sources=[source],
                          provider=provider, drainer=provider.drainer(), journals=[journal], store=store,
                          clock=clock, run_id=run_id)

    current = runner("r1")
    skip = {k for r in down for k in r}
    for k in range(len(loads)):
        if k == restart_at:
            current = runner("r2")
        if k not in skip:
            current.cycle()
        clock.advance(interval)
    journal.close()
