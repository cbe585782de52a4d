"""Extra cycles (notifications between scheduled cycles) never change how fast a pool may move.

A constant load, a pool that follows every decision at once, scheduled cycles every 15 s and
random extra cycles between them (``Snapshot.scheduled`` False). Checked by hypothesis:

- it never flaps: every change goes the same direction;
- hysteresis: a change comes only after the configured number of scheduled cycles since the
  previous change (an extra cycle counts for nothing; with hysteresis 1 it may act at once);
- cooldown and step-count limits hold in time;
- the policies counted in cycles (``cycles``, ``step``) decide exactly as without the extra
  cycles: the capacity at every scheduled cycle is the same.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from fleetscale.decide import DecisionSpec, Memory, compile_spec, decide
from fleetscale.governor.settings import DirectionRules, GovernorSettings
from fleetscale.model import Instance, InstanceState, Observation, Snapshot
from fleetscale.policy.cycles import CyclesPolicy
from fleetscale.policy.step import Step, StepPolicy
from fleetscale.policy.target import TargetPolicy

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
INTERVAL = 15.0
CYCLES = 40
POOLS = {n: tuple(Instance(f"i{k}", "t", InstanceState.READY) for k in range(n)) for n in range(0, 61)}

directions = st.builds(
    DirectionRules,
    hysteresis=st.integers(1, 4),
    stabilisation=st.sampled_from([0.0, 20.0, 60.0]),
    cooldown=st.sampled_from([0.0, 10.0, 40.0]),
    max_step_count=st.one_of(st.none(), st.integers(1, 4)),
    step_period=st.sampled_from([10.0, 30.0, 60.0]),
)
governors = st.builds(GovernorSettings, up=directions, down=directions)
absolute = st.builds(TargetPolicy, target=st.floats(1, 20), tolerance=st.sampled_from([0.0, 0.1]))
relative = st.one_of(
    st.builds(CyclesPolicy, threshold=st.floats(1, 30), up_cycles=st.integers(0, 3),
              down_cycles=st.integers(0, 3), immediate=st.booleans()),
    st.just(StepPolicy(steps=(Step(above=40, add=2), Step(below=10, remove=1)))),
)
#: offsets (fractions of an interval) of the extra cycles after each scheduled cycle
extras = st.lists(st.lists(st.floats(0.01, 0.99), max_size=3).map(sorted), min_size=CYCLES,
                  max_size=CYCLES)


def run(spec: DecisionSpec, start: int, load: float,
        offsets: list[list[float]] | None) -> list[tuple[float, bool, int, int]]:
    """(seconds, scheduled, current, desired) of every cycle; the pool follows each decision."""
    memory, current, out = Memory(), start, []
    for k in range(CYCLES):
        times = [(k * INTERVAL, True)]
        if offsets is not None:
            times += [((k + f) * INTERVAL, False) for f in offsets[k]]
        for at, scheduled in times:
            now = T0 + timedelta(seconds=at)
            snap = Snapshot("p", now, POOLS[current], (Observation("src", "load", load, now),), scheduled)
            verdict = decide(snap, compile_spec(spec), memory)
            memory = verdict.memory
            out.append((at, scheduled, current, verdict.decision.desired))
            current = verdict.decision.desired
    return out


def changes(history: list[tuple[float, bool, int, int]]) -> list[tuple[float, bool, int]]:
    return [(at, scheduled, desired - current) for at, scheduled, current, desired in history
            if desired != current]


def check_rules(spec: DecisionSpec, history: list[tuple[float, bool, int, int]]) -> None:
    moves = changes(history)
    assert len({m > 0 for _, _, m in moves}) <= 1, f"flapped: {moves}"
    scheduled_at = [at for at, scheduled, _, _ in history if scheduled]
    previous: float | None = None
    for at, scheduled, move in moves:
        rules = spec.governor.up if move > 0 else spec.governor.down
        n = rules.hysteresis
        since = [s for s in scheduled_at if (previous is None or s > previous) and s <= at]
        needed = n if (scheduled or n >= 2) else 0
        assert len(since) >= needed, f"moved at {at} after {len(since)} scheduled cycles (hysteresis {n})"
        if previous is not None:
            assert at - previous >= rules.cooldown - 1e-9, f"cooldown {rules.cooldown}: {previous} -> {at}"
        if rules.max_step_count is not None:
            window = sum(abs(m) for t, _, m in moves if at - rules.step_period < t <= at)
            assert window <= rules.max_step_count, f"step limit {rules.max_step_count}: {moves}"
        previous = at


class TestExtraCycles:
    """Random notifications never make a pool flap or move faster than its rules allow."""

    @settings(max_examples=150, deadline=None)
    @given(absolute, governors, st.integers(1, 40), st.floats(0, 400), extras)
    def test_target_with_extra_cycles_keeps_the_rules(
        self, policy: TargetPolicy, gov: GovernorSettings, start: int, load: float,
        offsets: list[list[float]],
    ) -> None:
        spec = DecisionSpec("p", 1, 60, (policy,), gov, unit_capacity=10.0)
        with_extras = run(spec, start, load, offsets)
        check_rules(spec, with_extras)
        # the extra cycles only ever move the pool the way the scheduled cycles alone move it
        plain = run(spec, start, load, None)
        way = plain[-1][3] - start
        assert all((m > 0) == (way > 0) and way != 0 for _, _, m in changes(with_extras))

    @settings(max_examples=150, deadline=None)
    @given(relative, governors, st.integers(1, 40), st.floats(0, 400), extras)
    def test_policies_counted_in_cycles_decide_as_without_extra_cycles(
        self, policy: CyclesPolicy | StepPolicy, gov: GovernorSettings, start: int, load: float,
        offsets: list[list[float]],
    ) -> None:
        spec = DecisionSpec("p", 1, 60, (policy,), gov, unit_capacity=10.0)
        with_extras = run(spec, start, load, offsets)
        check_rules(spec, with_extras)
        plain = run(spec, start, load, None)
        assert [h for h in with_extras if h[1]] == plain
        assert all(current == desired for _, scheduled, current, desired in with_extras if not scheduled)


def test_hysteresis_one_acts_on_an_extra_cycle_at_once() -> None:
    """The point of an extra cycle: with hysteresis 1 (the default) a surge acts at once."""
    spec = DecisionSpec("p", 1, 60, (TargetPolicy(target=10),), GovernorSettings())
    snap = Snapshot("p", T0, POOLS[2], (Observation("src", "load", 95.0, T0),), scheduled=False)
    verdict = decide(snap, compile_spec(spec), Memory())
    assert verdict.decision.desired == 10
    assert verdict.memory.governor.up_streak == 0


def test_hysteresis_two_holds_on_an_extra_cycle_and_counts_nothing() -> None:
    gov = GovernorSettings(up=DirectionRules(hysteresis=2))
    spec = DecisionSpec("p", 1, 60, (TargetPolicy(target=10),), gov)
    snap = Snapshot("p", T0, POOLS[2], (Observation("src", "load", 95.0, T0),), scheduled=False)
    verdict = decide(snap, compile_spec(spec), Memory())
    assert verdict.decision.desired == 2
    assert "extra cycle; 0 of 2 consecutive scheduled cycles want up" in verdict.decision.reason
    assert verdict.memory.governor.up_streak == 0
