"""Quality benchmark: every named policy over every shared trace, scored against the oracle.

Settings (the issue's): boot delay 120 s, decision interval 60 s, a capacity per instance such
that the trace's 99.5th percentile load (on the 60 s grid) needs 40 instances, min 1, max 200
(``MAX``, the same for every trace: a trace whose demand exceeds 200 instances cannot be
served by any policy, and the oracle is capped by the same max, see ``sim.oracle``). Traces
are read from ``/work/shared/traces`` (never copied). Writes ``bench/results/quality.md`` and
``bench/results/plots/*.png``; prints its wall time and the simulated steps per second.

    PYTHONPATH=src python bench/quality.py [--traces DIR] [--only a,b] [--policies a,b] [--jobs 2]
        [--reuse FILE [--reuse-label TEXT]] [--pool-period --out DIR]

HPA and KEDA decide on their own default periods (15 s and 30 s, ``sim.baselines``);
``--pool-period`` runs them at the pool's 60 s interval like every other policy instead (write
that elsewhere with ``--out``: the report says which it is).

The raw per-trace scores go to ``quality.json`` beside ``quality.md``. ``--reuse FILE`` (an
earlier ``quality.json``) takes the rows not measured now from that file: those of the policies
not run now and, with ``--only`` (trace names containing any of the given words), every row of
the traces not run now. So one changed policy, or the traces a change affects, are re-measured
without re-running the rest; the report and ``quality.json`` say which rows were reused and
from where (``--reuse-label``, default the file's path).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from tqdm import tqdm  # noqa: E402

from fleetscale.decide import DecisionSpec  # noqa: E402
from fleetscale.model import InstanceType  # noqa: E402
from fleetscale.sim.baselines import NAMES  # noqa: E402
from fleetscale.sim.run import FleetSettings, Timeline  # noqa: E402
from fleetscale.sim.scenario import Scenario, capacity_for, run_policy  # noqa: E402
from fleetscale.sources.trace import read_trace  # noqa: E402

TRACES = Path("/work/shared/traces")
RESULTS = ROOT / "bench" / "results"
BOOT, INTERVAL, UNITS, QUANTILE = 120.0, 60.0, 40, 99.5
#: the issue's pool maximum, the same for every trace (not scaled to the trace's peak)
MAX = 200
#: the averages over traces (issue 11): cost is the plain geometric mean of the cost ratios;
#: tau_under (in %) is exp(mean(ln(x + 1))) - 1; unserved (a fraction of load) is
#: exp(mean(ln(x + 1e-4))) - 1e-4 (shifted geometric means: a zero counts as zero, not as a
#: floor that flatters small values)
SHIFTS = {"cost_vs_oracle": 0.0, "tau_under": 1.0, "unserved_fraction": 1e-4}
TARGETS = {"cost_vs_oracle": 1.50, "tau_under": 1.0, "unserved_fraction": 0.001}


def average(values: list[float], key: str) -> float:
    """The issue's average over traces of ``key`` (see SHIFTS)."""
    shift = SHIFTS[key]
    if not values:
        return float("nan")
    return float(np.exp(np.mean(np.log(np.asarray(values, dtype=np.float64) + shift))) - shift)


def scenario(path: Path) -> Scenario:
    trace = read_trace(path)
    loads = np.asarray(trace.loads, dtype=np.float64)
    cap = capacity_for(loads, trace.interval, INTERVAL, UNITS, QUANTILE)
    spec = DecisionSpec(pool=path.stem[:60], min=1, max=MAX, policies=(), unit_capacity=cap)
    return Scenario(trace.interval, loads, spec, (InstanceType("default"),), INTERVAL,
                    FleetSettings(boot_delay=BOOT))


@dataclass(frozen=True)
class Job:
    path: Path
    policy: str
    #: every policy at the pool's interval (False: HPA and KEDA on their own periods)
    pool_period: bool = False


