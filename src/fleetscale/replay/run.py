"""One replay: read the journal, reproduce the recorded decisions, find the missing data,
simulate the recorded load, and put it all in one report (``sim.report``'s keys at the top
level, so a replay report reads like a ``simulate`` report)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa

from fleetscale.cycle import CycleSpec
from fleetscale.errors import ConfigError, JournalError
from fleetscale.replay import counterfactual as cf
from fleetscale.replay import gaps
from fleetscale.replay.journal import Recorded, load
from fleetscale.replay.reproduce import Reproduction, reproduce
from fleetscale.sim import report
from fleetscale.sim.run import FleetSettings
from fleetscale.sim.sessions import Holding


@dataclass(frozen=True, slots=True)
class Replay:
    body: dict[str, Any]
    reproduction: Reproduction
    counterfactual: cf.Counterfactual


def recorded_setup(cycles: Sequence[Recorded]) -> tuple[CycleSpec, float] | None:
    """The pool's configuration and interval as last recorded in ``cycles``."""
    for rec in reversed(cycles):
        ri = rec.inputs
        if ri is not None and isinstance(ri.spec, CycleSpec) and ri.interval:
            return ri.spec, ri.interval
    return None


def _spacing(cycles: Sequence[Recorded]) -> float:
    if len(cycles) < 2:
        return 60.0
    diffs = np.diff([c.at.timestamp() for c in cycles])
    return float(np.median(diffs))


def _configured(path: str, pool: str, name: str) -> tuple[CycleSpec, float, FleetSettings | None]:
    from fleetscale import config
    from fleetscale.app import cycle_spec

    cfg = config.load(path).config.pool(pool)
    spec = cycle_spec(cfg)
    spec = replace(spec, decision=replace(spec.decision, pool=name))
    fleet = None
    if cfg.provider.kind == "simulated":
        opts = cfg.provider.options
        fleet = FleetSettings(boot_delay=float(opts.get("boot_delay", 120.0)),
                              drain_time=float(opts.get("drain_time", 0.0)))
    return spec, cfg.interval, fleet


def _recorded_fleet(cycles: Sequence[Recorded], spec: CycleSpec, interval: float) -> FleetSettings:
    """The simulated fleet as the journal shows the real one: boot delay and drain time
    measured; when the journal kept each instance's sessions, a session model with the pool's
    mean holding time (Little's law; exponential: the distribution is not measured) and its own
    drain deadline as the cap (only under ``on_deadline: terminate``; otherwise drains wait for
    the last session, as the pool's did)."""
    sessions = cf.sessions_of(cycles, cf.metric_of(spec.decision), interval)
    rules = spec.rules
    return FleetSettings(
        boot_delay=cf.boot_delay_of(cycles, interval),
        drain_time=cf.drain_time_of(cycles),
        holding=Holding(sessions.mean_holding) if sessions is not None else None,
        sessions_per_load=sessions.per_load if sessions is not None else 1.0,
        drain_timeout=rules.drain_deadline if rules.on_deadline == "terminate" else None,
    )


def _safe(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(journal)"


def replay(url: str, pool: str, *, since: datetime | None = None, until: datetime | None = None,
           policy: str | None = None, config: str | None = None, as_pool: str | None = None,
           record: bool = False) -> Replay:
    cycles = load(url, pool, since, until)
    setup = recorded_setup(cycles)
    fleet: FleetSettings | None = None
    if config is not None:
        spec, interval, fleet = _configured(config, as_pool or pool, pool)
        used = f"{config} pool {as_pool or pool}"
        rep = reproduce(cycles, spec)
    else:
        if setup is None:
            raise ConfigError(f"replay: the journal kept no configuration of pool {pool!r}; "
                              "give --config FILE")
        spec, interval = setup
        used = "the pool's recorded configuration" if policy is None else f"policy {policy}"
        rep = reproduce(cycles)
    if fleet is None:
        fleet = _recorded_fleet(cycles, spec, interval)
    missing = gaps.find(cycles, interval or _spacing(cycles))
    hist = cf.history(cycles, interval, cf.metric_of(spec.decision))
    try:
        result = cf.run(hist, spec.decision, spec.types, fleet, policy, record=record)
    except JournalError:
        raise
    body = report.report(result.scenario, result.outcome, result.oracle, trace=f"{_safe(url)} pool {pool}")
    body["replayed_with"] = used
    body["decisions_total"] = rep.total
    body["decisions_reproduced"] = rep.reproduced
    body["reproduction"] = {"with": used if config is not None else "the pool's recorded configuration",
                            **rep.as_dict()}
    body["gaps"] = gaps.summary(missing)
    body["cycles"] = {"count": len(cycles), "from": cycles[0].at.isoformat(), "to": cycles[-1].at.isoformat(),
                      "steps_scored": int(len(result.outcome.timeline.t) * result.outcome.timeline.interval
                                          / interval)}
    recorded = result.recorded.scores()
    oracle = result.oracle.timeline.scores()
    body["recorded"] = {**recorded.as_dict(),
                        "cost_vs_oracle": recorded.instance_hours / oracle.instance_hours
                        if oracle.instance_hours > 0 else None}
    return Replay(body, rep, result)
