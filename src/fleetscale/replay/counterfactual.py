"""Counterfactual: the pool's recorded load run through ``simulate`` with another policy or
configuration, on the simulated fleet, scored exactly as ``fleetscale simulate`` scores
(``sim.report``, the same oracle), with the pool's recorded figures beside.

The load series. The pool-wide reading of the metric the policies read, as recorded, is what
a cycle saw. The simulator's honest source shows at step ``k`` the load of step ``k - 1``, so
the reading recorded at cycle ``k`` becomes the load of step ``k - 1``: the simulated cycles
see exactly the readings the real ones saw. Cycles are placed on the grid of the pool's
interval (``round((t - t0) / interval)``).

Missing data. A step whose reading is missing (the controller was down, a read failed) has
no load: the series is cut there and each contiguous part is simulated on its own (from the
fleet recorded at its start), the parts' timelines joined for scoring. Nothing is filled in.

Timing. On the pool's own interval the simulated cycles run when the recorded ones ran (each
a little after its tick; ``sim.run.simulate``'s ``at``), which decides ties such as a desire
exactly one stabilisation window old; each still sees only the reading its recorded cycle saw.

The recorded figures (``recorded``): the same scorer on the same steps, with the supply the
pool really had: units in service during step ``k`` = ready units in cycle ``k``'s view less
those it began to drain; units paid for = every unit the next cycle listed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from fleetscale.decide import DecisionSpec
from fleetscale.model import InstanceState, InstanceType
from fleetscale.replay.journal import Recorded
from fleetscale.sim.baselines import named
from fleetscale.sim.metrics import demanded
from fleetscale.sim.run import FleetSettings, Timeline, resample, simulate
from fleetscale.sim.scenario import Outcome, Scenario, oracle_timeline

Array = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
_READY = InstanceState.READY


@dataclass(frozen=True, slots=True)
class History:
    """The recorded cycles on the pool's grid (NaN / -1 where nothing was recorded)."""

    interval: float
    load: Array
    ready: Ints
    provisioned: Ints
    #: when each step's cycle ran, seconds after the first cycle (NaN: none recorded)
    at: Array | None = None

    def parts(self) -> list[slice]:
        """Contiguous steps with a load and a recorded fleet."""
        ok = np.isfinite(self.load) & (self.provisioned >= 0)
        out: list[slice] = []
        start: int | None = None
        for k, good in enumerate([*ok.tolist(), False]):
            if good and start is None:
                start = k
            elif not good and start is not None:
                out.append(slice(start, k))
                start = None
        return out


def metric_of(spec: DecisionSpec) -> str:
    metrics = [m for p in spec.policies for m in getattr(p, "metrics", ())]
    return metrics[0] if metrics else "load"


def history(cycles: Sequence[Recorded], interval: float, metric: str) -> History:
    t0 = cycles[0].at
    slots = [round((c.at - t0).total_seconds() / interval) for c in cycles]
    n = max(slots) + 1 if slots else 0
    load = np.full(n, np.nan)
    ready = np.full(n, -1, dtype=np.int64)
    paid = np.full(n, -1, dtype=np.int64)
    at = np.full(n, np.nan)
    by_slot = dict(zip(slots, cycles, strict=True))
    for k, rec in by_slot.items():
        value = next((o.value for o in rec.observations if o.instance_id is None and o.metric == metric
                      and o.ok and o.value is not None and math.isfinite(o.value) and o.value >= 0), None)
        if value is not None and k >= 1:
            load[k - 1] = value
        drained = set(rec.plan.get("begin_drain", ())) if rec.plan else set()
        at[k] = (rec.at - t0).total_seconds()
        ready[k] = sum(i.weight for i in rec.view if i.state is _READY and i.id not in drained)
        after = by_slot.get(k + 1)
        paid[k] = sum(i.weight for i in (after.view if after is not None else rec.view))
    return History(interval, load, ready, paid, at)


def boot_delay_of(cycles: Sequence[Recorded], interval: float, default: float = 120.0) -> float:
    """The median time from an instance's launch to the first cycle that saw it ready, over
    the instances launched during the recording (``default`` when none was)."""
    if not cycles:
        return default
    seen = {i.id for i in cycles[0].view}
    delays: list[float] = []
    for rec in cycles:
        for inst in rec.view:
            if inst.id in seen or inst.state is not _READY:
                continue
            seen.add(inst.id)
            if inst.launched_at is not None:
                delays.append(max(0.0, rec.at.timestamp() - inst.launched_at.timestamp()))
    if not delays:
        return default
    # the simulated fleet is ready from the first cycle at or after the boot delay
    return max(0.0, float(np.median(delays)) - interval / 2)


def drain_time_of(cycles: Sequence[Recorded], default: float = 0.0) -> float:
    """The median time from a drain's first sighting to the instance leaving the view (drains
    cancelled left out; ``default`` when no drain ended during the recording). The simulated
    fleet's sessions fall to zero over this time."""
    began: dict[str, float] = {}
    spans: list[float] = []
    for rec in cycles:
        if rec.inputs is not None and rec.inputs.listed is None:
            continue  # the pool held blind: nothing left the view
        ids = {i.id for i in rec.view}
        for inst in rec.view:
            if inst.state is InstanceState.DRAINING:
                began.setdefault(inst.id, rec.at.timestamp())
            else:
                began.pop(inst.id, None)  # cancelled (or never draining)
        for iid in [i for i in began if i not in ids]:
            spans.append(rec.at.timestamp() - began.pop(iid))
    return float(np.median(spans)) if spans else default


