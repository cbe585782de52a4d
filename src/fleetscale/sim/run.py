"""The simulator: the controller's own cycle (``controller.PoolRunner``, so ``cycle.step``)
over simulated adapters and a simulated clock. One simulated fleet (``sim.provider``), the
same loop as ``fleetscale run``: nothing here decides anything.

Time. The run advances in steps of the pool's decision ``interval``. Step ``k`` covers
``[k*interval, (k+1)*interval)``; its load is the trace's time-weighted mean over that span
(``resample``). A cycle runs at the start of each step, at ``t = k*interval``, and sees only
what a real controller could know then (honest timing, ``sources/trace.py``): the mean load
of the last *completed* step, ``k-1``; at ``k = 0`` nothing has completed yet and the pool
holds. The pool's instances boot in ``boot_delay`` seconds (ready from the first cycle at or
after), drains end at zero sessions, instances that never boot are removed by the reconciler's
boot timeout. Sessions: without a session model a drained instance's sessions fall to zero
over ``drain_time`` (a drain costs at least one interval); with one (``holding``, see
``sim.sessions``) the fleet carries ``load x sessions_per_load`` sessions, each with its own
holding time, dispatched to the instances in service, and a drained instance stays (paid for)
until its own last session ends (``drain_timeout``, if given, caps the drain). At the start of step
``k`` the sessions move to the load of step ``k - 1``, the step that just ended (none at
``k = 0``): a cycle sees the sessions of the past, never of the future. The row of step ``k``
records ``ready`` (units in service) and ``provisioned`` (units paid for) as the cycle left
them, i.e. during the step.

Start. Every run starts at ``START`` (a Monday 00:00 UTC) with the first step's demand in
service, so no policy pays for a cold start the others do not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from fleetscale.cycle import CycleSpec
from fleetscale.decide import DecisionSpec
from fleetscale.journal.record import CycleRecord
from fleetscale.journal.state_store import MemoryStore
from fleetscale.model import Decision, Instance, InstanceState, InstanceType
from fleetscale.ports import Source
from fleetscale.reconciler import Rules
from fleetscale.runner import PoolRunner
from fleetscale.sim.clock import SimClock
from fleetscale.sim.metrics import Scores, demanded, score
from fleetscale.sim.provider import SimulatedProvider
from fleetscale.sim.sessions import Dispatch, Holding
from fleetscale.sources.trace import Trace, TraceSource
from fleetscale.state import FleetState

START = datetime(2026, 1, 5, tzinfo=UTC)
Array = npt.NDArray[np.float64]
_READY = InstanceState.READY


@dataclass(frozen=True, slots=True)
class FleetSettings:
    """The simulated fleet (what the cloud does, not what the pool decides)."""

    boot_delay: float = 120.0
    drain_time: float = 0.0
    boot_failure_rate: float = 0.0
    boot_timeout: float = 600.0
    seed: int = 0
    #: how long sessions last (None: no session model; drains take ``drain_time``)
    holding: Holding | None = None
    #: how new sessions go to the instances in service (session model only)
    dispatch: Dispatch = "round-robin"
    #: concurrent sessions per unit of load (1 for a load that counts sessions, e.g. calls;
    #: the mean holding time for a load that is a rate of new sessions: Little's law)
    sessions_per_load: float = 1.0
    #: seconds after which a drain's remaining sessions are cut (session model only; None:
    #: wait for the last session, as a pool with ``on_deadline: wait``)
    drain_timeout: float | None = None


@dataclass(frozen=True, slots=True)
class Timeline:
    t: Array
    load: Array
    demanded: npt.NDArray[np.int64]
    ready: npt.NDArray[np.int64]
    provisioned: npt.NDArray[np.int64]
    interval: float
    capacity: float
    price: float = 1.0
    scale_actions: int = 0
    #: the decisions (only when asked for: ``record=True``)
    decisions: tuple[Decision, ...] = field(default=())
    #: the cycles' records (only when asked for: ``record=True``)
    records: tuple[CycleRecord, ...] = field(default=())

    def scores(self) -> Scores:
        return score(self.load, self.demanded, self.ready, self.provisioned, self.interval,
                     self.capacity, scale_actions=self.scale_actions, price=self.price)

    def write_csv(self, path: str) -> None:
        """Every number exactly: ``t_seconds`` and ``load`` read back as the same floats."""
        with open(path, "w", encoding="utf-8") as out:
            out.write("t_seconds,load,demanded,ready,provisioned\n")
            for row in zip(self.t.tolist(), self.load.tolist(), self.demanded.tolist(),
                           self.ready.tolist(), self.provisioned.tolist(), strict=True):
                out.write(f"{_exact(row[0])},{_exact(row[1])},{row[2]},{row[3]},{row[4]}\n")


def _exact(x: float) -> str:
    """A float written so that reading it back gives the same float (integers without ``.0``)."""
    return str(int(x)) if x.is_integer() and abs(x) < 2**53 else repr(x)


def resample(loads: npt.ArrayLike, trace_interval: float, step: float) -> Array:
    """Time-weighted mean of a piecewise-constant series over consecutive ``step`` spans.

    The last partial span is dropped (a run covers whole steps only)."""
    values = np.asarray(loads, dtype=np.float64)
    if math.isclose(step, trace_interval):
        return values.copy()
    duration = trace_interval * len(values)
    n = math.floor(duration / step + 1e-9)
    cum = np.concatenate(([0.0], np.cumsum(values * trace_interval)))
    edges = np.arange(n + 1, dtype=np.float64) * step
    idx = np.minimum((edges // trace_interval).astype(np.int64), len(values) - 1)
    integral = cum[idx] + (edges - idx * trace_interval) * values[idx]
    return np.asarray(np.diff(integral) / step, dtype=np.float64)


def simulate(
    load: Array,
    spec: DecisionSpec,
    types: tuple[InstanceType, ...],
    interval: float,
    fleet: FleetSettings = FleetSettings(),
    *,
    record: bool = False,
    initial: int | None = None,
    at: Sequence[float] | None = None,
) -> Timeline:
    """Run ``spec`` over ``load`` (the mean load of each step of ``interval`` seconds) through
    the controller's cycle against the simulated fleet.

    ``at``: the time (seconds from the start) at which each step's cycle runs, within its step
    (a replay runs its cycles when the recorded ones ran: a real cycle starts a little after its
    tick, which decides, e.g., whether a desire exactly one stabilisation window old is still
    in the window). A cycle late in step ``k`` still sees the load of step ``k - 1``."""
    load = np.asarray(load, dtype=np.float64)
    n = len(load)
    demand = demanded(load, spec.unit_capacity, spec.min)
    first = types[0]
    if initial is None:
        initial = int(demand[0]) if n else spec.min
    initial = min(max(initial, spec.min), spec.max)
    clock = SimClock(START)
    provider = SimulatedProvider(clock, types, pool=spec.pool, boot_delay=fleet.boot_delay,
                                 drain_time=fleet.drain_time, sessions_per_unit=1,
                                 initial=math.ceil(initial / first.weight),
                                 boot_failure_rate=fleet.boot_failure_rate, seed=fleet.seed,
                                 holding=fleet.holding, dispatch=fleet.dispatch,
                                 drain_timeout=fleet.drain_timeout)
    metrics = tuple(dict.fromkeys(m for p in spec.policies for m in getattr(p, "metrics", ()))) or ("load",)
    trace = Trace(interval, tuple(load.tolist()), "simulated load")
    source: Source
    if at is None:
        source = TraceSource(trace, START, metric=metrics[0], metrics=metrics, window=interval, name="trace")
    else:
        if len(at) != n:
            raise ValueError(f"simulate: {len(at)} cycle times for {n} steps")
        at = [min(max(float(t), k * interval), (k + 0.999) * interval) for k, t in enumerate(at)]
        # a cycle anywhere in step k sees the load of step k - 1 (the step that completed last):
        # the trace shifted by one step, read as the row in force (nothing in step 0: it holds)
        source = TraceSource(trace, START + timedelta(seconds=interval), metric=metrics[0], metrics=metrics,
                             value="level", name="trace")
    store = MemoryStore()  # the fleet in service at the start is adopted by the first cycle
    carried = fleet.holding is not None
    sources: list[Source] = [source, provider.sessions_source()] if carried else [source]
    per_load = fleet.sessions_per_load
    runner = PoolRunner(spec.pool, CycleSpec(spec, types, Rules(boot_timeout=fleet.boot_timeout)), interval,
                        sources=sources, provider=provider, drainer=provider.drainer(), journals=(),
                        store=store, clock=clock, run_id="sim", log_cycles=False)
    ready = np.zeros(n, dtype=np.int64)
    paid = np.zeros(n, dtype=np.int64)
    records: list[CycleRecord] = []
    actions = 0
    counted: tuple[Instance, ...] | None = None
    units = (0, 0)
    for k in range(n):
        if at is not None:
            clock.set(START + timedelta(seconds=at[k]))
        if carried and k:
            provider.carry(round(float(load[k - 1]) * per_load))  # the step that just ended
        turn = runner.turn()
        if record:
            records.append(turn.record())
        plan = turn.step.plan
        if plan is not None and not plan.empty:
            actions += 1
        state = runner.state
        if state.instances is not counted:  # the fleet changed: count it again
            counted = state.instances
            units = _units(state)
        ready[k], paid[k] = units
        if at is None:
            clock.advance(interval)
    return Timeline(
        t=np.arange(n, dtype=np.float64) * interval,
        load=load,
        demanded=demand,
        ready=ready,
        provisioned=paid,
        interval=interval,
        capacity=spec.unit_capacity,
        price=first.price,
        scale_actions=actions,
        decisions=tuple(r.decision for r in records if r.decision is not None),
        records=tuple(records),
    )


def _units(state: FleetState) -> tuple[int, int]:
    """(units in service, units paid for) of the fleet as the controller sees it."""
    ready = paid = 0
    for inst in state.instances:
        paid += inst.weight
        if inst.state is _READY:
            ready += inst.weight
    return ready, paid
