"""``simulate`` and ``run`` make identical decisions for identical observations: the
controller (``fleetscale run``'s cycle, with the simulated provider, the trace source and a
simulated clock) and the simulator's harness replay the same short trace; their decision
sequences (current units, desired units, reason) must match step for step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fleetscale import config
from fleetscale.app import build_controller
from fleetscale.sim.clock import SimClock
from fleetscale.sim.run import START, FleetSettings, simulate

LOADS = [12, 14, 30, 31, 29, 55, 60, 58, 20, 18, 18, 17, 70, 72, 40, 39, 38, 10, 10, 9,
         9, 45, 46, 47, 12, 11, 11, 80, 82, 81, 30, 29, 28, 5, 5, 5, 5, 5, 60, 61]
POLICY_SETS = {
    "recommended": None,
    "hpa-like": [{"kind": "target", "utilisation": 0.7, "tolerance": 0.1}],
    "cycles": [{"kind": "cycles", "metric": "load", "threshold": 7.0, "up_cycles": 1, "down_cycles": 2}],
}
GOVERNORS = {
    "recommended": None,
    "hpa-like": {"up": {"max_step_count": 4, "max_step_percent": 100.0, "step_period": 15.0},
                 "down": {"stabilisation": 300.0, "max_step_percent": 100.0, "step_period": 15.0}},
    "cycles": {"down": {"stabilisation": 0.0}},
}


@pytest.mark.parametrize("which", list(POLICY_SETS))
def test_simulate_and_run_decide_alike(tmp_path: Path, which: str) -> None:
    trace = tmp_path / "trace.csv"
    trace.write_text("t_seconds,load\n" + "".join(f"{60 * k},{v}\n" for k, v in enumerate(LOADS)))
    initial = 2  # ceil(12 / 10)
    pool: dict = {
        "name": "web", "interval": 60, "min": 1, "max": 50, "unit_capacity": 10,
        "sources": [{"kind": "trace", "path": str(trace), "start": START.isoformat()}],
        "provider": {"kind": "simulated", "boot_delay": 120, "drain_time": 0, "initial": initial},
    }
    if POLICY_SETS[which] is not None:
        pool["policies"] = POLICY_SETS[which]
    if GOVERNORS[which] is not None:
        pool["governor"] = GOVERNORS[which]
    loaded = config.parse({"pools": [pool], "journal": {"sql": "sqlite://", "log": False}})
    clock = SimClock(START)
    controller = build_controller(loaded, clock, log=False)
    try:
        runner = controller.runners[0] if hasattr(controller, "runners") else controller._runners[0]
        spec = runner.spec
        ran = []
        for _ in LOADS:
            record = controller.cycle()[0]
            assert not record.errors, record.errors
            ran.append((record.decision.current, record.decision.desired, record.decision.reason))
            clock.advance(60)
    finally:
        controller.close()
    timeline = simulate(np.array(LOADS, dtype=float), spec, loaded.config.pools[0].types(), 60.0,
                        FleetSettings(boot_delay=120.0), record=True, initial=initial)
    simulated = [(d.current, d.desired, d.reason) for d in timeline.decisions]
    assert simulated == ran
    assert len({d for _, d, _ in ran}) > 3  # the trace made the pool move
