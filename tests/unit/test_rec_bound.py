"""bench/rec_bound.py's hindsight answer brackets the true optimum of the per-trace choice."""

from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import rec_bound
from quality import SHIFTS, TARGETS, average

row = st.fixed_dictionaries({
    "cost_vs_oracle": st.floats(1.0, 5.0),
    "tau_under": st.floats(0.0, 4.0),
    "unserved_fraction": st.floats(0.0, 0.01),
})


def _feasible(rows: list[dict[str, Any]]) -> bool:
    keys = ("tau_under", "unserved_fraction")
    return all(average([r[k] for r in rows], k) <= TARGETS[k] + 1e-12 for k in keys)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(row, min_size=1, max_size=4), min_size=1, max_size=3))
def test_hindsight_brackets_the_brute_force_optimum(per_trace: list[list[dict[str, Any]]]) -> None:
    traces = [f"t{i}" for i in range(len(per_trace))]
    rows = [dict(r, trace=t, utilisation=0.9, quantile=0.99, down=300.0)
            for t, options in zip(traces, per_trace, strict=True) for r in options]
    got = rec_bound.hindsight(rows, traces)
    best = math.inf
    for choice in itertools.product(*per_trace):
        if _feasible(list(choice)):
            best = min(best, average([r["cost_vs_oracle"] for r in choice], "cost_vs_oracle"))
    if math.isfinite(best):
        assert got["lower_bound"] <= best + 1e-9
    if "found" in got:
        picked = [got["choice"][t] for t in traces]
        assert _feasible(picked)
        assert got["found"]["cost_vs_oracle"] >= best - 1e-9


def test_one_setting_takes_the_cheapest_grid_point_meeting_both_targets() -> None:
    def r(trace: str, q: float, cost: float, tau: float, uns: float) -> dict[str, Any]:
        return {"trace": trace, "utilisation": 0.9, "quantile": q, "down": 300.0,
                "cost_vs_oracle": cost, "tau_under": tau, "unserved_fraction": uns}

    rows = [r("a", 0.95, 1.2, 2.0, 0.002), r("b", 0.95, 1.3, 2.0, 0.002),   # cheap, misses both
            r("a", 0.99, 1.6, 0.5, 0.0005), r("b", 0.99, 1.8, 0.4, 0.0004),  # meets
            r("a", 0.998, 2.5, 0.1, 0.0001), r("b", 0.998, 2.9, 0.1, 0.0001)]
    got = rec_bound.one_setting(rows, ["a", "b"])
    assert got is not None
    assert got[0] == (0.9, 0.99, 300.0)
    assert math.isclose(got[1]["cost_vs_oracle"], math.sqrt(1.6 * 1.8))
    assert set(got[1]) == set(SHIFTS)
