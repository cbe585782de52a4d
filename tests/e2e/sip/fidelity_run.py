"""A real SIP pool recorded for replay: the ``local`` provider's sipp gateways registered to the
real Kamailio, sipp callers following a scripted call profile, the real controller cycling on
the wall clock with the SQL journal; then the journal replayed with the pool's own (recorded)
configuration, and ``simulate`` on the recorded load compared with what the pool really ran.

Shared by ``bench/fidelity.py`` (a few minutes) and the bounded end-to-end test.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fleetscale.app import build_controller
from fleetscale.config import parse
from fleetscale.replay.run import replay
from fleetscale.sim.clock import WallClock
from tests.e2e.sip.harness import pool_doc
from tests.fixtures.kamailio import Caller, Kamailio, start_caller


@dataclass(frozen=True)
class Burst:
    """``calls`` calls placed at ``at`` seconds into the run, each held ``hold`` seconds."""

    at: float
    calls: int
    hold: float


#: about three minutes: up to 13 concurrent calls, rising, falling, rising again
PROFILE = (Burst(0, 3, 70), Burst(15, 4, 45), Burst(40, 6, 30), Burst(75, 2, 60), Burst(100, 5, 40),
           Burst(130, 3, 25), Burst(150, 1, 20))
SHORT = (Burst(0, 3, 24), Burst(8, 4, 14), Burst(26, 1, 10))


def record(k: Kamailio, workdir: Path, profile: tuple[Burst, ...] = PROFILE, interval: float = 2.0,
           tail: float = 10.0, warmup: float = 6.0) -> str:
    """Run the pool through ``profile``, which starts once the first gateway had ``warmup``
    seconds to register (bounded: the last call's end + ``tail``); returns the journal's URL."""
    url = f"sqlite:///{workdir / 'journal.db'}"
    doc = {"pools": [pool_doc(k, "sip", "gw-", 1, k.registrar, workdir / "gw", interval=interval, max=8,
                              policies=[{"kind": "target", "metric": "load", "utilisation": 1.0}],
                              governor={"down": {"stabilisation": 6}})],
           "journal": {"sql": url, "log": False}}
    controller = build_controller(parse(doc), WallClock())
    callers: list[Caller] = []
    pending = sorted((Burst(b.at + warmup, b.calls, b.hold) for b in profile), key=lambda b: b.at)
    end = max(b.at + b.hold + b.calls / 10 for b in pending) + tail
    t0 = time.monotonic()
    try:
        k_cycle = 0
        while True:
            now = time.monotonic() - t0
            if now > end:
                break
            while pending and pending[0].at <= now:
                b = pending.pop(0)
                callers.append(start_caller(k, workdir / f"caller-{len(callers)}", calls=b.calls,
                                            hold_ms=int(b.hold * 1000), rate=10))
            controller.cycle()
            k_cycle += 1
            time.sleep(max(0.0, t0 + k_cycle * interval - time.monotonic()))
    finally:
        for c in callers:
            c.stop()
        for runner in controller.runners:
            runner.provider.terminate([i.id for i in runner.provider.list()], "fidelity-cleanup")
        controller.close()
    return url


def fidelity(url: str, pool: str = "sip") -> dict[str, Any]:
    """Decisions reproduced, and ``simulate`` on the recorded load against the real run."""
    result = replay(url, pool)
    cf = result.counterfactual
    sim = cf.outcome.timeline.provisioned
    real = cf.recorded.provisioned
    within = float(np.mean(np.abs(sim - real) <= 1)) if len(real) else 0.0
    sim_h, real_h = float(sim.sum()), float(real.sum())  # instance-steps: same interval for both
    sim_r, real_r = cf.outcome.timeline.ready, cf.recorded.ready
    body = result.body
    return {
        "cycles": body["cycles"]["count"],
        "decisions_total": body["decisions_total"],
        "decisions_reproduced": body["decisions_reproduced"],
        "decisions_reproduced_percent": body["reproduction"]["decisions_reproduced_percent"],
        "steps_compared": len(real),
        "within_one_instance_percent": 100.0 * within,
        "instance_hours_real": real_h * cf.recorded.interval / 3600.0,
        "instance_hours_simulated": sim_h * cf.recorded.interval / 3600.0,
        "instance_hours_difference_percent": 100.0 * abs(sim_h - real_h) / real_h if real_h else 0.0,
        "in_service_within_one_percent":
            100.0 * float(np.mean(np.abs(sim_r - real_r) <= 1)) if len(real_r) else 0.0,
        "in_service_hours_difference_percent": 100.0 * abs(float(sim_r.sum()) - float(real_r.sum()))
        / float(real_r.sum()) if real_r.sum() else 0.0,
        "boot_delay_estimated_s": body["settings"]["boot_delay"],
        "drain_time_estimated_s": body["settings"]["drain_time"],
        "sessions_estimated": body["settings"]["sessions"],
        "gaps": body["gaps"]["by_kind"],
        "first_differences": body["reproduction"]["first_differences"][:3],
        "real_instances": real.tolist(),
        "simulated_instances": sim.tolist(),
    }
