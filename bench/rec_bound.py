"""How far the ``recommended`` family can go on the shared traces, even with hindsight.

Issue 11 asks one setting of ``recommended`` for every trace to reach cost ≤ 1.50 x the feasible
oracle with τU ≤ 1 % and unserved ≤ 0.1 % (its averages over the traces). This measures the
family on a grid of its settings (utilisation per unit, error quantile and scale-down window,
the learnt headroom with today's band, window and prior) with ``bench/rec_search.py``'s exact
replay of the quality bench, and answers two questions from the same runs:

1. **one setting for every trace**: the cheapest grid point whose averages meet both service
   targets (what a default can do);
2. **each trace its own setting, chosen in hindsight**: the cheapest choice of one grid point
   per trace whose averages meet both targets. Reported as an interval: the best feasible
   choice found (achievable in hindsight) and a Lagrangian lower bound that no choice of these
   grid points can beat (the dual of the choice problem: for any multipliers λ ≥ 0, the sum
   over traces of each trace's minimum of ln cost + λτ ln(τU + 1) + λu ln(unserved + 1e-4),
   minus the multipliers times the targets, is at most the optimum).

A target below (2) cannot be reached by tuning this family, with or without hindsight; only a
different forecast of the bursts themselves could. Writes ``bench/results/rec_bound.json``
(every run's scores) and prints both answers; ``--reuse`` re-analyses that file without running.

    PYTHONPATH=src python bench/rec_bound.py [--jobs 2] [--reuse]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from fleetscale.policy.predictive import PredictivePolicy  # noqa: E402
from quality import BOOT, INTERVAL, SHIFTS, TARGETS, TRACES, average, scenario  # noqa: E402
from rec_search import desires, scored  # noqa: E402

UTILISATIONS = (0.85, 0.9, 0.95, 1.0)
QUANTILES = (0.95, 0.97, 0.98, 0.985, 0.99, 0.993, 0.995, 0.998)
DOWNS = (180.0, 300.0, 420.0)
OUT = ROOT / "bench" / "results" / "rec_bound.json"
KEYS = tuple(SHIFTS)


def work(job: tuple[str, float, float]) -> list[dict[str, Any]]:
    """Every scale-down window's scores for one trace at one (utilisation, quantile)."""
    path, utilisation, quantile = job
    sc = scenario(Path(path))
    policy = PredictivePolicy(name="predictive", utilisation=utilisation, horizon=BOOT + INTERVAL,
                              volatility=0.5, error_quantile=quantile, error_window=2880,
                              error_min=100, error_band=2.0)
    want = desires(sc.grid(), sc.spec.unit_capacity, sc.spec.max, policy)  # the slow part, once
    rows = []
    for down in DOWNS:
        s = scored(sc, want, down)
        rows.append({"trace": Path(path).name, "utilisation": utilisation, "quantile": quantile,
                     "down": down, **{k: s[k] for k in KEYS}})
    return rows


def _logs(row: dict[str, Any]) -> tuple[float, float, float]:
    return (math.log(row["cost_vs_oracle"]), math.log(row["tau_under"] + SHIFTS["tau_under"]),
            math.log(row["unserved_fraction"] + SHIFTS["unserved_fraction"]))


Best = tuple[tuple[Any, ...], dict[str, float]]


def one_setting(rows: list[dict[str, Any]], traces: list[str]) -> Best | None:
    """The cheapest grid point meeting both service targets on the averages, if any."""
    by_setting: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = {}
    for r in rows:
        by_setting.setdefault((r["utilisation"], r["quantile"], r["down"]), {})[r["trace"]] = r
    best: Best | None = None
    for setting, per in by_setting.items():
        if len(per) != len(traces):
            continue
        g = {k: average([float(per[t][k]) for t in traces], k) for k in KEYS}
        meets = all(g[k] <= TARGETS[k] for k in ("tau_under", "unserved_fraction"))
        if meets and (best is None or g["cost_vs_oracle"] < best[1]["cost_vs_oracle"]):
            best = (setting, g)
    return best


