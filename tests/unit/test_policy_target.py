"""Policy ``target``: ceil(metric / per-unit target), the HPA ratio form, the tolerance band."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from fleetscale.model import Observation, Snapshot
from fleetscale.policy.context import PolicyContext, read_metric
from fleetscale.policy.target import TargetPolicy

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def propose(policy: TargetPolicy, obs: tuple[Observation, ...], current: int, unit_capacity: float = 1.0):  # type: ignore[no-untyped-def]
    readings = {m: read_metric(obs, m, NOW, 300.0) for m in policy.metrics}
    ctx = PolicyContext(NOW, current, unit_capacity, 0, 1000, readings)
    proposal, state = policy.propose(Snapshot("p", NOW, (), obs), ctx, None, "t")
    assert state is None
    return proposal


def load(value: float, metric: str = "load") -> tuple[Observation, ...]:
    return (Observation("src", metric, value, NOW),)


class TestTotalMode:
    """desired = ceil(metric / per-unit target), per unit absolute or as utilisation."""

    @pytest.mark.parametrize(
        ("policy", "value", "current", "unit_capacity", "expected"),
        [
            (TargetPolicy(target=25), 100, 1, 1.0, 4),
            (TargetPolicy(target=25), 101, 1, 1.0, 5),
            (TargetPolicy(target=25), 0, 7, 1.0, 0),
            (TargetPolicy(utilisation=0.75), 412, 3, 50.0, 11),
            (TargetPolicy(utilisation=0.6), 30, 3, 50.0, 1),
            (TargetPolicy(), 375, 3, 50.0, 10),
            (TargetPolicy(target=25, tolerance=0.1), 105, 4, 1.0, 4),
            (TargetPolicy(target=25, tolerance=0.1), 111, 4, 1.0, 5),
            (TargetPolicy(target=25, tolerance=0.1), 91, 4, 1.0, 4),
            (TargetPolicy(target=25, tolerance=0.1), 89, 4, 1.0, 4),
            (TargetPolicy(target=25, tolerance=0.1), 74, 4, 1.0, 3),
            (TargetPolicy(target=25, tolerance=0.1), 50, 0, 1.0, 2),
        ],
        ids=[
            "exact",
            "rounds-up",
            "zero-load",
            "seed-loadMax",
            "float-noise-30-over-30",
            "default-75pc",
            "tolerance-holds-up",
            "beyond-tolerance-up",
            "tolerance-holds-down",
            "ceil-of-3.56-is-4",
            "beyond-tolerance-down",
            "no-tolerance-from-zero",
        ],
    )
    def test_desired(
        self, policy: TargetPolicy, value: float, current: int, unit_capacity: float, expected: int
    ) -> None:
        assert propose(policy, load(value), current, unit_capacity).desired == expected

    def test_reason_shows_the_arithmetic(self) -> None:
        p = propose(TargetPolicy(metric="calls", utilisation=0.75), load(412, "calls"), 10, 50.0)
        assert p.reason == "calls 412 / (0.75 \u00d7 50 per unit) -> 11 units"

    def test_sums_per_instance_readings_without_a_pool_total(self) -> None:
        obs = tuple(
            Observation("src", "sessions", v, NOW, instance_id=f"i{k}") for k, v in enumerate((10, 20, 31))
        )
        assert propose(TargetPolicy(metric="sessions", target=10), obs, 3).desired == 7


class TestRatioMode:
    """HPA: desired = ceil(current x average / target)."""

    @pytest.mark.parametrize(
        ("value", "current", "tolerance", "expected"),
        [(0.9, 4, 0.0, 6), (0.6, 4, 0.0, 4), (0.3, 4, 0.0, 2), (0.64, 10, 0.1, 10), (0.67, 10, 0.1, 12)],
        ids=["up", "on-target", "down", "within-tolerance", "beyond-tolerance"],
    )
    def test_ratio(self, value: float, current: int, tolerance: float, expected: int) -> None:
        policy = TargetPolicy(metric="cpu", target=0.6, mode="ratio", tolerance=tolerance)
        assert propose(policy, load(value, "cpu"), current).desired == expected

    def test_per_instance_average(self) -> None:
        obs = tuple(
            Observation("s", "cpu", v, NOW, instance_id=f"i{k}") for k, v in enumerate((0.9, 0.9, 0.3))
        )
        assert propose(TargetPolicy(metric="cpu", target=0.5, mode="ratio"), obs, 3).desired == 5

    def test_cannot_scale_from_zero(self) -> None:
        p = propose(TargetPolicy(metric="cpu", target=0.6, mode="ratio"), load(0.9, "cpu"), 0)
        assert p.desired is None
        assert "from 0 units" in p.reason


class TestNoData:
    """No usable reading -> abstain (the governor then holds)."""

    @pytest.mark.parametrize(
        "obs",
        [(), (Observation("src", "load", None, NOW, error="timeout"),)],
        ids=["missing", "failed"],
    )
    def test_abstains(self, obs: tuple[Observation, ...]) -> None:
        p = propose(TargetPolicy(target=10), obs, 3)
        assert p.desired is None
        assert "no usable load" in p.reason


class TestValidation:
    """Bad settings are refused with the field and the value."""

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"target": 1, "utilisation": 0.5}, "either target or utilisation"),
            ({"target": 0}, "target must be > 0 (got 0)"),
            ({"utilisation": -0.5}, "utilisation must be in (0, 10] (got -0.5)"),
            ({"tolerance": 1.5}, "tolerance must be in [0, 1) (got 1.5)"),
        ],
        ids=["both", "zero-target", "negative-utilisation", "tolerance"],
    )
    def test_refused(self, kwargs: dict[str, float], message: str) -> None:
        with pytest.raises(ValueError, match=re.escape(message)):
            TargetPolicy(**kwargs)  # type: ignore[arg-type]
