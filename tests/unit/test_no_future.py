"""No simulated decision sees the future. A load step at ``t0`` is first known at the end of
the interval it starts; no policy, in any named configuration, may have capacity for it in
service before ``t0 + interval + boot_delay`` (any earlier would mean it saw a sample
stamped after its ``now``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetscale.decide import DecisionSpec
from fleetscale.model import InstanceType
from fleetscale.sim.baselines import NAMES
from fleetscale.sim.run import FleetSettings
from fleetscale.sim.scenario import Scenario, run_policy

BOOT = 120.0
TRACE_STEP = 60.0


def _scenario(low: float, high: float, before: int, after: int, interval: float = 60.0) -> Scenario:
    loads = np.array([low] * before + [high] * after, dtype=np.float64)
    spec = DecisionSpec(pool="step", min=1, max=200, policies=(), unit_capacity=1.0)
    return Scenario(TRACE_STEP, loads, spec, (InstanceType("default"),), interval,
                    FleetSettings(boot_delay=BOOT))


def _first_ready_above(name: str, sc: Scenario, units: int) -> float:
    out = run_policy(sc, name)
    tl = out.timeline
    above = np.nonzero(tl.ready > units)[0]
    return math.inf if len(above) == 0 else float(tl.t[above[0]])


@pytest.mark.parametrize("name", [n for n in NAMES if n not in ("oracle", "static-peak")])
def test_a_load_step_is_not_served_before_it_could_be_known(name: str) -> None:
    before = 60  # an hour of low load, so every policy has settled
    sc = _scenario(5.0, 50.0, before, 60)
    t0 = before * TRACE_STEP
    tl = run_policy(sc, name).timeline
    settled = int(tl.ready[(tl.t < t0)][-1])
    # the policy's own decision interval: the step is known at the first cycle after t0
    interval = float(tl.interval)
    known = math.ceil(t0 / interval + 1e-9) * interval
    if known == t0:
        known += interval
    earliest = known + BOOT
    first = _first_ready_above(name, sc, settled)
    assert first >= earliest, (name, first, earliest)
    assert first < math.inf, f"{name} never served the step"


@settings(max_examples=25, deadline=None)
@given(before=st.integers(min_value=5, max_value=40), jump=st.floats(min_value=2.0, max_value=50.0),
       interval=st.sampled_from([30.0, 60.0, 120.0]))
def test_recommended_never_early_on_random_steps(before: int, jump: float, interval: float) -> None:
    sc = _scenario(3.0, 3.0 * jump, before, 30, interval)
    tl = run_policy(sc, "recommended").timeline
    t0 = before * TRACE_STEP
    settled = int(tl.ready[tl.t < t0][-1]) if (tl.t < t0).any() else int(tl.ready[0])
    # the decision interval holding t0 ends at first_known: its mean (with part of the step in
    # it when the grid straddles t0) is the first reading that can show the step
    first_known = math.floor(t0 / interval) * interval + interval
    assert not ((tl.t < first_known + BOOT) & (tl.ready > settled)).any()
