"""Speed benchmark: simulated steps per second of several named policies (one process, one
core), and the seconds one year of one-minute steps (525 600 steps) takes at that rate.

Settings are the quality benchmark's (boot 120 s, interval 60 s, capacity so the p99.5 load
needs 40 units). Each policy runs ``--repeat`` times over ``--steps`` rows of the trace; the
best run counts (the least disturbed by other work on the machine).

    PYTHONPATH=src python bench/speed.py
    # side by side with another tree (e.g. a checkout of main), run one after the other:
    python bench/speed.py --tree src --tree /tmp/main/src
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
YEAR = 525_600
POLICIES = ("recommended", "hpa", "aws-target-tracking", "nomad-target-value", "dynoscaler",
            "gateway-scaler", "keda", "static-peak")
TRACE = Path("/work/shared/traces/nasa_http_jul1995_1min.csv")


def measure(trace: Path, policies: list[str], rows: int, repeat: int,
            clock: str = "wall") -> dict[str, tuple[int, float]]:
    """{policy: (steps, best seconds)} in this process (the tree on sys.path). ``clock``:
    "wall" (``perf_counter``) or "cpu" (``process_time``: this process's CPU time, which other
    work on a shared machine does not inflate)."""
    # fleetscale first, from PYTHONPATH: ``quality`` puts this checkout's ``src`` on sys.path
    from fleetscale.sim.scenario import run_policy

    sys.path.insert(0, str(HERE))
    from quality import scenario

    sc = scenario(trace)
    if rows:
        sc = type(sc)(sc.trace_interval, sc.loads[:rows], sc.spec, sc.types, sc.interval, sc.fleet)
    timer = time.process_time if clock == "cpu" else time.perf_counter
    out: dict[str, tuple[int, float]] = {}
    for name in policies:
        best = float("inf")
        steps = 0
        for _ in range(repeat):
            began = timer()
            result = run_policy(sc, name)
            best = min(best, timer() - began)
            steps = result.steps
        out[name] = (steps, best)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trace", type=Path, default=TRACE)
    ap.add_argument("--policies", default=",".join(POLICIES))
    ap.add_argument("--rows", type=int, default=20_000, help="trace rows to use (0 = all)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall time, or this process's CPU time (steadier on a busy machine)")
    ap.add_argument("--tree", action="append", default=[],
                    help="a source tree (PYTHONPATH) to time, in a subprocess; repeatable")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    policies = [p for p in args.policies.split(",") if p]
    if not args.tree:
        results = measure(args.trace, policies, args.rows, args.repeat, args.clock)
        if args.json:
            print(json.dumps(results))
            return 0
        trees = {"this tree": results}
    else:
        trees = {}
        for tree in args.tree:
            cmd = [sys.executable, __file__, "--json", "--trace", str(args.trace),
                   "--policies", args.policies, "--rows", str(args.rows), "--repeat", str(args.repeat),
                   "--clock", args.clock]
            env = dict(os.environ, PYTHONPATH=str(Path(tree).resolve()))
            done = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
            trees[tree] = json.loads(done.stdout.strip().splitlines()[-1])
    names = list(trees)
    head = "| policy | " + " | ".join(f"{n}: steps/s | s/year" for n in names)
    print(head + (" | speed-up |" if len(names) == 2 else " |"))
    print("|---" * (1 + 2 * len(names) + (len(names) == 2)) + "|")
    for p in policies:
        cells = []
        rates = []
        for n in names:
            steps, wall = trees[n][p]
            rate = steps / wall
            rates.append(rate)
            cells.append(f"{rate:,.0f} | {YEAR / rate:.1f}")
        extra = f" | x{rates[0] / rates[1]:.2f}" if len(rates) == 2 else ""
        print(f"| {p} | " + " | ".join(cells) + extra + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