def hindsight(rows: list[dict[str, Any]], traces: list[str]) -> dict[str, Any]:
    """Each trace its own grid point: the best feasible choice found and the Lagrangian bound."""
    options = {t: [(_logs(r), r) for r in rows if r["trace"] == t] for t in traces}
    n = len(traces)
    limit_tau = n * math.log(TARGETS["tau_under"] + SHIFTS["tau_under"])
    limit_uns = n * math.log(TARGETS["unserved_fraction"] + SHIFTS["unserved_fraction"])
    lam_grid = np.concatenate(([0.0], np.geomspace(1e-3, 20.0, 120)))
    bound = -math.inf
    best: tuple[float, dict[str, dict[str, Any]]] | None = None
    for lt, lu in itertools.product(lam_grid, lam_grid):
        total = -lt * limit_tau - lu * limit_uns
        pick = {}
        for t in traces:
            value, row = min(((c + lt * a + lu * u, r) for (c, a, u), r in options[t]), key=lambda x: x[0])
            total += value
            pick[t] = row
        bound = max(bound, total)
        logs = [_logs(pick[t]) for t in traces]
        if sum(x[1] for x in logs) <= limit_tau + 1e-12 and sum(x[2] for x in logs) <= limit_uns + 1e-12:
            cost = sum(x[0] for x in logs)
            if best is None or cost < best[0]:
                best = (cost, pick)
    out: dict[str, Any] = {"lower_bound": math.exp(bound / n)}
    if best is not None:
        pick = best[1]
        out["found"] = {k: average([float(pick[t][k]) for t in traces], k) for k in KEYS}
        fields = ("utilisation", "quantile", "down", *KEYS)
        out["choice"] = {t: {k: pick[t][k] for k in fields} for t in traces}
    return out


def analyse(data: dict[str, Any]) -> dict[str, Any]:
    rows = data["rows"]
    traces = sorted({r["trace"] for r in rows})
    single = one_setting(rows, traces)
    hind = hindsight(rows, traces)
    return {"traces": traces, "one_setting": None if single is None else
            {"utilisation": single[0][0], "quantile": single[0][1], "down": single[0][2], **single[1]},
            "hindsight": hind}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", type=Path, default=TRACES)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--reuse", action="store_true", help="analyse --out again without running")
    args = ap.parse_args(argv)
    if args.reuse:
        data = json.loads(args.out.read_text(encoding="utf-8"))
    else:
        began = time.perf_counter()
        paths = sorted(args.traces.glob("*.csv"))
        # biggest traces first so the workers finish together
        jobs = sorted(((str(p), u, q) for p in paths for u in UTILISATIONS for q in QUANTILES),
                      key=lambda j: -Path(j[0]).stat().st_size)
        rows: list[dict[str, Any]] = []
        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            for i, got in enumerate(pool.imap_unordered(work, jobs), 1):
                rows.extend(got)
                print(f"\r{i}/{len(jobs)} runs", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        data = {"grid": {"utilisation": UTILISATIONS, "quantile": QUANTILES, "down": DOWNS},
                "settings": "learnt headroom, error_band 2, error_window 2880, error_min 100, volatility 0.5",
                "wall_seconds": round(time.perf_counter() - began), "rows": rows}
    data["analysis"] = analyse(data)
    args.out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    a = data["analysis"]
    s = a["one_setting"]
    if s is None:
        print("one setting for every trace: no grid point meets both service targets")
    else:
        print(f"one setting for every trace: utilisation {s['utilisation']}, quantile {s['quantile']}, "
              f"down {s['down']:.0f} s: cost {s['cost_vs_oracle']:.3f}  τU {s['tau_under']:.2f} %  "
              f"unserved {100 * s['unserved_fraction']:.3f} %")
    h = a["hindsight"]
    if "found" in h:
        f = h["found"]
        print(f"each trace its own setting, in hindsight: cost {f['cost_vs_oracle']:.3f}  "
              f"τU {f['tau_under']:.2f} %  unserved {100 * f['unserved_fraction']:.3f} %  "
              f"(no choice of grid points below {h['lower_bound']:.3f})")
        for t, c in h["choice"].items():
            print(f"  {t:40s} u {c['utilisation']:.2f} q {c['quantile']:.3f} down {c['down']:.0f}: "
                  f"{c['cost_vs_oracle']:.3f} / {c['tau_under']:.2f} % / "
                  f"{100 * c['unserved_fraction']:.3f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
