"""Policies ``step`` (AWS-like bands with step sizes) and ``fixed``."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from fleetscale.model import Observation, Proposal, Snapshot
from fleetscale.policy.context import PolicyContext, read_metric
from fleetscale.policy.fixed import FixedPolicy
from fleetscale.policy.step import Step, StepPolicy

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def propose(
    policy: StepPolicy | FixedPolicy, value: float | None, current: int, unit_capacity: float = 10.0
) -> Proposal:
    obs = () if value is None else (Observation("src", "load", value, NOW),)
    readings = {m: read_metric(obs, m, NOW, 300.0) for m in policy.metrics}
    ctx = PolicyContext(NOW, current, unit_capacity, 0, 100, readings)
    proposal, _ = policy.propose(Snapshot("p", NOW, (), obs), ctx, None, policy.kind)
    return proposal


BANDS = StepPolicy(
    compare="utilisation",
    steps=(
        Step(above=0.9, add_percent=50),
        Step(above=0.7, below=0.9, add=1),
        Step(below=0.3, remove=2),
        Step(above=0.3, below=0.4, remove_percent=10),
    ),
)


class TestStep:
    """The first band holding the value applies; percent changes round like AWS."""

    @pytest.mark.parametrize(
        ("load", "current", "expected"),
        [
            (95, 10, 15),
            (80, 10, 11),
            (70, 10, 11),
            (60, 10, 10),
            (20, 10, 8),
            (35, 10, 9),
            (39, 13, 12),
            (2, 1, 0),
            (5, 0, 1),
            (0, 0, 0),
        ],
        ids=[
            "above-90pc-adds-half",
            "band-70-90-adds-one",
            "lower-bound-inclusive",
            "no-band-keeps",
            "below-30pc-removes-two",
            "percent-rounds-small-to-one",
            "percent-rounds-toward-zero",
            "never-negative",
            "zero-units-with-load-grows",
            "zero-units-zero-load",
        ],
    )
    def test_bands(self, load: float, current: int, expected: int) -> None:
        assert propose(BANDS, load, current).desired == expected

    def test_zero_units_with_load_takes_the_top_band(self) -> None:
        # infinite utilisation: the >= 0.9 band; +50 % of 0 units still adds min_adjustment
        assert propose(BANDS, 5, 0).reason == "load utilisation inf >= 0.9 -> +1 -> 1 units"

    def test_absolute_value_and_min_adjustment(self) -> None:
        policy = StepPolicy(steps=(Step(above=100, add_percent=10),), min_adjustment=3)
        assert propose(policy, 150, 10).desired == 13

    def test_reason(self) -> None:
        assert propose(BANDS, 80, 10).reason == "load utilisation 0.8 in [0.7, 0.9) -> +1 -> 11 units"

    def test_no_data_abstains(self) -> None:
        assert propose(BANDS, None, 10).desired is None

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"above": 1, "add": 1, "remove": 1}, "exactly one of add, remove"),
            ({"above": 1}, "exactly one of add, remove"),
            ({"add": 1}, "needs above and/or below"),
            ({"above": 2, "below": 1, "add": 1}, "above (2) must be lower than below (1)"),
            ({"above": 1, "add": -1}, "must be >= 0 (got -1)"),
        ],
        ids=["two-sizes", "no-size", "no-band", "inverted-band", "negative"],
    )
    def test_refused(self, kwargs: dict[str, float], message: str) -> None:
        with pytest.raises(ValueError, match=re.escape(message)):
            Step(**kwargs)  # type: ignore[arg-type]

    def test_needs_steps(self) -> None:
        with pytest.raises(ValueError, match="at least one step"):
            StepPolicy()


class TestFixed:
    """A constant, whatever the load."""

    @pytest.mark.parametrize(("units", "current"), [(3, 0), (3, 10), (0, 4)], ids=["up", "down", "zero"])
    def test_constant(self, units: int, current: int) -> None:
        p = propose(FixedPolicy(units=units), None, current)
        assert (p.desired, p.reason) == (units, f"fixed at {units} units")

    def test_refuses_negative(self) -> None:
        with pytest.raises(ValueError, match=re.escape("units must be >= 0 (got -1)")):
            FixedPolicy(units=-1)
