"""One cycle by construction: ``simulate`` and ``fleetscale run`` (the controller built from a
configuration, on a paced simulated clock, with the SQL journal and state store) produce
identical cycle records for the same trace: observations, instances, proposals, governor
steps, decisions, plans, outcomes and errors, step for step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fleetscale import config
from fleetscale.app import build_controller
from fleetscale.journal.record import CycleRecord
from fleetscale.sim.clock import SimClock
from fleetscale.sim.run import START, FleetSettings, resample, simulate
from fleetscale.sources.trace import read_trace

TRACES = Path(__file__).resolve().parents[3] / "shared" / "traces"
BUNDLED = (Path(__file__).resolve().parents[2] / "src" / "fleetscale" / "data"
           / "nasa_http_jul1995_days5-6_1min.csv")
LOADS = [12, 14, 30, 31, 29, 55, 60, 58, 20, 18, 18, 17, 70, 72, 40, 39, 38, 10, 10, 9,
         9, 45, 46, 47, 12, 11, 11, 80, 82, 81, 30, 29, 28, 5, 5, 5, 5, 5, 60, 61]
POLICY_SETS: dict[str, Any] = {
    "recommended": None,
    "hpa-like": [{"kind": "target", "utilisation": 0.7, "tolerance": 0.1}],
    "cycles": [{"kind": "cycles", "metric": "load", "threshold": 7.0, "up_cycles": 1, "down_cycles": 2}],
}
GOVERNORS: dict[str, Any] = {
    "recommended": None,
    "hpa-like": {"up": {"max_step_count": 4, "max_step_percent": 100.0, "step_period": 15.0},
                 "down": {"stabilisation": 300.0, "max_step_percent": 100.0, "step_period": 15.0}},
    "cycles": {"down": {"stabilisation": 0.0}},
}


def _plain(rec: CycleRecord) -> dict[str, Any]:
    """The record without its run's identity (cycle ids carry a per-process run id)."""
    out = rec.to_dict()
    out.pop("cycle_id")
    if out["plan"] is not None:
        out["plan"].pop("request_id")
    return out


def _run(tmp_path: Path, loads: list[float], which: str, unit_capacity: float, initial: int,
         ) -> tuple[list[CycleRecord], Any]:
    trace = tmp_path / "trace.csv"
    trace.write_text("t_seconds,load\n" + "".join(f"{60 * k},{v!r}\n" for k, v in enumerate(loads)))
    pool: dict[str, Any] = {
        "name": "sim", "interval": 60, "min": 1, "max": 200, "unit_capacity": unit_capacity,
        "sources": [{"kind": "trace", "path": str(trace), "start": START.isoformat()}],
        "provider": {"kind": "simulated", "boot_delay": 120, "drain_time": 0, "initial": initial,
                     "sessions_per_unit": 1},
        "boot_timeout": 600,
    }
    if POLICY_SETS[which] is not None:
        pool["policies"] = POLICY_SETS[which]
    if GOVERNORS[which] is not None:
        pool["governor"] = GOVERNORS[which]
    loaded = config.parse({"pools": [pool],
                           "journal": {"sql": f"sqlite:///{tmp_path / 'j.db'}", "log": False}})
    clock = SimClock(START)
    controller = build_controller(loaded, clock, log=False)
    records = []
    try:
        for _ in loads:
            records.append(controller.cycle()[0])
            clock.advance(60)
    finally:
        controller.close()
    return records, loaded.config.pools[0]


def _same(tmp_path: Path, loads: list[float], which: str, unit_capacity: float) -> list[CycleRecord]:
    initial = int(np.ceil(loads[0] / unit_capacity))
    ran, pool = _run(tmp_path, loads, which, unit_capacity, initial)
    timeline = simulate(np.array(loads, dtype=float), pool.decision_spec(), pool.types(), 60.0,
                        FleetSettings(boot_delay=120.0), record=True, initial=initial)
    assert len(timeline.records) == len(ran)
    for k, (a, b) in enumerate(zip(ran, timeline.records, strict=True)):
        assert _plain(a) == _plain(b), f"cycle {k} differs"
    return ran


@pytest.mark.parametrize("which", list(POLICY_SETS))
def test_simulate_and_run_record_alike(tmp_path: Path, which: str) -> None:
    ran = _same(tmp_path, [float(x) for x in LOADS], which, 10.0)
    assert len({r.decision.desired for r in ran if r.decision}) > 3  # the trace made the pool move


def test_alike_on_a_long_trace(tmp_path: Path) -> None:
    """A long real trace (the call centre's, 6-minute rows, 1e7 s long; the bundled NASA slice
    where the shared traces are not beside the checkout), its first 1,500 minutes: the
    decisions depend on a long history (recommended's seasonal memory)."""
    shared = TRACES / "callcenter_bank_il_1999_6min.csv"
    trace = read_trace(shared if shared.is_file() else BUNDLED)
    loads = resample(np.asarray(trace.loads), trace.interval, 60.0)[:1500].tolist()
    cap = float(np.percentile(loads, 99.5)) / 40
    ran = _same(tmp_path, loads, "recommended", cap)
    assert sum(1 for r in ran if r.plan and not r.plan.empty) > 10
