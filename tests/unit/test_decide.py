"""decide(): policies -> combine -> governor, end to end on small snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fleetscale.core import think
from fleetscale.decide import DecisionSpec, Memory, Override, decide
from fleetscale.model import Direction, Instance, InstanceState, InstanceType, Observation, Snapshot
from fleetscale.policy.fixed import FixedPolicy
from fleetscale.policy.schedule import SchedulePolicy, Threshold
from fleetscale.policy.target import TargetPolicy

NOW = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)


def snap(
    n: int, load: float | None, *, pending: int = 0, at: datetime = NOW, metric: str = "load"
) -> Snapshot:
    inst = tuple(Instance(f"i{k}", "default", InstanceState.READY) for k in range(n))
    inst += tuple(Instance(f"p{k}", "default", InstanceState.PENDING) for k in range(pending))
    obs = () if load is None else (Observation("src", metric, load, at),)
    return Snapshot("pool", NOW, inst, obs)


def seed_schedule() -> SchedulePolicy:
    return SchedulePolicy(
        metric="calls",
        auto_scale_threshold={
            "00:00:00": Threshold(unlockedMin=2, loadMax=0.7),
            "08:00:00": Threshold(unlockedMin=10, loadMax=0.75),
        },
    )


class TestDecide:
    """The decision names the rule that won and stays in bounds."""

    def test_seed_reason(self) -> None:
        spec = DecisionSpec(pool="gw", min=1, max=40, policies=(seed_schedule(),), unit_capacity=50)
        v = decide(snap(10, 412, metric="calls"), spec, Memory())
        assert v.decision.desired == 11
        assert "calls 412 / (loadMax 0.75 \u00d7 50 per unit) -> 11 units" in v.decision.reason
        assert "floor unlockedMin 10 (08:00 window)" in v.decision.reason

    @pytest.mark.parametrize(
        ("load", "current", "expected"),
        [(0, 5, 1), (100, 5, 4), (1000, 5, 40), (10**6, 5, 40)],
        ids=["idle-to-min", "down", "up", "capped-at-max"],
    )
    def test_target_within_bounds(self, load: float, current: int, expected: int) -> None:
        spec = DecisionSpec(pool="p", min=1, max=40, policies=(TargetPolicy(target=25),), governor=_no_stab())
        assert decide(snap(current, load), spec, Memory()).decision.desired == expected

    def test_no_data_holds(self) -> None:
        spec = DecisionSpec(pool="p", min=1, max=40, policies=(TargetPolicy(target=25),))
        v = decide(snap(5, None), spec, Memory())
        assert v.decision.direction is Direction.HOLD
        assert "no policy proposed" in v.decision.reason

    def test_override(self) -> None:
        spec = DecisionSpec(
            pool="p",
            min=1,
            max=40,
            policies=(FixedPolicy(units=3),),
            override=Override(hold=7, until=NOW + timedelta(hours=1)),
        )
        v = decide(snap(5, None), spec, Memory())
        assert v.decision.desired == 7
        assert "override" in v.decision.reason

    def test_think_plans(self) -> None:
        spec = DecisionSpec(pool="p", min=1, max=40, policies=(FixedPolicy(units=8),))
        verdict, plan = think(snap(5, None), spec, Memory(), (InstanceType("default"),), "r1")
        assert verdict.decision.desired == 8
        assert plan.launch[0].count == 3


def _no_stab():  # type: ignore[no-untyped-def]
    from fleetscale.governor.settings import DirectionRules, GovernorSettings

    return GovernorSettings(down=DirectionRules())
