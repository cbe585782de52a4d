"""Fast replay of the quality bench for the ``recommended`` family, to search its settings.

``bench/quality.py`` runs the controller's whole cycle (≈ 5,000 steps/s); a search over the
recommended family's settings needs hundreds of runs over the 1.2 M steps of the shared
traces. This replays the same thing in two open-loop passes (≈ 80 s for all traces, most of
it in the policy itself):

1. the desires: the real compiled ``predictive`` policy (``policy/predictive.py``) fed the
   honest readings (at step k the mean load of step k-1; none at step 0). It never looks at
   the fleet, so its desires do not depend on what the fleet did;
2. the fleet and the governor, as ``sim.run`` + ``governor`` behave for this family: bounds
   [min, max]; up at once (launches ready ``boot`` later; a drain begun on the previous cycle
   is cancelled first and serves at once); down only to the highest desire of the last
   ``down_window`` seconds (none before one window has passed), draining ready instances,
   paid for the step the drain begins in.

``--check TRACE`` runs ``bench/quality.py``'s real simulation of ``recommended`` on one trace and
verifies that the replay gives the same ready and provisioned counts at every step (it does for
the shared traces; it must be re-checked when the governor, the planner or the simulated fleet
change). Scores and averages are ``bench/quality.py``'s.

    PYTHONPATH=src python bench/rec_search.py [--utilisation 0.9] [--quantile 0.99] [--window 2880]
        [--min-errors 100] [--band 2] [--volatility 0.5] [--down 300] [--check wc98]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from fleetscale.model import Observation, Snapshot  # noqa: E402
from fleetscale.policy.context import PolicyContext, Reading  # noqa: E402
from fleetscale.policy.predictive import PredictivePolicy  # noqa: E402
from fleetscale.sim.metrics import score  # noqa: E402
from fleetscale.sim.oracle import oracle_schedule  # noqa: E402
from fleetscale.sim.run import START  # noqa: E402
from fleetscale.sim.scenario import Scenario  # noqa: E402
from quality import BOOT, INTERVAL, SHIFTS, TRACES, average, scenario  # noqa: E402

Ints = npt.NDArray[np.int64]


def desires(load: npt.NDArray[np.float64], capacity: float, top: int, policy: PredictivePolicy) -> Ints:
    """The policy's desire at each step (0 at step 0: nothing has completed, the pool holds)."""
    proposer = policy.compile(capacity)
    out = np.zeros(len(load), dtype=np.int64)
    state: object = None
    for k in range(1, len(load)):
        at = START + timedelta(seconds=k * INTERVAL)
        value = float(load[k - 1])
        ctx = PolicyContext(at, 0, capacity, 1, top, {"load": Reading("load", value, value, at)})
        snap = Snapshot("p", at, (), (Observation("trace", "load", value, at),))
        proposal, state = proposer.propose(snap, ctx, state, "predictive")
        out[k] = proposal.desired if proposal.desired is not None else 0
    return out


def replay(first: int, want: Ints, top: int, boot_steps: int, down_steps: int) -> tuple[Ints, Ints]:
    """(ready, provisioned) per step for the desires ``want`` (see the module docstring)."""
    n = len(want)
    ready_n = first
    pending: list[list[int]] = []  # [step it is ready at, units]
    recent: list[tuple[int, int]] = []  # (step, desire) within the down window
    ready = np.zeros(n, dtype=np.int64)
    paid = np.zeros(n, dtype=np.int64)
    draining = 0
    for k in range(n):
        cancellable, draining = draining, 0
        while pending and pending[0][0] <= k:
            ready_n += pending.pop(0)[1]
        if k >= 1:
            w = min(max(int(want[k]), 1), top)
            current = ready_n + sum(c for _, c in pending)
            recent.append((k, w))
            while recent[0][0] < k - down_steps:
                recent.pop(0)
            if w > current:
                reused = min(cancellable, w - current)
                ready_n += reused
                if w - current > reused:
                    pending.append([k + boot_steps, w - current - reused])
            elif w < current and k >= down_steps:
                cut = min(current - min(current, max(d for _, d in recent)), ready_n)
                ready_n -= cut
                draining = cut
        ready[k] = ready_n
        paid[k] = ready_n + sum(c for _, c in pending) + draining
    return ready, paid


