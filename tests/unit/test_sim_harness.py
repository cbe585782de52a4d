"""The harness: resampling a trace onto the decision grid, boot and drain timing, failures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fleetscale.decide import DecisionSpec
from fleetscale.governor.settings import DirectionRules, GovernorSettings
from fleetscale.model import InstanceType
from fleetscale.policy.fixed import FixedPolicy
from fleetscale.policy.target import TargetPolicy
from fleetscale.sim.run import FleetSettings, Timeline, resample, simulate

TYPES = (InstanceType("default"),)
NOW_GOV = GovernorSettings(down=DirectionRules())


class TestResample:
    """Coarse traces are held, fine traces averaged (time-weighted)."""

    @pytest.mark.parametrize(("loads", "trace_dt", "step", "expected"), [
        ([1.0, 3.0], 300.0, 60.0, [1, 1, 1, 1, 1, 3, 3, 3, 3, 3]),
        ([1.0, 3.0, 5.0, 7.0], 1.0, 2.0, [2.0, 6.0]),
        ([1.0, 2.0, 3.0], 1.0, 2.0, [1.5]),  # the last partial step is dropped
        ([2.0, 4.0], 90.0, 60.0, [2.0, 3.0, 4.0]),  # a step straddling two rows
        ([5.0, 6.0], 60.0, 60.0, [5.0, 6.0]),
    ], ids=["hold", "average", "partial", "straddle", "same"])
    def test_values(self, loads, trace_dt, step, expected) -> None:
        assert resample(np.array(loads), trace_dt, step).tolist() == pytest.approx(expected)


def _spec(*policies, gov: GovernorSettings = NOW_GOV, lo: int = 1) -> DecisionSpec:
    return DecisionSpec(pool="p", min=lo, max=100, policies=policies, governor=gov, unit_capacity=10.0)


class TestTiming:
    """Honest timing: a step's load is known at its end; a launch is in service after the boot
    delay; a drain ends at zero sessions, at the earliest a step after it began."""

    def test_boot_takes_two_steps_after_the_step_is_known(self) -> None:
        load = np.array([10.0, 50.0, 50.0, 50.0, 50.0])
        fleet = FleetSettings(boot_delay=120.0)
        tl = simulate(load, _spec(TargetPolicy(utilisation=1.0)), TYPES, 60.0, fleet)
        assert tl.demanded.tolist() == [1, 5, 5, 5, 5]
        # the rise in step 1 (t=60) is known at t=120: launched then, in service at t=240
        assert tl.ready.tolist() == [1, 1, 1, 1, 5]
        assert tl.provisioned.tolist() == [1, 1, 5, 5, 5]
        s = tl.scores()
        assert s.tau_under == pytest.approx(60.0)

    def test_drain_is_paid_one_step(self) -> None:
        load = np.array([50.0, 50.0, 10.0, 10.0, 10.0])
        tl = simulate(load, _spec(TargetPolicy(utilisation=1.0)), TYPES, 60.0, FleetSettings(boot_delay=0.0))
        assert tl.ready.tolist() == [5, 5, 5, 1, 1]
        assert tl.provisioned.tolist() == [5, 5, 5, 5, 1]

    def test_longer_drain(self) -> None:
        load = np.array([50.0] + [10.0] * 6)
        tl = simulate(load, _spec(TargetPolicy(utilisation=1.0)), TYPES, 60.0,
                      FleetSettings(boot_delay=0.0, drain_time=150.0))
        # drained from t=120 (when the drop is known); its sessions end at t=270
        assert tl.provisioned.tolist() == [5, 5, 5, 5, 5, 1, 1]

    def test_initial_and_actions(self) -> None:
        load = np.array([10.0] * 4)
        fleet = FleetSettings(boot_delay=60.0)
        tl = simulate(load, _spec(FixedPolicy(units=3)), TYPES, 60.0, fleet, initial=3)
        assert tl.ready.tolist() == [3, 3, 3, 3]
        assert tl.scale_actions == 0

    def test_boot_failures_are_paid_and_replaced(self) -> None:
        load = np.array([10.0] + [80.0] * 60)
        fleet = FleetSettings(boot_delay=60.0, boot_failure_rate=0.5, boot_timeout=300.0, seed=3)
        tl = simulate(load, _spec(TargetPolicy(utilisation=1.0)), TYPES, 60.0, fleet)
        # booting instances count as capacity, so a dud is paid and waited for until the boot
        # timeout removes it (the reconciler, after the cycle's decision); the next cycle
        # replaces it
        assert tl.provisioned[2:7].tolist() == [8] * 5  # the rise is known at step 2
        assert max(tl.provisioned) == 8 and min(tl.provisioned[2:]) < 8
        assert tl.ready[3] < 8 and tl.ready[6] < 8
        assert tl.ready[-1] == 8

    def test_record_keeps_decisions(self) -> None:
        load = np.array([10.0, 30.0, 30.0])
        tl = simulate(load, _spec(TargetPolicy(utilisation=1.0)), TYPES, 60.0, record=True)
        assert [(d.current, d.desired) for d in tl.decisions] == [(1, 1), (1, 1), (1, 3)]
        assert len(tl.records) == 3 and tl.records[0].errors  # nothing completed at t=0


def test_trace_feeds_the_metric_the_policy_names() -> None:
    """A pool tracking ``calls`` sees the trace as ``calls`` (it would hold with no reading)."""
    load = np.array([10.0, 45.0, 45.0, 45.0, 45.0])
    spec = _spec(TargetPolicy(metric="calls", target=10.0))
    tl = simulate(load, spec, TYPES, 60.0, FleetSettings(boot_delay=60.0))
    assert tl.ready.tolist() == [1, 1, 1, 5, 5]


def test_timeline_times_are_exact_past_1e7_seconds(tmp_path: Path) -> None:
    """A timeline longer than 1e7 s (116 days at 60 s) reads back strictly increasing and equal."""
    n = 200_000  # 1.2e7 s at 60 s
    load = np.full(n, 10.0)
    tl = Timeline(t=np.arange(n, dtype=np.float64) * 60.0, load=load, demanded=np.ones(n, dtype=np.int64),
                  ready=np.ones(n, dtype=np.int64), provisioned=np.ones(n, dtype=np.int64),
                  interval=60.0, capacity=10.0)
    path = tmp_path / "t.csv"
    tl.write_csv(str(path))
    back = np.loadtxt(path, delimiter=",", skiprows=1, usecols=0)
    assert back[-1] == (n - 1) * 60.0 > 1e7
    assert (np.diff(back) == 60.0).all()
    odd = Timeline(t=np.array([0.0, 0.1, 1e7 + 0.3]), load=np.array([0.1, 1 / 3, 2.0]),
                   demanded=np.ones(3, dtype=np.int64), ready=np.ones(3, dtype=np.int64),
                   provisioned=np.ones(3, dtype=np.int64), interval=0.1, capacity=1.0)
    odd.write_csv(str(path))
    rows = np.loadtxt(path, delimiter=",", skiprows=1)
    assert rows[:, 0].tolist() == [0.0, 0.1, 1e7 + 0.3] and rows[:, 1].tolist() == [0.1, 1 / 3, 2.0]
