"""One simulation set-up (a trace, a pool, a fleet) and running any policy over it.

``run_policy(scenario, None)`` runs the pool's own policies; a name from
``sim.baselines.NAMES`` runs that policy set instead (on its own decision period where it has
one: the load is resampled from the trace onto that period's grid, see ``sim.run``; with
``own_period=False`` every named policy decides at the pool's interval instead, for a comparison
at one period); ``"oracle"`` computes the oracle's schedule on the pool's grid (``sim.oracle``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from fleetscale.decide import DecisionSpec
from fleetscale.model import InstanceType
from fleetscale.sim.baselines import named
from fleetscale.sim.metrics import demanded
from fleetscale.sim.oracle import oracle_schedule
from fleetscale.sim.run import FleetSettings, Timeline, resample, simulate

Array = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Scenario:
    trace_interval: float
    #: the trace's loads, one per trace interval (already scaled)
    loads: Array
    spec: DecisionSpec
    types: tuple[InstanceType, ...]
    #: the pool's decision interval (seconds)
    interval: float
    fleet: FleetSettings = field(default_factory=FleetSettings)

    def grid(self, interval: float | None = None) -> Array:
        return resample(self.loads, self.trace_interval, interval or self.interval)

    @property
    def horizon(self) -> float:
        return self.fleet.boot_delay + self.interval


@dataclass(frozen=True, slots=True)
class Outcome:
    name: str
    timeline: Timeline
    wall_seconds: float

    @property
    def steps(self) -> int:
        return len(self.timeline.t)


def oracle_timeline(scenario: Scenario) -> Timeline:
    load = scenario.grid()
    demand = demanded(load, scenario.spec.unit_capacity, scenario.spec.min)
    # the feasible oracle: never more than the pool's max (``sim.oracle``); ``demanded`` stays the
    # whole demand, so the scores show where even foresight cannot serve it
    sched = oracle_schedule(demand, scenario.interval, scenario.fleet.boot_delay, scenario.fleet.drain_time,
                            top=scenario.spec.max)
    weight = scenario.types[0].weight
    return Timeline(
        t=np.arange(len(load), dtype=np.float64) * scenario.interval,
        load=load,
        demanded=demand,
        ready=sched.ready * 1,
        provisioned=sched.provisioned * 1,
        interval=scenario.interval,
        capacity=scenario.spec.unit_capacity,
        price=scenario.types[0].price,
        scale_actions=(sched.launches + sched.releases) // max(weight, 1),
    )


def peak_units(scenario: Scenario) -> int:
    load = scenario.grid()
    return int(demanded(load, scenario.spec.unit_capacity, scenario.spec.min).max())


def run_policy(scenario: Scenario, name: str | None, *, record: bool = False,
               own_period: bool = True) -> Outcome:
    began = time.perf_counter()
    if name == "oracle":
        timeline = oracle_timeline(scenario)
        return Outcome(name, timeline, time.perf_counter() - began)
    spec, interval = scenario.spec, scenario.interval
    chosen_initial: int | None = None
    if name is not None:
        chosen = named(name, unit_capacity=spec.unit_capacity, peak_units=peak_units(scenario),
                       horizon=scenario.horizon, pool_interval=scenario.interval)
        spec = chosen.spec(spec)
        if own_period:
            interval = chosen.interval or interval
        chosen_initial = chosen.initial
    timeline = simulate(scenario.grid(interval), spec, scenario.types, interval, scenario.fleet,
                        record=record,
                        initial=chosen_initial)
    return Outcome(name or "configured", timeline, time.perf_counter() - began)


def capacity_for(loads: Array, trace_interval: float, interval: float, units: int = 40,
                 quantile: float = 99.5) -> float:
    """Load per unit such that the ``quantile`` percentile of the load (on the decision grid)
    needs ``units`` units."""
    grid = resample(loads, trace_interval, interval)
    q = float(np.percentile(grid, quantile))
    if not q > 0:
        q = float(grid.max()) or 1.0
    return q / units

