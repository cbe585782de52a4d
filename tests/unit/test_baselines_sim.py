"""Baselines are settings of the same engine, with their documented defaults."""

from __future__ import annotations

import numpy as np
import pytest

from fleetscale.decide import DecisionSpec
from fleetscale.model import InstanceType
from fleetscale.policy.cycles import CyclesPolicy
from fleetscale.policy.schedule import SchedulePolicy
from fleetscale.policy.target import TargetPolicy
from fleetscale.sim.baselines import NAMES, named
from fleetscale.sim.run import FleetSettings
from fleetscale.sim.scenario import Scenario, capacity_for, run_policy


def test_hpa_defaults() -> None:
    hpa = named("hpa", unit_capacity=2.0)
    (policy,) = hpa.policies
    assert isinstance(policy, TargetPolicy)
    assert (policy.utilisation, policy.tolerance, hpa.interval) == (0.7, 0.1, 15.0)
    up = hpa.governor.up
    assert (up.max_step_count, up.max_step_percent, up.step_period) == (4, 100.0, 15.0)
    assert hpa.governor.down.stabilisation == 300.0
    assert named("keda").interval == 30.0


def test_aws_and_nomad_and_seeds() -> None:
    aws = named("aws-target-tracking")
    assert (aws.governor.up.hysteresis, aws.governor.down.hysteresis) == (3, 15)
    nomad = named("nomad-target-value")
    assert nomad.policies[0].tolerance == 0.01  # type: ignore[union-attr]
    assert nomad.governor.down.cooldown == nomad.governor.up.cooldown == 300.0
    dyno = named("dynoscaler", unit_capacity=10.0)
    assert isinstance(dyno.policies[0], CyclesPolicy) and dyno.policies[0].threshold == pytest.approx(7.0)
    assert isinstance(named("gateway-scaler").policies[0], SchedulePolicy)
    assert named("static-peak", peak_units=9).initial == 9


def test_unknown_and_oracle_names() -> None:
    with pytest.raises(ValueError, match="unknown policy"):
        named("magic")
    with pytest.raises(ValueError, match="oracle"):
        named("oracle")


def test_oracle_is_cheapest_never_under_on_a_stepped_trace() -> None:
    """Steps longer than the boot delay: the oracle is exact, every policy costs at least as much."""
    loads = np.repeat([20.0, 60.0, 30.0, 90.0, 10.0, 50.0], 6)  # 30-minute steps of a 5-minute trace
    cap = capacity_for(loads, 300.0, 60.0, units=9, quantile=100.0)
    spec = DecisionSpec(pool="p", min=1, max=100, policies=(), unit_capacity=cap)
    sc = Scenario(300.0, loads, spec, (InstanceType("default"),), 60.0, FleetSettings(boot_delay=120.0))
    oracle = run_policy(sc, "oracle").timeline.scores()
    assert oracle.tau_under == 0.0
    for name in NAMES:
        s = run_policy(sc, name).timeline.scores()
        assert s.instance_hours >= oracle.instance_hours - 1e-9, name


def test_own_period_false_runs_every_named_policy_at_the_pools_interval() -> None:
    """HPA decides every 15 s by default; ``own_period=False`` puts it on the pool's 60 s grid."""
    loads = np.repeat([20.0, 60.0, 30.0, 90.0], 6)  # 2 hours of a 5-minute trace
    cap = capacity_for(loads, 300.0, 60.0, units=9, quantile=100.0)
    spec = DecisionSpec(pool="p", min=1, max=100, policies=(), unit_capacity=cap)
    sc = Scenario(300.0, loads, spec, (InstanceType("default"),), 60.0, FleetSettings(boot_delay=120.0))
    own = run_policy(sc, "hpa").timeline
    pooled = run_policy(sc, "hpa", own_period=False).timeline
    assert (own.interval, len(own.t)) == (15.0, 480)
    assert (pooled.interval, len(pooled.t)) == (60.0, 120)
    # a policy without a period of its own is the same run either way
    a = run_policy(sc, "recommended").timeline
    b = run_policy(sc, "recommended", own_period=False).timeline
    assert np.array_equal(a.provisioned, b.provisioned)
