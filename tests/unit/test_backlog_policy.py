"""Policy ``backlog``: backlog per instance from a latency objective and a measured rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetscale.decide import DecisionSpec, Memory, compile_spec, decide
from fleetscale.governor.settings import DirectionRules, GovernorSettings
from fleetscale.model import Instance, InstanceState, Observation, Snapshot
from fleetscale.policy.backlog import BacklogPolicy, RateState
from fleetscale.policy.context import PolicyContext, read_metric

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def snap(t: float, backlog: float | None, ready: int, error: str | None = None) -> Snapshot:
    now = T0 + timedelta(seconds=t)
    instances = tuple(Instance(f"w.{n}", "d", InstanceState.READY) for n in range(ready))
    return Snapshot("q", now, instances, (Observation("sqs", "backlog", backlog, now, error=error),))


def propose(policy: BacklogPolicy, s: Snapshot, state: object) -> tuple[int | None, str, object]:
    ready = s.units(InstanceState.READY)
    ctx = PolicyContext(
        s.now, ready, 1.0, 0, 100, {"backlog": read_metric(s.observations, "backlog", s.now, 300)}
    )
    proposal, new = policy.propose(s, ctx, state, "latency")
    return proposal.desired, proposal.reason, new


class TestTarget:
    """desired = ceil(backlog / (latency x rate per instance))."""

    @pytest.mark.parametrize(
        ("backlog", "desired"),
        [(0, 0), (1, 1), (240, 1), (241, 2), (1000, 5)],
        ids=["empty-to-zero", "first-message", "exactly-one", "just-over", "many"],
    )
    def test_configured_processing_time(self, backlog: float, desired: int) -> None:
        policy = BacklogPolicy(latency=120, processing_time=0.5)  # 240 messages per instance
        got, reason, _ = propose(policy, snap(0, backlog, 2), None)
        assert got == desired
        assert "latency 120 s" in reason and "0.5 s per message (configured)" in reason

    def test_assumed_until_measured(self) -> None:
        got, reason, state = propose(
            BacklogPolicy(latency=60, initial_processing_time=2), snap(0, 100, 1), None
        )
        assert got == 4 and "assumed" in reason  # 60 / 2 = 30 per instance
        assert isinstance(state, RateState) and state.samples == ()

    def test_failed_read_abstains_and_keeps_state(self) -> None:
        old = RateState(T0, 50.0, 2, (1.0,))
        got, reason, state = propose(
            BacklogPolicy(latency=60), snap(60, None, 2, error="sqs queue q: boom"), old
        )
        assert got is None and "boom" in reason and state is old


class TestMeasurement:
    """The rate is measured from successive readings while the backlog falls."""

    def test_rate_from_draining_queue(self) -> None:
        policy = BacklogPolicy(latency=100, initial_processing_time=100)
        state: object = None
        # 4 instances delete 2 messages/s each: 480 messages fewer per minute
        for i, backlog in enumerate([2000, 1520, 1040]):
            got, reason, state = propose(policy, snap(60 * i, backlog, 4), state)
        assert isinstance(state, RateState)
        assert state.samples == (2.0, 2.0) and state.rate == 2.0
        assert got == 6 and "measured, 2 samples" in reason  # 1040 / (100 x 2) = 5.2

    def test_rising_backlog_gives_no_sample_and_lower_bounds_keep_the_max(self) -> None:
        policy = BacklogPolicy(latency=100)
        state: object = None
        for i, (backlog, ready) in enumerate([(100, 2), (400, 2), (280, 2), (250, 2)]):
            _, _, state = propose(policy, snap(60 * i, backlog, ready), state)
        assert isinstance(state, RateState)
        assert state.samples == (1.0, 0.25) and state.rate == 1.0

    def test_no_sample_without_workers_or_over_short_intervals(self) -> None:
        policy = BacklogPolicy(latency=100, min_interval=5)
        _, _, state = propose(policy, snap(0, 100, 0), None)
        _, _, state = propose(policy, snap(60, 50, 2), state)  # nobody was working before
        _, _, state = propose(policy, snap(62, 40, 2), state)  # 2 s: too short
        assert isinstance(state, RateState) and state.samples == ()

    def test_window_bounds_memory(self) -> None:
        policy = BacklogPolicy(latency=10, window=3)
        state: object = None
        for i in range(10):
            _, _, state = propose(policy, snap(60 * i, 1000 - 60 * i, 1), state)
        assert isinstance(state, RateState) and len(state.samples) == 3

    @pytest.mark.parametrize(
        "bad", [{"latency": 0}, {"latency": 1, "processing_time": -1}, {"latency": 1, "window": 0}]
    )
    def test_invalid(self, bad: dict[str, float]) -> None:
        with pytest.raises(ValueError):
            BacklogPolicy(**bad)  # type: ignore[arg-type]


class TestThroughDecide:
    """Scale to zero when the queue empties, and back to one on the first message."""

    def test_zero_and_back(self) -> None:
        spec = DecisionSpec(
            pool="q",
            min=0,
            max=10,
            policies=(BacklogPolicy(latency=60, processing_time=1),),
            governor=GovernorSettings(down=DirectionRules(stabilisation=0.0)),
        )
        memory = Memory()
        verdict = decide(snap(0, 0, 1), compile_spec(spec), memory)
        assert verdict.decision.desired == 0
        verdict = decide(snap(60, 1, 0), compile_spec(spec), verdict.memory)
        assert verdict.decision.desired == 1 and "latency" in verdict.decision.reason


class TestLowerBound:
    """Whatever the arrivals, the measured rate never exceeds the workers' true rate."""

    @settings(max_examples=60, deadline=None)
    @given(
        rate=st.floats(0.01, 5.0),
        dynos=st.lists(st.integers(0, 6), min_size=3, max_size=25),
        arrivals=st.lists(st.integers(0, 500), min_size=25, max_size=25),
        start=st.integers(0, 2000),
    )
    def test_estimate_is_a_lower_bound(
        self, rate: float, dynos: list[int], arrivals: list[int], start: int
    ) -> None:
        policy = BacklogPolicy(latency=60)
        state: object = None
        backlog = float(start)
        for i, n in enumerate(dynos):
            _, _, state = propose(policy, snap(60 * i, backlog, n), state)
            backlog = max(0.0, backlog - rate * 60 * n) + arrivals[i]
        assert isinstance(state, RateState)
        assert state.rate is None or state.rate <= rate * (1 + 1e-9)
