"""Scores match hand-computed values on small timelines."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fleetscale.sim.metrics import demanded, geometric_mean, score

# (id, load, demand, ready, provisioned, capacity, expected subset)
CASES = [
    pytest.param(
        [10, 10, 10, 10], [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], 10.0,
        {"theta_under": 0.0, "theta_over": 0.0, "tau_under": 0.0, "tau_over": 0.0, "jitter": 0.0,
         "instability": 0.0, "unserved_fraction": 0.0, "cost_ratio": 1.0},
        id="perfect",
    ),
    pytest.param(
        # demand 2,4,4,2 ; ready 2,2,4,4 : under at k=1 by 2/4 ; over at k=3 by 2/2
        [20, 40, 40, 20], [2, 4, 4, 2], [2, 2, 4, 4], [2, 4, 4, 4], 10.0,
        {"theta_under": 100 * (0.5 / 4), "theta_over": 100 * (1.0 / 4), "tau_under": 25.0, "tau_over": 25.0,
         # unserved: 20 of 120 load-units
         "unserved_fraction": 20 / 120,
         # instance-hours at 60 s steps: 14 * 60 / 3600 ; demand 12 * 60 / 3600
         "instance_hours": 14 / 60, "demand_instance_hours": 12 / 60, "cost_ratio": 14 / 12,
         # supply changes once (k=2), demand twice (k=1, k=3): -1 per 4 minutes
         "jitter": -15.0,
         # diffs: s 0,+,0 ; d +,0,- -> all three disagree
         "instability": 100.0},
        id="lagging",
    ),
    pytest.param(
        # zero demand (min 0, no load): never under, over counts against one instance
        [0, 0, 5, 5], [0, 0, 1, 1], [1, 0, 0, 1], [1, 1, 1, 1], 10.0,
        {"theta_under": 100 * (1.0 / 4), "theta_over": 100 * (1.0 / 4), "tau_under": 25.0, "tau_over": 25.0,
         "unserved_fraction": 0.5, "cost_ratio": 2.0,
         # supply: -, 0, + (2 changes); demand: 0, +, 0 (1 change): 1 extra change in 4 minutes
         "jitter": 1 / (4 / 60),
         # k=1: s down, d flat -> 1 ; k=2: s flat, d up -> 1 ; k=3: s up, d flat -> 1
         "instability": 100.0},
        id="zero-demand",
    ),
    pytest.param(
        [15, 15, 15, 15], [2, 2, 2, 2], [3, 3, 3, 3], [4, 4, 4, 4], 10.0,
        {"theta_over": 50.0, "tau_over": 100.0, "tau_under": 0.0, "cost_ratio": 2.0, "instability": 0.0},
        id="over",
    ),
]


@pytest.mark.parametrize(("load", "demand", "ready", "paid", "capacity", "expected"), CASES)
def test_scores_match_hand_computed(load, demand, ready, paid, capacity, expected) -> None:
    got = score(np.array(load, float), np.array(demand), np.array(ready), np.array(paid), 60.0, capacity)
    for key, value in expected.items():
        assert getattr(got, key) == pytest.approx(value, abs=1e-12), key


class TestDemanded:
    """Demand is max(min, ceil(load / capacity)), float noise forgiven."""

    def test_values(self) -> None:
        got = demanded(np.array([0.0, 0.1, 10.0, 10.000000001, 30 / 3, 25.0]), 10.0, 1)
        assert got.tolist() == [1, 1, 1, 1, 1, 3]

    def test_min_zero(self) -> None:
        assert demanded(np.array([0.0, 11.0]), 10.0, 0).tolist() == [0, 2]


def test_weighted_intervals() -> None:
    """Intervals of different lengths weigh by their length."""
    got = score(np.array([10.0, 20.0]), np.array([1, 2]), np.array([1, 1]), np.array([1, 1]),
                np.array([60.0, 180.0]), 10.0)
    assert got.tau_under == pytest.approx(75.0)
    assert got.unserved_fraction == pytest.approx((10 * 180) / (10 * 60 + 20 * 180))


def test_geometric_mean() -> None:
    assert geometric_mean([1.0, 4.0]) == pytest.approx(2.0)
    assert math.isnan(geometric_mean([]))