@dataclass(frozen=True, slots=True)
class SessionFigures:
    """What the journal says of the pool's sessions (``sessions_of``)."""

    #: mean holding time, seconds (Little's law)
    mean_holding: float
    #: concurrent sessions per unit of the load metric
    per_load: float
    #: sessions seen starting
    started: int


def sessions_of(cycles: Sequence[Recorded], metric: str, interval: float) -> SessionFigures | None:
    """The pool's mean session holding time by Little's law, from the per-instance ``sessions``
    readings the journal kept: sessions carried over time (the sum of every instance's count
    times the time to the next cycle) / sessions started (the rises of each instance's count
    between consecutive cycles; the first cycle's sessions were already in progress). Cycles
    more than two ``interval`` apart (a gap) are not paired. Sessions that start and end
    between two cycles are not seen, which only lengthens the estimate.
    None when the journal kept no per-instance sessions or saw none start."""
    readings: list[tuple[float, dict[str, float], float | None]] = []
    for rec in cycles:
        counts: dict[str, float] = {}
        for o in rec.observations:
            if o.metric == "sessions" and o.instance_id is not None and o.ok and o.value is not None \
                    and math.isfinite(o.value) and o.value >= 0:
                counts[o.instance_id] = max(counts.get(o.instance_id, 0.0), o.value)
        load = next((o.value for o in rec.observations if o.instance_id is None and o.metric == metric
                     and o.ok and o.value is not None and math.isfinite(o.value) and o.value >= 0), None)
        if counts or load is not None:
            readings.append((rec.at.timestamp(), counts, load))
    if len(readings) < 2 or not any(r[1] for r in readings):
        return None
    started = 0.0
    carried = 0.0
    sessions_sum = load_sum = 0.0
    for (t, counts, load), (t_next, after, _) in pairwise(readings):
        if t_next - t > 2 * interval:
            continue  # a gap (the controller down, reads failed): nothing known in between
        carried += sum(counts.values()) * (t_next - t)
        started += sum(max(0.0, n - counts.get(iid, 0.0)) for iid, n in after.items())
        if load is not None and counts:
            sessions_sum += sum(counts.values())
            load_sum += load
    if started <= 0 or carried <= 0:
        return None
    return SessionFigures(mean_holding=carried / started,
                          per_load=sessions_sum / load_sum if load_sum > 0 else 1.0, started=int(started))


def _join(parts: Sequence[Timeline], interval: float) -> Timeline:
    first = parts[0]
    n = sum(len(p.t) for p in parts)
    return Timeline(
        t=np.arange(n, dtype=np.float64) * interval,
        load=np.concatenate([p.load for p in parts]),
        demanded=np.concatenate([p.demanded for p in parts]),
        ready=np.concatenate([p.ready for p in parts]),
        provisioned=np.concatenate([p.provisioned for p in parts]),
        interval=interval, capacity=first.capacity, price=first.price,
        scale_actions=sum(p.scale_actions for p in parts),
        decisions=tuple(d for p in parts for d in p.decisions),
        records=tuple(r for p in parts for r in p.records),
    )


@dataclass(frozen=True, slots=True)
class Counterfactual:
    scenario: Scenario
    outcome: Outcome
    oracle: Outcome
    recorded: Timeline
    history: History


def run(hist: History, spec: DecisionSpec, types: tuple[InstanceType, ...], fleet: FleetSettings,
        policy: str | None = None, *, record: bool = False) -> Counterfactual:
    """Simulate ``spec`` (or the named ``policy`` on it) over the recorded load, part by part."""
    began = time.perf_counter()
    parts = hist.parts()
    if not parts:
        from fleetscale.errors import JournalError

        raise JournalError("replay: no recorded step has both a load reading and a fleet")
    interval = hist.interval
    sims: list[Timeline] = []
    oracles: list[Timeline] = []
    recorded: list[Timeline] = []
    whole = np.concatenate([hist.load[p] for p in parts])
    for part in parts:
        load = hist.load[part]
        sc = Scenario(interval, load, spec, types, interval, fleet)
        run_spec, run_interval, initial = spec, interval, int(hist.ready[part.start])
        if policy is not None:
            peak = int(demanded(whole, spec.unit_capacity, spec.min).max())
            chosen = named(policy, unit_capacity=spec.unit_capacity, peak_units=peak, horizon=sc.horizon,
                           pool_interval=interval)
            run_spec, run_interval = chosen.spec(spec), chosen.interval or interval
            initial = chosen.initial if chosen.initial is not None else initial
        times = None  # on the pool's own interval, the cycles run when the recorded ones did
        if hist.at is not None and run_interval == interval:
            times = (hist.at[part] - part.start * interval).tolist()
        sims.append(simulate(resample(load, interval, run_interval), run_spec, types, run_interval, fleet,
                             record=record, initial=initial, at=times))
        oracles.append(oracle_timeline(sc))
        recorded.append(Timeline(
            t=np.arange(len(load), dtype=np.float64) * interval, load=load,
            demanded=demanded(load, spec.unit_capacity, spec.min),
            ready=hist.ready[part] * 1, provisioned=hist.provisioned[part] * 1,
            interval=interval, capacity=spec.unit_capacity, price=types[0].price))
    run_interval = sims[0].interval
    scenario = Scenario(interval, whole, spec, types, interval, fleet)
    wall = time.perf_counter() - began
    return Counterfactual(scenario, Outcome(policy or "configured", _join(sims, run_interval), wall),
                          Outcome("oracle", _join(oracles, interval), 0.0), _join(recorded, interval), hist)
