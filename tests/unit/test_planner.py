"""plan(): drain reuse, the cheapest launch mix, victim choice by live sessions."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetscale.errors import PlanError
from fleetscale.model import (
    Decision,
    Instance,
    InstanceState,
    InstanceType,
    Launch,
    Observation,
    Snapshot,
)
from fleetscale.planner import cheapest_mix, plan

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
R, P, D = InstanceState.READY, InstanceState.PENDING, InstanceState.DRAINING
ONE = (InstanceType("std"),)


def inst(id_: str, state: InstanceState = R, age_min: int = 60, weight: int = 1) -> Instance:
    return Instance(id_, "std", state, weight=weight, launched_at=NOW - timedelta(minutes=age_min))


def snap(instances: list[Instance], sessions: dict[str, int | None]) -> Snapshot:
    obs = tuple(
        Observation("src", "sessions", v, NOW, instance_id=k, error=None if v is not None else "timeout")
        for k, v in sessions.items()
    )
    return Snapshot("p", NOW, tuple(instances), obs)


def decision(current: int, desired: int) -> Decision:
    return Decision("p", NOW, current, desired, "test")


class TestScaleDown:
    """Fewest sessions first, unknown last, then newest; only begin_drain; never below desired."""

    @pytest.mark.parametrize(
        ("sessions", "ages", "drain", "expected"),
        [
            ({"a": 5, "b": 0, "c": 2}, {}, 1, ("b",)),
            ({"a": 5, "b": 0, "c": 2}, {}, 2, ("b", "c")),
            ({"a": 0, "b": 0, "c": 0}, {"a": 10, "b": 5, "c": 30}, 1, ("b",)),
            ({"a": None, "b": 7, "c": 3}, {}, 2, ("c", "b")),
            ({"b": 7, "c": 3}, {}, 3, ("c", "b", "a")),
        ],
        ids=["idle-first", "then-fewest", "ties-newest-first", "failed-read-is-busy", "missing-read-last"],
    )
    def test_victims(
        self, sessions: dict[str, int | None], ages: dict[str, int], drain: int, expected: tuple[str, ...]
    ) -> None:
        instances = [inst(i, age_min=ages.get(i, 60)) for i in "abc"]
        p = plan(decision(3, 3 - drain), snap(instances, sessions), ONE, "r1")
        assert p.begin_drain == expected
        assert (p.terminate, p.launch, p.cancel_drain) == ((), (), ())

    def test_only_ready_instances(self) -> None:
        instances = [inst("a", P), inst("b", D), inst("c")]
        p = plan(decision(2, 0), snap(instances, {"a": 0, "b": 0, "c": 9}), ONE, "r1")
        assert p.begin_drain == ("c",)

    def test_never_below_desired_with_weights(self) -> None:
        instances = [inst("big", weight=4), inst("s1"), inst("s2")]
        p = plan(decision(6, 3), snap(instances, {"big": 0, "s1": 1, "s2": 2}), ONE, "r1")
        assert p.begin_drain == ("s1", "s2")
        assert "1 units not drained" in p.reason

    def test_reason(self) -> None:
        p = plan(decision(3, 2), snap([inst("a"), inst("b")], {"a": 4, "b": 0}), ONE, "r1")
        assert p.reason == (
            "down 3 -> 2 units: begin draining b (0 sessions) (1 units; fewest sessions first, then newest)"
        )


class TestGarbageSessions:
    """A garbage session count (NaN, inf, negative) is unknown: such an instance is drained last."""

    @pytest.mark.parametrize("garbage", [float("nan"), float("inf"), -1.0], ids=["nan", "inf", "negative"])
    def test_garbage_count_is_treated_as_busy(self, garbage: float) -> None:
        s = snap([inst("a"), inst("b"), inst("c")], {"a": garbage, "b": 5, "c": 0})  # type: ignore[dict-item]
        p = plan(decision(3, 1), s, ONE, "r")
        assert p.begin_drain == ("c", "b")


class TestScaleUp:
    """Reuse draining instances first (most sessions first), then launch the cheapest mix."""

    def test_cancels_drains_first(self) -> None:
        instances = [inst("a"), inst("d1", D), inst("d2", D), inst("d3", D)]
        p = plan(decision(1, 3), snap(instances, {"d1": 1, "d2": 6, "d3": 0}), ONE, "r1")
        assert p.cancel_drain == ("d2", "d1")
        assert p.launch == ()

    def test_then_launches(self) -> None:
        p = plan(decision(1, 5), snap([inst("a"), inst("d1", D)], {"d1": 0}), ONE, "r1")
        assert p.cancel_drain == ("d1",)
        assert p.launch == (Launch("std", 3),)
        assert p.request_id == "r1"
        assert "cancel the drain of 1 instance(s)" in p.reason and "launch 3 x std" in p.reason

    def test_no_type(self) -> None:
        with pytest.raises(PlanError, match="no instance type is configured"):
            plan(decision(1, 3), snap([inst("a")], {}), (), "r1")

    def test_no_type_is_fine_when_drains_cover_it(self) -> None:
        p = plan(decision(1, 2), snap([inst("a"), inst("d", D)], {}), (), "r1")
        assert p.cancel_drain == ("d",)

    @pytest.mark.parametrize(
        ("types", "gap", "mix"),
        [
            ((InstanceType("s", 1, 1.0), InstanceType("l", 4, 3.0)), 5, (("s", 1), ("l", 1))),
            ((InstanceType("s", 1, 1.0), InstanceType("l", 4, 3.0)), 3, (("s", 3),)),
            ((InstanceType("s", 1, 1.0), InstanceType("l", 4, 5.0)), 4, (("s", 4),)),
            ((InstanceType("s", 1, 1.0), InstanceType("l", 4, 4.0)), 4, (("l", 1),)),
            ((InstanceType("m", 3, 2.0), InstanceType("l", 5, 3.0)), 7, (("m", 1), ("l", 1))),
        ],
        ids=[
            "mix",
            "equal-cost-no-free-overshoot",
            "small-cheaper",
            "tie-fewer-instances",
            "overshoot-allowed",
        ],
    )
    def test_cheapest_mix(
        self, types: tuple[InstanceType, ...], gap: int, mix: tuple[tuple[str, int], ...]
    ) -> None:
        assert cheapest_mix(types, gap)[0] == mix

    def test_hold_is_empty(self) -> None:
        p = plan(decision(3, 3), snap([inst("a")], {}), ONE, "r1")
        assert p.empty
        assert p.reason == "hold at 3 units: nothing to do"


def brute_force(types: tuple[InstanceType, ...], gap: int) -> tuple[float, int, int]:
    """(lowest cost, then smallest total, then fewest instances) over every covering mix."""
    best = (float("inf"), 0, 0)
    limits = [range(0, -(-gap // t.weight) + 1) for t in types]
    for counts in itertools.product(*limits):
        units = sum(c * t.weight for c, t in zip(counts, types, strict=True))
        if units >= gap:
            cost = round(sum(c * t.price for c, t in zip(counts, types, strict=True)), 9)
            best = min(best, (cost, units, sum(counts)))
    return best


type_lists = st.lists(
    st.builds(
        InstanceType,
        name=st.sampled_from(["a", "b", "c", "d"]),
        weight=st.integers(1, 6),
        price=st.integers(1, 40).map(lambda x: x / 4),
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda t: t.name,
)


class TestProperties:
    """Planner invariants."""

    @settings(max_examples=200, deadline=None)
    @given(type_lists, st.integers(1, 20))
    def test_mix_covers_and_is_cheapest(self, types: list[InstanceType], gap: int) -> None:
        mix, cost, units = cheapest_mix(tuple(types), gap)
        weights = {t.name: t for t in types}
        assert units == sum(weights[n].weight * c for n, c in mix) >= gap
        assert cost == pytest.approx(sum(weights[n].price * c for n, c in mix))
        cheapest, least, fewest = brute_force(tuple(types), gap)
        assert cost <= cheapest + 1e-9
        assert (units, sum(c for _, c in mix)) <= (least, fewest)

    @settings(max_examples=200, deadline=None)
    @given(
        st.lists(
            st.tuples(
                st.sampled_from([R, R, R, P, D]), st.one_of(st.none(), st.integers(0, 5)), st.integers(0, 500)
            ),
            min_size=1,
            max_size=12,
        ),
        st.integers(0, 12),
    )
    def test_victims(self, specs: list[tuple[InstanceState, int | None, int]], desired: int) -> None:
        instances = [inst(f"i{k}", state, age) for k, (state, _, age) in enumerate(specs)]
        sessions = {f"i{k}": s for k, (_, s, _) in enumerate(specs) if s is not None}
        current = sum(1 for i in instances if i.state in (R, P))
        p = plan(decision(current, min(desired, current)), snap(instances, sessions), ONE, "r")
        assert p.terminate == ()
        chosen = set(p.begin_drain)
        by_id = {i.id: i for i in instances}
        assert all(by_id[c].state is R for c in chosen)
        assert current - len(chosen) >= min(desired, current)
        # never a busy (or unknown) instance while an idle ready one is left undrained
        idle_left = [i for i in instances if i.state is R and i.id not in chosen and sessions.get(i.id) == 0]
        busy_chosen = [c for c in chosen if sessions.get(c) != 0]
        assert not (idle_left and busy_chosen)
        # fewer sessions always go before more (unknown counts as the most)
        rank = {i.id: sessions.get(i.id, 10**9) for i in instances}
        left = [i.id for i in instances if i.state is R and i.id not in chosen]
        if chosen and left:
            assert max(rank[c] for c in chosen) <= min(rank[x] for x in left)
