"""Memory of the predictive policy's state per pool after a realistic number of cycles.

    PYTHONPATH=src python bench/state_memory.py [POOLS]

One pool under the ``recommended`` policy is fed 3 days of 15-s readings (a daily cycle and
noise: a full error window, 3 days of the ring known); POOLS (1,000) independent copies of its
state (their own arrays, shape and pending forecasts) are then held, and their memory measured
as RSS growth and with tracemalloc. Run it with another release's ``src`` on PYTHONPATH to
compare; it needs no 10,000-pool run.
"""

from __future__ import annotations

import gc
import math
import sys
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from fleetscale.model import Observation, Snapshot
from fleetscale.policy.context import PolicyContext, Reading
from fleetscale.policy.predictive import PredictivePolicy, PredictiveState
from fleetscale.policy.recommended import recommended_policies


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def main() -> None:
    pools = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    (spec,) = recommended_policies(horizon=195.0)
    assert isinstance(spec, PredictivePolicy)
    policy = spec.compile(1.0)
    rng = np.random.default_rng(1)
    start = datetime(2026, 11, 2, tzinfo=UTC)
    state: object = None
    n = 3 * 86400 // 15
    for k in range(n):
        at = start + timedelta(seconds=15 * k)
        t = 15.0 * k
        value = max(0.0, 40 + 30 * math.sin(2 * math.pi * t / 86400) + rng.normal(0, 3))
        ctx = PolicyContext(at, 0, 1.0, 1, 1000, {"load": Reading("load", value, value, at)})
        snap = Snapshot("p", at, (), (Observation("trace", "load", value, at),))
        _, state = policy.propose(snap, ctx, state, "predictive")
    assert isinstance(state, PredictiveState)
    st = state
    print(f"after {n} cycles: history {st.history.dtype} {st.history.nbytes} B, errors {st.errors.dtype} "
          f"{st.errors.nbytes} B ({len(st.errors)}), levels {st.error_levels.nbytes} B, "
          f"pending {len(st.pending)}, known slots {int((~np.isnan(st.history)).sum())}")

    def copies() -> list[PredictiveState]:
        return [st._replace(history=st.history.copy(), errors=st.errors.copy(),
                            error_levels=st.error_levels.copy(), shape=tuple(float(v) for v in st.shape),
                            pending=tuple(tuple(float(x) for x in p) for p in st.pending))
                for _ in range(pools)]

    gc.collect()
    rss0 = rss_kib()
    held = copies()
    rss1 = rss_kib()
    del held
    gc.collect()
    tracemalloc.start()
    held = copies()
    traced, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{len(held)} pools: tracemalloc {traced / pools / 1024:.1f} KiB/pool, "
          f"RSS growth {(rss1 - rss0) / pools:.1f} KiB/pool")


if __name__ == "__main__":
    main()
