"""Behaviour fingerprint of the simulator: a hash of every step's timeline row and decision
(pool, time, current, desired, reason) for several named policies over several traces, with
the bench's settings (boot 120 s, interval 60 s, capacity so the p99.5 load needs 40 units).

A speed change must leave the fingerprint byte-identical. Compare two trees:

    PYTHONPATH=src python bench/fingerprint.py --out /tmp/after.json
    PYTHONPATH=/tmp/base/src python bench/fingerprint.py --out /tmp/before.json
    python bench/fingerprint.py --compare /tmp/before.json /tmp/after.json

Each run also keeps one hash per block of 10 000 steps, so a difference is located.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np

# the tree under test comes from PYTHONPATH (so an older checkout can be fingerprinted too):
# fleetscale is imported before ``quality``, which puts this checkout's ``src`` on sys.path
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fleetscale.cycle as cycle  # noqa: E402
from fleetscale.sim.scenario import run_policy  # noqa: E402
from quality import scenario  # noqa: E402

TRACES = Path("/work/shared/traces")
DEFAULT_TRACES = ("nasa_http_jul1995_1min.csv", "azure_vm_cpu_2019_5min.csv",
                  "callcenter_bank_il_1999_6min.csv")
DEFAULT_POLICIES = ("recommended", "hpa", "aws-target-tracking", "dynoscaler", "gateway-scaler",
                    "keda", "nomad-target-value")
BLOCK = 10_000


def fingerprint(job: tuple[str, str, int]) -> tuple[str, str, dict[str, object]]:
    trace, policy, limit = job
    sc = scenario(TRACES / trace)
    if limit:
        sc = type(sc)(sc.trace_interval, sc.loads[:limit], sc.spec, sc.types, sc.interval, sc.fleet)
    cycles = hashlib.sha256()
    think = cycle.think

    def watched(*args: object) -> object:
        # every verdict's proposals and governor steps, and every plan, as the journal sees them
        verdict, plan = think(*args)  # type: ignore[arg-type]
        cycles.update(repr((verdict.proposals, verdict.steps, plan)).encode())
        return verdict, plan

    cycle.think = watched  # type: ignore[assignment]
    try:
        out = run_policy(sc, policy, record=True)
    finally:
        cycle.think = think
    tl = out.timeline
    whole = hashlib.sha256()
    for arr in (tl.t, tl.load, tl.demanded, tl.ready, tl.provisioned):
        whole.update(np.ascontiguousarray(arr).tobytes())
    whole.update(f"{tl.scale_actions}|{tl.capacity!r}|{tl.price!r}".encode())
    blocks: list[str] = []
    block = hashlib.sha256()
    for i, d in enumerate(tl.decisions):
        line = f"{d.pool}|{d.at.isoformat()}|{d.current}|{d.desired}|{d.reason}\n".encode()
        whole.update(line)
        block.update(line)
        if (i + 1) % BLOCK == 0:
            blocks.append(block.hexdigest()[:16])
            block = hashlib.sha256()
    blocks.append(block.hexdigest()[:16])
    whole.update(cycles.digest())
    return trace, policy, {"steps": len(tl.decisions), "hash": whole.hexdigest(),
                           "cycles": cycles.hexdigest(), "blocks": blocks, "wall": round(out.wall_seconds, 3)}


def compare(a: Path, b: Path) -> int:
    left = json.loads(a.read_text())
    right = json.loads(b.read_text())
    bad = 0
    for key in sorted(set(left) | set(right)):
        x, y = left.get(key), right.get(key)
        if x is None or y is None:
            print(f"{key}: only in {'right' if x is None else 'left'}")
            bad += 1
        elif x["hash"] != y["hash"]:
            pairs = zip(x["blocks"], y["blocks"], strict=False)
            first = next((i for i, (p, q) in enumerate(pairs) if p != q), None)
            where = "length" if first is None else f"first differing block {first} (steps {first * BLOCK}..)"
            extra = "" if x.get("cycles") == y.get("cycles") else "; proposals/steps/plans differ"
            print(f"{key}: DIFFERENT ({where}{extra})")
            bad += 1
        else:
            print(f"{key}: identical ({x['steps']} steps; {x['wall']:.1f} s -> {y['wall']:.1f} s)")
    print("IDENTICAL" if not bad else f"{bad} DIFFERENT")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", default=",".join(DEFAULT_TRACES))
    ap.add_argument("--policies", default=",".join(DEFAULT_POLICIES))
    ap.add_argument("--limit", type=int, default=0, help="use only the first N trace rows")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--out", type=Path)
    ap.add_argument("--compare", nargs=2, type=Path)
    args = ap.parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    jobs = [(t, p, args.limit) for t in args.traces.split(",") for p in args.policies.split(",")]
    began = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
        results = {f"{t}/{p}": r for t, p, r in pool.imap_unordered(fingerprint, jobs)}
    text = json.dumps(dict(sorted(results.items())), indent=1)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    for key, r in sorted(results.items()):
        print(f"{key}: {r['hash'][:16]} ({r['steps']} steps, {r['wall']:.1f} s)")
    print(f"wall {time.perf_counter() - began:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
