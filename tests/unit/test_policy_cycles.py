"""Policy ``cycles``: the seed DynoScaler's counters, cycle by cycle."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fleetscale.model import Observation, Snapshot
from fleetscale.policy.context import PolicyContext, read_metric
from fleetscale.policy.cycles import CyclesPolicy, CyclesState

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def step(policy: CyclesPolicy, messages: float | None, dynos: int, state: CyclesState | None):  # type: ignore[no-untyped-def]
    obs = () if messages is None else (Observation("sqs", "backlog", messages, NOW),)
    readings = {"backlog": read_metric(obs, "backlog", NOW, 300.0)}
    ctx = PolicyContext(NOW, dynos, 1.0, 0, 100, readings)
    return policy.propose(Snapshot("p", NOW, (), obs), ctx, state, "cycles")


# Each row: messages in the queue, expected (desired, up_cnt, down_cnt) after the cycle.
# The dynos follow the decision (as the seed's Heroku formation would). Threshold 10 per dyno,
# UP_CYCLES 2, DOWN_CYCLES 3: an action comes on the cycle AFTER the counter reached its limit.
SEED_RUN = [
    (50, (2, 1, 0)),  # 50 / 2 = 25 >= 10: up 1
    (50, (2, 2, 0)),  # up 2 (= UP_CYCLES, but the seed checks before counting)
    (50, (3, 0, 0)),  # up_cnt >= 2 -> add one dyno, both counters reset
    (50, (3, 1, 0)),  # 50 / 3 = 16.7 -> up 1
    (0, (3, 0, 1)),  # below: down 1, up 1 -> 0
    (0, (3, 0, 2)),
    (30, (3, 1, 1)),  # 30 / 3 = 10: equality counts as above; down 2 -> 1
    (0, (3, 0, 2)),
    (0, (3, 0, 3)),  # down_cnt = DOWN_CYCLES
    (0, (2, 0, 0)),  # down_cnt >= 3 -> remove one dyno, both reset
    (0, (2, 0, 1)),
]


class TestSeedRun:
    """A seed-like run reproduces DynoScalerQSQ.run() counter for counter."""

    def test_run(self) -> None:
        policy = CyclesPolicy(threshold=10, up_cycles=2, down_cycles=3)
        dynos, state = 2, CyclesState()
        for i, (messages, (desired, up, down)) in enumerate(SEED_RUN):
            proposal, state = step(policy, messages, dynos, state)
            assert (proposal.desired, state.up_cnt, state.down_cnt) == (desired, up, down), f"cycle {i}"
            dynos = proposal.desired

    def test_immediate_acts_on_reaching(self) -> None:
        policy = CyclesPolicy(threshold=10, up_cycles=2, down_cycles=3, immediate=True)
        p1, s1 = step(policy, 50, 2, CyclesState())
        p2, s2 = step(policy, 50, 2, s1)
        assert (p1.desired, p2.desired) == (2, 3)
        assert s2 == CyclesState(0, 0)


class TestCounters:
    """One cycle from a given state."""

    @pytest.mark.parametrize(
        ("messages", "dynos", "before", "desired", "after"),
        [
            (100, 2, CyclesState(0, 0), 2, CyclesState(1, 0)),
            (100, 2, CyclesState(0, 4), 2, CyclesState(1, 3)),
            (0, 2, CyclesState(0, 0), 2, CyclesState(0, 1)),
            (0, 2, CyclesState(5, 0), 2, CyclesState(4, 1)),
            (20, 2, CyclesState(0, 0), 2, CyclesState(1, 0)),
            (19.9, 2, CyclesState(0, 0), 2, CyclesState(0, 1)),
            (100, 2, CyclesState(3, 2), 3, CyclesState(0, 0)),
            (0, 2, CyclesState(2, 5), 1, CyclesState(0, 0)),
            (5, 0, CyclesState(0, 0), 0, CyclesState(1, 0)),
            (5, 0, CyclesState(3, 0), 1, CyclesState(0, 0)),
            (0, 0, CyclesState(0, 0), 0, CyclesState(0, 1)),
            (0, 1, CyclesState(0, 5), 0, CyclesState(0, 0)),
        ],
        ids=[
            "above-counts-up",
            "above-decreases-down",
            "below-counts-down",
            "below-decreases-up",
            "equality-is-above",
            "just-below",
            "up-acts-and-resets",
            "down-acts-and-resets",
            "zero-dynos-with-backlog-is-above",
            "zero-dynos-adds-one",
            "zero-dynos-empty-queue-is-below",
            "down-to-zero",
        ],
    )
    def test_cycle(
        self, messages: float, dynos: int, before: CyclesState, desired: int, after: CyclesState
    ) -> None:
        policy = CyclesPolicy(threshold=10, up_cycles=3, down_cycles=5)
        proposal, state = step(policy, messages, dynos, before)
        assert (proposal.desired, state) == (desired, after)

    def test_counters_never_negative(self) -> None:
        policy = CyclesPolicy(threshold=10, up_cycles=3, down_cycles=1000)
        state = CyclesState()
        for _ in range(50):
            _, state = step(policy, 0, 4, state)
        assert state.up_cnt == 0
        _, state = step(policy, 100, 4, state)
        assert state == CyclesState(1, 49)

    def test_no_data_keeps_counters(self) -> None:
        policy = CyclesPolicy(threshold=10, up_cycles=3, down_cycles=5)
        proposal, state = step(policy, None, 4, CyclesState(2, 0))
        assert proposal.desired is None
        assert state == CyclesState(2, 0)

    def test_reason(self) -> None:
        policy = CyclesPolicy(threshold=10, up_cycles=3, down_cycles=5)
        proposal, _ = step(policy, 100, 4, CyclesState(3, 0))
        assert (
            proposal.reason == "backlog 100 / 4 -> 25 per instance >= 10; up 3/3 -> 5 units; counters reset"
        )