def run_trace(sc: Scenario, policy: PredictivePolicy, down: float) -> dict[str, Any]:
    return scored(sc, desires(sc.grid(), sc.spec.unit_capacity, sc.spec.max, policy), down)


def scored(sc: Scenario, want: Ints, down: float) -> dict[str, Any]:
    """The quality bench's scores of the desires ``want`` with a ``down``-second scale-down window."""
    load = sc.grid()
    cap = sc.spec.unit_capacity
    demand = np.maximum(np.ceil(load / cap - 1e-9), sc.spec.min).astype(np.int64)
    ready, paid = replay(int(demand[0]), want, sc.spec.max, math.ceil(BOOT / INTERVAL - 1e-9),
                         round(down / INTERVAL))
    oracle = oracle_schedule(demand, INTERVAL, BOOT, top=sc.spec.max)
    s = score(load, demand, ready, paid, INTERVAL, cap)
    return {"cost_vs_oracle": s.instance_hours / (float(oracle.provisioned.sum()) * INTERVAL / 3600),
            "tau_under": s.tau_under, "unserved_fraction": s.unserved_fraction, "ready": ready, "paid": paid}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", type=Path, default=TRACES)
    ap.add_argument("--utilisation", type=float, default=0.9)
    ap.add_argument("--quantile", type=float, default=0.99)
    ap.add_argument("--window", type=int, default=2880)
    ap.add_argument("--min-errors", type=int, default=100)
    ap.add_argument("--band", type=float, default=2.0,
                    help="learn from the errors made within this factor of the current reading (0 = all)")
    ap.add_argument("--volatility", type=float, default=0.5)
    ap.add_argument("--down", type=float, default=300.0, help="scale-down stabilisation window, seconds")
    ap.add_argument("--check", default=None, help="verify the replay against bench/quality.py on this trace")
    args = ap.parse_args(argv)
    policy = PredictivePolicy(name="predictive", utilisation=args.utilisation, horizon=BOOT + INTERVAL,
                              volatility=args.volatility, error_quantile=args.quantile,
                              error_window=args.window, error_min=args.min_errors, error_band=args.band)
    paths = sorted(args.traces.glob("*.csv"))
    if args.check is not None:
        from fleetscale.policy.recommended import recommended_policies
        from fleetscale.sim.scenario import run_policy

        path = next(p for p in paths if args.check in p.name)
        sc = scenario(path)
        real = run_policy(sc, "recommended").timeline
        (rec,) = recommended_policies(horizon=BOOT + INTERVAL)
        assert isinstance(rec, PredictivePolicy)
        fast = run_trace(sc, rec, 300.0)
        same = bool(np.array_equal(real.ready, fast["ready"])
                    and np.array_equal(real.provisioned, fast["paid"]))
        print(f"{path.name}: replay {'matches' if same else 'DIFFERS FROM'} the controller's simulation "
              f"({len(real.t)} steps)")
        return 0 if same else 1
    began = time.perf_counter()
    rows = []
    for path in paths:
        r = run_trace(scenario(path), policy, args.down)
        rows.append(r)
        print(f"{path.name:40s} cost {r['cost_vs_oracle']:.3f}  τU {r['tau_under']:.2f} %  "
              f"unserved {100 * r['unserved_fraction']:.3f} %", flush=True)
    g = {k: average([float(r[k]) for r in rows], k) for k in SHIFTS}
    print(f"average: cost {g['cost_vs_oracle']:.3f}  τU {g['tau_under']:.2f} %  "
          f"unserved {100 * g['unserved_fraction']:.3f} %  ({time.perf_counter() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
