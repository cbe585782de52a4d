"""The simulation harness: replays a load series through ``fleetscale.core.think`` (the
same decision code path as ``fleetscale run``) against a simulated fleet (``sim.world``).

Time. The run advances in steps of the pool's decision ``interval``. Step ``k`` covers
``[k*interval, (k+1)*interval)``; its load is the trace's time-weighted mean over that span
(``resample``): a trace coarser than the interval is held constant within its rows (HPA's
15 s period on a 5-minute trace sees the same value 20 times), a finer one is averaged (a 1 s
trace under a 60 s interval gives per-minute means). At the start of step ``k`` the harness
applies the fleet's due events (boots done, drains over), shows the decision the load of step
``k`` (one pool-wide observation of the step's load, current, under each metric the
policies name: ``load``, or ``backlog``/``calls`` for a configured pool that tracks those),
applies the plan, ends the drains that are over (after acting, as the controller's reconciler
does), and records the row:
``ready`` and ``provisioned`` are the units in service and paid for *after* that step's plan,
i.e. during the step. Booting takes ``ceil(boot_delay / interval)`` steps at most.

Start. Every run starts at ``START`` (a Monday 00:00 UTC) with the first step's demand in
service, so no policy pays for a cold start the others do not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from fleetscale.core import think
from fleetscale.decide import DecisionSpec, Memory, compile_spec
from fleetscale.model import Decision, InstanceType, Observation, Snapshot
from fleetscale.sim.metrics import Scores, demanded, score
from fleetscale.sim.world import World

START = datetime(2026, 1, 5, tzinfo=UTC)
Array = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class FleetSettings:
    """The simulated fleet (what the cloud does, not what the pool decides)."""

    boot_delay: float = 120.0
    drain_time: float = 0.0
    boot_failure_rate: float = 0.0
    boot_timeout: float = 600.0
    seed: int = 0


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

    def scores(self) -> Scores:
        return score(self.load, self.demanded, self.ready, self.provisioned, self.interval,
                     self.capacity, scale_actions=self.scale_actions, price=self.price)

    def write_csv(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as out:
            out.write("t_seconds,load,demanded,ready,provisioned\n")
            for row in zip(self.t.tolist(), self.load.tolist(), self.demanded.tolist(),
                           self.ready.tolist(), self.provisioned.tolist(), strict=True):
                out.write(f"{row[0]:g},{row[1]:.6g},{row[2]},{row[3]},{row[4]}\n")


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
    return np.diff(integral) / step


def simulate(
    load: Array,
    spec: DecisionSpec,
    types: tuple[InstanceType, ...],
    interval: float,
    fleet: FleetSettings = FleetSettings(),
    *,
    record: bool = False,
    initial: int | None = None,
) -> Timeline:
    """Run ``spec`` over ``load`` (one value per step of ``interval`` seconds)."""
    load = np.asarray(load, dtype=np.float64)
    n = len(load)
    demand = demanded(load, spec.unit_capacity, spec.min)
    first = types[0]
    world = World(types, boot_delay=fleet.boot_delay, drain_time=fleet.drain_time,
                  boot_failure_rate=fleet.boot_failure_rate, boot_timeout=fleet.boot_timeout,
                  seed=fleet.seed)
    if initial is None:
        initial = int(demand[0]) if n else spec.min
    initial = min(max(initial, spec.min), spec.max)
    world.seed_ready(first.name, math.ceil(initial / first.weight), START)
    ready: list[int] = [0] * n
    paid: list[int] = [0] * n
    memory = Memory()
    compiled = compile_spec(spec)
    pool = spec.pool
    actions = 0
    decisions: list[Decision] = []
    values = load.tolist()
    # the trace is the reading of every metric the policies name (``load`` by default)
    metrics = tuple(dict.fromkeys(m for p in spec.policies for m in getattr(p, "metrics", ()))) or ("load",)
    single = metrics[0] if len(metrics) == 1 else None
    step = timedelta(seconds=interval)
    at = START
    advance, finish, instances = world.advance, world.finish_drains, world.instances
    for k in range(n):
        t = k * interval
        advance(t)
        value = values[k]
        if single is not None:
            obs: tuple[Observation, ...] = (Observation("trace", single, value, at),)
        else:
            obs = tuple(Observation("trace", m, value, at) for m in metrics)
        verdict, plan = think(Snapshot(pool, at, instances(), obs), compiled, memory, types, f"{pool}-{k}")
        memory = verdict.memory
        if record:
            decisions.append(verdict.decision)
        if not plan.empty:
            world.apply(plan, t, at)
            actions += 1
        finish(t)
        ready[k] = world.ready_units
        paid[k] = world.paid_units
        at += step
    return Timeline(
        t=np.arange(n, dtype=np.float64) * interval,
        load=load,
        demanded=demand,
        ready=np.asarray(ready, dtype=np.int64),
        provisioned=np.asarray(paid, dtype=np.int64),
        interval=interval,
        capacity=spec.unit_capacity,
        price=first.price,
        scale_actions=actions,
        decisions=tuple(decisions),
    )