def work(job: Job) -> tuple[str, str, dict[str, Any], int, float, Timeline | None]:
    sc = scenario(job.path)
    out = run_policy(sc, job.policy, own_period=not job.pool_period)
    keep = out.timeline if job.policy in ("recommended", "oracle") else None
    return job.path.name, job.policy, out.timeline.scores().as_dict(), out.steps, out.wall_seconds, keep


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", type=Path, default=TRACES)
    ap.add_argument("--only", default="", help="run only the traces whose name contains one of these words "
                    "(comma-separated); with --reuse the other traces' rows come from the earlier run")
    ap.add_argument("--policies", default=",".join(NAMES))
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--reuse", type=Path, default=None,
                    help="an earlier quality.json: rows for the policies (and traces) not run now")
    ap.add_argument("--reuse-label", default=None, help="where the reused rows come from, for the report")
    ap.add_argument("--pool-period", action="store_true",
                    help="run HPA and KEDA at the pool's interval instead of their own 15 s / 30 s")
    args = ap.parse_args(argv)
    began = time.perf_counter()
    words = [w for w in args.only.split(",") if w]
    paths = [p for p in sorted(args.traces.glob("*.csv")) if not words or any(w in p.name for w in words)]
    policies = [p for p in args.policies.split(",") if p]
    if "oracle" not in policies:
        policies.insert(0, "oracle")
    jobs = [Job(p, n, args.pool_period) for p in paths for n in policies]
    # longest first so the two workers finish together
    weight = {"hpa": 4, "keda": 2, "recommended": 3}
    jobs.sort(key=lambda j: -j.path.stat().st_size * weight.get(j.policy, 1))
    results: dict[str, dict[str, dict[str, Any]]] = {}
    timelines: dict[tuple[str, str], Timeline] = {}
    steps = 0
    sim_seconds = 0.0
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(args.jobs) as pool:
        for name, policy, scores, n, wall, tl in tqdm(pool.imap_unordered(work, jobs), total=len(jobs),
                                                      desc="simulating", unit="run"):
            results.setdefault(name, {})[policy] = scores | {"steps": n, "wall": wall}
            if policy != "oracle":
                steps += n
                sim_seconds += wall
            if tl is not None:
                timelines[(name, policy)] = tl
    reused: dict[str, list[str]] = {}  # trace -> policies whose row was reused
    source = ""
    if args.reuse is not None:
        source = args.reuse_label or str(args.reuse)
        earlier = json.loads(args.reuse.read_text(encoding="utf-8"))
        measured = set(results)
        for name, rows in earlier["results"].items():
            if words and name not in measured and not (args.traces / name).exists():
                continue  # a trace no longer in the set
            for policy, row in rows.items():
                if name not in measured or policy not in results[name]:
                    results.setdefault(name, {})[policy] = row
                    reused.setdefault(name, []).append(policy)
        policies += [p for p in earlier["policies"] if p not in policies]
        order = {p: i for i, p in enumerate(earlier["policies"])}
        policies.sort(key=lambda p: order.get(p, len(order)))
    for rows in results.values():
        oracle_ih = rows["oracle"]["instance_hours"]
        for row in rows.values():
            if "cost_vs_oracle" not in row:  # a reused row keeps its own
                row["cost_vs_oracle"] = row["instance_hours"] / oracle_ih if oracle_ih > 0 else float("inf")
    wall = time.perf_counter() - began
    args.out.mkdir(parents=True, exist_ok=True)
    plots = args.out / "plots"
    plots.mkdir(exist_ok=True)
    _plots(timelines, plots)
    text = render(results, policies, wall, steps, sim_seconds, args.jobs, reused, source, args.pool_period)
    (args.out / "quality.md").write_text(text, encoding="utf-8")
    doc: dict[str, Any] = {"policies": policies, "max": MAX, "pool_period": args.pool_period,
                           "results": results}
    if reused:
        doc["reused"] = {"from": source, "rows": reused}
    (args.out / "quality.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    print(text.split("## Per trace")[0])
    print(f"wall time {wall:.1f} s; {steps} simulated steps in {sim_seconds:.1f} s of worker time "
          f"= {steps / sim_seconds:,.0f} steps/s per core")
    return 0


def _plots(timelines: dict[tuple[str, str], Timeline], plots: Path) -> None:
    from fleetscale.sim.plot import plot_timeline

    for (name, policy), tl in sorted(timelines.items()):
        if policy != "recommended":
            continue
        oracle = timelines.get((name, "oracle"))
        limit = int(3 * 86400 / tl.interval)
        plot_timeline(tl, plots / f"{Path(name).stem}.png", title=f"{name}: recommended (first 3 days)",
                      others={"oracle": oracle} if oracle is not None else None, limit=limit)


COLUMNS = [("cost_vs_oracle", "cost/oracle", "{:.3f}"), ("tau_under", "τU %", "{:.2f}"),
           ("theta_under", "θU %", "{:.2f}"), ("tau_over", "τO %", "{:.1f}"),
           ("theta_over", "θO %", "{:.1f}"),
           ("unserved_fraction", "unserved %", "{:.3%}"), ("instability", "instab. %", "{:.1f}"),
           ("jitter", "jitter /h", "{:.2f}"), ("scale_actions", "actions", "{:d}"),
           ("instance_hours", "inst-h", "{:.0f}")]


def _fmt(fmt: str, v: Any) -> str:
    if fmt == "{:.3%}":
        return f"{100 * v:.3f}"
    return fmt.format(int(v) if fmt == "{:d}" else v)


def _reused_text(reused: dict[str, list[str]], policies: list[str], source: str) -> str:
    if not reused:
        return ""
    whole = sorted(t for t, ps in reused.items() if set(ps) >= set(policies))
    parts = []
    if whole:
        parts.append("every row of " + ", ".join(whole))
    by_policy: dict[str, list[str]] = {}
    for t, ps in sorted(reused.items()):
        if t not in whole:
            for p in ps:
                by_policy.setdefault(p, []).append(t)
    if by_policy:
        n = len({t for t in reused if t not in whole})
        parts.append("the rows of " + ", ".join(p for p in policies if p in by_policy)
                     + f" on the other {n} traces")
    return (" Reused from an earlier run (`--reuse`, " + source
            + "; their code and settings did not change): "
            + "; ".join(parts) + ". Every other row was measured by this run; speeds below are from the run "
            "that measured each row.")


def render(results: dict[str, dict[str, dict[str, Any]]], policies: list[str], wall: float, steps: int,
           sim_seconds: float, jobs: int, reused: dict[str, list[str]] | None = None,
           source: str = "", pool_period: bool = False) -> str:
    period = (" Every policy decides at the pool's interval (`--pool-period`: HPA and KEDA too, "
              "instead of their own 15 s and 30 s)." if pool_period else
              " HPA and KEDA decide on their own default periods, 15 s and 30 s.")
    out = ["# Quality benchmark", "",
           f"Boot delay {BOOT:.0f} s, interval {INTERVAL:.0f} s, "
           f"capacity per instance = p{QUANTILE} load / {UNITS}, "
           f"min 1, max {MAX} (every trace). Supply = ready instances. Cost is against the feasible "
           f"oracle (perfect foresight, never more than {MAX} instances). Generated by `bench/quality.py` "
           f"(wall time {wall:.0f} s on {jobs} processes, {steps:,} simulated steps, "
           f"{steps / max(sim_seconds, 1e-9):,.0f} steps/s per core)." + period
           + _reused_text(reused or {}, policies, source), "",
           "## Summary (geometric mean over traces)", "",
           "Averages: cost = geometric mean; τU % = exp(mean(ln(x + 1))) - 1; unserved = "
           "exp(mean(ln(x + 1e-4))) - 1e-4.", "",
           "| policy | cost/oracle | τU % | unserved % | worst τU % | worst unserved % |",
           "|---|---|---|---|---|---|"]
    for p in policies:
        rows = [results[t][p] for t in sorted(results) if p in results[t]]
        if not rows:
            continue
        g = {k: average([float(r[k]) for r in rows], k) for k in SHIFTS}
        worst_tau = max(r["tau_under"] for r in rows)
        worst_unserved = 100 * max(r["unserved_fraction"] for r in rows)
        out.append(f"| {p} | {g['cost_vs_oracle']:.3f} | {g['tau_under']:.2f} "
                   f"| {100 * g['unserved_fraction']:.3f} | {worst_tau:.2f} | {worst_unserved:.3f} |")
    out += ["", *_verdict(results), "", *_infeasible(results), *_speed(results, policies), "",
            "## Per trace", ""]
    for t in sorted(results):
        out += [f"### {t}", "", "| policy | " + " | ".join(c[1] for c in COLUMNS) + " |",
                "|---" * (len(COLUMNS) + 1) + "|"]
        for p in policies:
            r = results[t].get(p)
            if r is not None:
                out.append(f"| {p} | " + " | ".join(_fmt(f, r[k]) for k, _, f in COLUMNS) + " |")
        out.append("")
    return "\n".join(out) + "\n"


def _infeasible(results: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """The traces whose demand exceeds the max: even the feasible oracle is under-provisioned."""
    lines = []
    for t in sorted(results):
        o = results[t].get("oracle")
        if o is not None and o["tau_under"] > 0:
            lines.append(f"- {t}: the demand exceeds {MAX} instances for {o['tau_under']:.2f} % of the time; "
                         f"the feasible oracle (capped at {MAX}) leaves {100 * o['unserved_fraction']:.3f} % "
                         "of the load unserved, so no policy can meet the objective there. Its cost ratios "
                         f"are against that capped oracle (both sides hold at most {MAX} instances).")
    if not lines:
        return []
    return [f"## Traces no policy can serve at max {MAX}", "", *lines, ""]


def _speed(results: dict[str, dict[str, dict[str, Any]]], policies: list[str]) -> list[str]:
    """Simulated steps per second of each policy (one worker process), and the time one year of
    one-minute steps takes at that rate."""
    lines = ["## Speed (one process, while the other runs too)", "",
             "| policy | steps | seconds | steps/s | one year of 1-min steps |", "|---|---|---|---|---|"]
    for p in policies:
        if p == "oracle":
            continue
        rows = [results[t][p] for t in results if p in results[t]]
        steps = sum(int(r["steps"]) for r in rows)
        wall = sum(float(r["wall"]) for r in rows)
        if wall > 0:
            rate = steps / wall
            lines.append(f"| {p} | {steps:,} | {wall:.1f} | {rate:,.0f} | {525_600 / rate:.1f} s |")
    return lines


def _verdict(results: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    rec = [results[t]["recommended"] for t in sorted(results) if "recommended" in results[t]]
    if not rec:
        return []
    lines = ["## Targets for `recommended`", ""]
    for k, limit in TARGETS.items():
        g = average([float(r[k]) for r in rec], k)
        shown = f"{100 * g:.3f} %" if k == "unserved_fraction" else f"{g:.3f}"
        want = f"{100 * limit:.1f} %" if k == "unserved_fraction" else f"{limit}"
        lines.append(f"- {k}: {shown} (target ≤ {want}): {'met' if g <= limit else 'MISSED'}")
    beaten = []
    for t in sorted(results):
        r = results[t].get("recommended")
        if r is None:
            continue
        for p, o in results[t].items():
            if p in ("recommended", "oracle"):
                continue
            if o["cost_vs_oracle"] < r["cost_vs_oracle"] and o["tau_under"] < r["tau_under"]:
                beaten.append(f"{t}: {p}")
    lines.append("- no comparison policy both cheaper and less under-provisioned on any trace: "
                 + ("met" if not beaten else "MISSED (" + "; ".join(beaten) + ")"))
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
