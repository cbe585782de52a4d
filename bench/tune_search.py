"""Which search ``fleetscale tune`` uses: Optuna (TPE) against plain random search at the same
budget, on shared traces, with the issue's settings (boot 120 s, interval 60 s, capacity =
the 99.5th-percentile load / 40, min 1, max 200) and objective (tau_under 1 %, unserved 0.1 %).

For each trace and method: the in-sample cost vs. the oracle of the first seed (today's
recommended default) and whether it meets the objective, the cheapest among the runs that met
the objective after 10, 20, ... runs, and how many runs met it. Same seeds (``space.SEEDS``),
same budget, same held-out split. Writes ``bench/results/tune_search.md``.

    PYTHONPATH=src python bench/tune_search.py [--budget 30] [--workers 2] [traces...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from fleetscale.sim.scenario import capacity_for  # noqa: E402
from fleetscale.sources.trace import read_trace  # noqa: E402
from fleetscale.tune.evaluate import Task  # noqa: E402
from fleetscale.tune.objective import Slo  # noqa: E402
from fleetscale.tune.parallel import Local  # noqa: E402
from fleetscale.tune.run import History, with_params  # noqa: E402
from fleetscale.tune.search import search  # noqa: E402
from fleetscale.tune.space import Params  # noqa: E402

TRACES = Path("/work/shared/traces")
DEFAULT = ("aws_elb_requests_5min.csv", "wikipedia_en_jan2016_1h.csv")
SLO = Slo(1.0, 0.1)


def best_after(tried: list, k: int) -> float | None:  # type: ignore[type-arg]
    ok = [t.figures.cost_vs_oracle for t in tried[:k] if t.figures.meets(SLO)]
    return min(ok) if ok else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("traces", nargs="*", default=list(DEFAULT))
    ap.add_argument("--budget", type=int, default=30)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    rows = []
    for name in args.traces:
        trace = read_trace(TRACES / name)
        loads = np.asarray(trace.loads, dtype=np.float64)
        cap = capacity_for(loads, trace.interval, 60.0)
        doc = {"name": "bench", "interval": 60.0, "min": 1, "max": 200, "unit_capacity": cap,
               "provider": {"kind": "simulated", "boot_delay": 120.0, "drain_time": 0.0}}
        history = History(loads, trace.interval, doc)
        train = loads[:history.split()]

        def make(k: int, p: Params, doc: dict = doc, train: np.ndarray = train,  # type: ignore[type-arg]
                 ti: float = trace.interval) -> Task:
            return Task(k, with_params(doc, p), train, ti)

        for method in ("optuna", "random"):
            began = time.perf_counter()
            runner = Local(args.workers, progress=False)
            try:
                tried = search(make, runner, SLO, args.budget, batch=args.workers, method=method, seed=0)
            finally:
                runner.close()
            marks = [best_after(tried, k) for k in range(10, args.budget + 1, 10)]
            met = sum(1 for t in tried if t.figures.meets(SLO))
            first = tried[0].figures  # the first seed: today's recommended default
            default = f"{first.cost_vs_oracle:.3f} ({'meets' if first.meets(SLO) else 'misses'})"
            rows.append((name, method, default, marks, met, time.perf_counter() - began))
            print(name, method, default, marks, met, flush=True)
    out = ["# tune: Optuna (TPE) vs random search at equal budget", "",
           f"Objective tau_under <= {SLO.tau_under} %, unserved <= {SLO.unserved} %; "
           f"budget {args.budget} runs each; cells: cheapest in-sample cost / oracle among runs "
           "meeting it after N runs (- none yet).", "",
           "| trace | method | default (first seed) | "
           + " | ".join(f"after {k}" for k in range(10, args.budget + 1, 10)) + " | runs meeting | wall s |",
           "|---|---|---|" + "---|" * (len(range(10, args.budget + 1, 10)) + 2)]
    for name, method, default, marks, met, wall in rows:
        cells = " | ".join("-" if m is None else f"{m:.3f}" for m in marks)
        out.append(f"| {name} | {method} | {default} | {cells} | {met} | {wall:.0f} |")
    (ROOT / "bench" / "results" / "tune_search.md").write_text("\n".join(out) + "\n", encoding="utf-8")
    print("\n".join(out))


if __name__ == "__main__":
    main()
