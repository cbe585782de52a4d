"""The oracle is never under-provisioned and pays only what foresight cannot avoid."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetscale.sim.metrics import score
from fleetscale.sim.oracle import oracle_schedule


def _scores(d: np.ndarray, boot: float, drain: float = 0.0):
    sched = oracle_schedule(d, 60.0, boot, drain)
    return sched, score(d * 10.0, d, sched.ready, sched.provisioned, 60.0, 10.0)


class TestExact:
    """Cases where the cheapest schedule is known by hand."""

    def test_no_boot_delay_costs_exactly_the_demand(self) -> None:
        d = np.array([1, 3, 2, 5, 5, 1, 4, 0, 2])
        sched, s = _scores(d, 0.0)
        assert sched.ready.tolist() == d.tolist()
        assert s.cost_ratio == pytest.approx(1.0)
        assert s.tau_under == 0.0

    def test_falling_demand_costs_exactly_the_demand(self) -> None:
        d = np.array([6, 6, 5, 3, 3, 3, 1])
        _, s = _scores(d, 120.0)
        assert s.cost_ratio == pytest.approx(1.0)

    def test_step_up_pays_one_boot_per_new_instance(self) -> None:
        # 2 -> 5 at k=5 held for 10 steps (longer than the boot delay): 3 new instances
        # each paid 2 steps (120 s) early; nothing else is extra.
        d = np.array([2] * 5 + [5] * 10)
        sched, s = _scores(d, 120.0)
        assert s.tau_under == 0.0
        assert sched.provisioned.tolist() == [2, 2, 2, 5, 5] + [5] * 10
        assert s.instance_hours * 60 == d.sum() + 3 * 2

    def test_short_dip_keeps_the_instance(self) -> None:
        # a 2-step dip under a 3-step boot: relaunching cannot be cheaper, keep it
        d = np.array([4, 4, 2, 2, 4, 4])
        sched, _ = _scores(d, 180.0)
        assert sched.provisioned.tolist() == [4] * 6
        assert sched.releases == 0

    def test_long_dip_releases_and_relaunches_ahead(self) -> None:
        # a 6-step dip over a 2-step boot: release 2, relaunch 2 steps before the rise
        d = np.array([4, 4] + [2] * 6 + [4, 4])
        sched, s = _scores(d, 120.0)
        assert sched.provisioned.tolist() == [4, 4, 2, 2, 2, 2, 4, 4, 4, 4]
        assert sched.ready.tolist() == d.tolist()
        assert s.tau_under == 0.0 and s.theta_under == 0.0

    def test_drain_time_is_paid_and_widens_the_kept_dip(self) -> None:
        d = np.array([3, 3] + [1] * 3 + [3, 3])
        # boot 1 step + drain 1 step: a 3-step dip saves 3 - 2 = 1 > 0 -> release
        sched, _ = _scores(d, 60.0, 60.0)
        assert sched.provisioned.tolist() == [3, 3, 3, 1, 3, 3, 3]
        # boot 2 + drain 1 = 3 >= dip: keep
        sched, _ = _scores(d, 120.0, 60.0)
        assert sched.provisioned.tolist() == [3] * 7


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=8), min_size=1, max_size=60),
    st.sampled_from([0.0, 60.0, 90.0, 120.0, 300.0]),
)
def test_never_under_provisioned_and_never_cheaper_than_demand(demand: list[int], boot: float) -> None:
    d = np.array(demand)
    sched, s = _scores(d, boot)
    assert (sched.ready >= d).all()
    assert (sched.provisioned >= sched.ready).all()
    assert s.tau_under == 0.0 and s.unserved_fraction == 0.0
    assert s.instance_hours >= s.demand_instance_hours - 1e-12


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=14))
def test_cheapest_against_brute_force_single_slot(demand: list[int]) -> None:
    """For one slot (0/1 demand) the oracle's cost equals the best of every keep/release choice."""
    d = (np.array(demand) > 2).astype(np.int64)
    b = 2
    sched = oracle_schedule(d, 60.0, 120.0)
    runs = []
    k = 0
    while k < len(d):
        if d[k]:
            start = k
            while k < len(d) and d[k]:
                k += 1
            runs.append((start, k))
        else:
            k += 1
    if not runs:
        assert sched.provisioned.sum() == 0
        return
    best = None
    for mask in range(1 << (len(runs) - 1)):
        paid = np.zeros(len(d), dtype=bool)
        group_start = runs[0][0]
        for i, (_s, e) in enumerate(runs):
            last = i == len(runs) - 1
            if last or not (mask >> i) & 1:  # release after this run (or end)
                paid[max(0, group_start - b if group_start > 0 else 0):e] = True
                if not last:
                    group_start = runs[i + 1][0]
        cost = int(paid.sum())
        best = cost if best is None else min(best, cost)
    assert int(sched.provisioned.sum()) == best


def test_the_feasible_oracle_never_holds_more_than_the_max() -> None:
    """Capped at ``top`` it is the oracle of the capped demand, and under-provisioned exactly
    where the demand exceeds ``top``."""
    d = np.array([2, 2, 3, 7, 9, 9, 4, 2, 8, 2, 2])
    capped = oracle_schedule(d, 60.0, 120.0, top=5)
    plain = oracle_schedule(np.minimum(d, 5), 60.0, 120.0)
    assert capped.provisioned.tolist() == plain.provisioned.tolist()
    assert capped.ready.tolist() == plain.ready.tolist()
    assert int(capped.provisioned.max()) <= 5
    assert ((capped.ready < d) == (d > 5)).all()
    assert oracle_schedule(d, 60.0, 120.0, top=50).provisioned.tolist() == \
        oracle_schedule(d, 60.0, 120.0).provisioned.tolist()
