"""Invariants of decide() + governor, checked by hypothesis.

- the decision is always within [min, max];
- no scale-down while a scale-down cooldown runs or while the stabilisation window holds a
  desire at or above the current capacity (unless the current capacity is above max);
- a constant load never flaps: with the pool following every decision, all the changes over
  200 cycles go the same direction (no reversal at all, so at most one change of direction
  counting the initial hold); with the default governor the pool comes to rest.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from fleetscale.decide import DecisionSpec, Memory, compile_spec, decide
from fleetscale.governor.memory import GovernorMemory
from fleetscale.governor.settings import DirectionRules, GovernorSettings
from fleetscale.model import Direction, Instance, InstanceState, Observation, Snapshot
from fleetscale.policy.fixed import FixedPolicy
from fleetscale.policy.step import Step, StepPolicy
from fleetscale.policy.target import TargetPolicy

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
POOLS = {n: tuple(Instance(f"i{k}", "t", InstanceState.READY) for k in range(n)) for n in range(0, 121)}


def snapshot(now: datetime, units: int, load: float | None) -> Snapshot:
    obs = () if load is None else (Observation("src", "load", load, now),)
    return Snapshot("p", now, POOLS[units], obs)


directions = st.builds(
    DirectionRules,
    hysteresis=st.integers(1, 4),
    stabilisation=st.sampled_from([0.0, 60.0, 300.0]),
    cooldown=st.sampled_from([0.0, 30.0, 120.0]),
    max_step_count=st.one_of(st.none(), st.integers(1, 5)),
    max_step_percent=st.one_of(st.none(), st.sampled_from([10.0, 50.0, 100.0])),
    step_period=st.sampled_from([15.0, 60.0, 300.0]),
)
governors = st.builds(GovernorSettings, up=directions, down=directions)
targets = st.one_of(
    st.builds(TargetPolicy, target=st.floats(1, 50), tolerance=st.sampled_from([0.0, 0.1])),
    st.builds(TargetPolicy, utilisation=st.floats(0.2, 1.0), tolerance=st.sampled_from([0.0, 0.1])),
)
policies = st.one_of(
    targets,
    st.builds(FixedPolicy, units=st.integers(0, 120)),
    st.just(StepPolicy(steps=(Step(above=500, add=3), Step(below=100, remove_percent=50)))),
)


@st.composite
def bounds(draw: st.DrawFn) -> tuple[int, int]:
    lo = draw(st.integers(0, 20))
    return lo, draw(st.integers(max(lo, 1), 100))


class TestBounds:
    """Whatever the policies, history and data, the decision is within [min, max]."""

    @settings(max_examples=300, deadline=None)
    @given(
        bounds(),
        st.lists(policies, min_size=1, max_size=3),
        governors,
        st.integers(0, 120),
        st.one_of(st.none(), st.floats(0, 5000)),
        st.integers(0, 5),
    )
    def test_within_bounds(
        self,
        mm: tuple[int, int],
        pols: list[TargetPolicy],
        gov: GovernorSettings,
        current: int,
        load: float | None,
        steps: int,
    ) -> None:
        spec = DecisionSpec(
            pool="p", min=mm[0], max=mm[1], policies=tuple(pols), governor=gov, unit_capacity=10
        )
        memory = Memory()
        units = current
        for k in range(steps + 1):
            v = decide(snapshot(T0 + timedelta(seconds=30 * k), units, load), compile_spec(spec), memory)
            assert mm[0] <= v.decision.desired <= mm[1], v.decision.reason
            memory, units = v.memory, v.decision.desired


class TestNoShrinkWhileHeld:
    """Cooldowns and stabilisation windows block scale-down inside [min, max]."""

    @settings(max_examples=200, deadline=None)
    @given(
        st.integers(1, 100),
        st.integers(0, 100),
        st.floats(0, 119),
        governors,
    )
    def test_cooldown(self, current: int, wanted: int, since: float, gov: GovernorSettings) -> None:
        gov = GovernorSettings(
            up=gov.up, down=DirectionRules(cooldown=120, stabilisation=gov.down.stabilisation)
        )
        spec = DecisionSpec(pool="p", min=0, max=100, policies=(FixedPolicy(units=wanted),), governor=gov)
        memory = Memory(GovernorMemory(last_down_at=T0 - timedelta(seconds=since)))
        v = decide(snapshot(T0, current, None), compile_spec(spec), memory)
        assert v.decision.direction is not Direction.DOWN

    @settings(max_examples=200, deadline=None)
    @given(st.integers(1, 100), st.integers(0, 100), st.floats(0, 299), st.integers(0, 50))
    def test_stabilisation(self, current: int, wanted: int, since: float, extra: int) -> None:
        gov = GovernorSettings(down=DirectionRules(stabilisation=300))
        spec = DecisionSpec(pool="p", min=0, max=100, policies=(FixedPolicy(units=wanted),), governor=gov)
        earlier = min(100, current + extra)  # a desire >= current, `since` seconds ago
        memory = Memory(GovernorMemory(desires=((T0 - timedelta(seconds=since), earlier),)))
        v = decide(snapshot(T0, current, None), compile_spec(spec), memory)
        assert v.decision.direction is not Direction.DOWN


class TestNoFlap:
    """A constant load: the pool moves one way (if at all), then rests."""

    @settings(max_examples=80, deadline=None)
    @given(targets, governors, st.integers(0, 100), st.floats(0, 3000), bounds())
    def test_constant_load(
        self, policy: TargetPolicy, gov: GovernorSettings, start: int, load: float, mm: tuple[int, int]
    ) -> None:
        spec = DecisionSpec(
            pool="p", min=mm[0], max=mm[1], policies=(policy,), governor=gov, unit_capacity=10
        )
        memory, units = Memory(), start
        moves: list[Direction] = []
        for k in range(200):
            v = decide(snapshot(T0 + timedelta(seconds=60 * k), units, load), compile_spec(spec), memory)
            if v.decision.direction is not Direction.HOLD:
                moves.append(v.decision.direction)
            memory, units = v.memory, v.decision.desired
        assert len(set(moves)) <= 1, moves

    @settings(max_examples=60, deadline=None)
    @given(targets, st.integers(0, 100), st.floats(0, 3000), bounds())
    def test_comes_to_rest(self, policy: TargetPolicy, start: int, load: float, mm: tuple[int, int]) -> None:
        """With the default governor the pool reaches its target and stays there."""
        spec = DecisionSpec(pool="p", min=mm[0], max=mm[1], policies=(policy,), unit_capacity=10)
        memory, units = Memory(), start
        for k in range(30):
            v = decide(snapshot(T0 + timedelta(seconds=60 * k), units, load), compile_spec(spec), memory)
            memory, units = v.memory, v.decision.desired
        for k in range(30, 40):
            v = decide(snapshot(T0 + timedelta(seconds=60 * k), units, load), compile_spec(spec), memory)
            assert v.decision.direction is Direction.HOLD, v.decision.reason
            memory = v.memory
