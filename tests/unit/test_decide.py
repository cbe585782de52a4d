"""decide(): policies -> combine -> governor, end to end on small snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetscale.core import think
from fleetscale.decide import DecisionSpec, Memory, Override, compile_spec, decide
from fleetscale.model import Direction, Instance, InstanceState, InstanceType, Observation, Snapshot
from fleetscale.policy.fixed import FixedPolicy
from fleetscale.policy.predictive import PredictivePolicy
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
        v = decide(snap(10, 412, metric="calls"), compile_spec(spec), Memory())
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
        assert decide(snap(current, load), compile_spec(spec), Memory()).decision.desired == expected

    def test_no_data_holds(self) -> None:
        spec = DecisionSpec(pool="p", min=1, max=40, policies=(TargetPolicy(target=25),))
        v = decide(snap(5, None), compile_spec(spec), Memory())
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
        v = decide(snap(5, None), compile_spec(spec), Memory())
        assert v.decision.desired == 7
        assert "override" in v.decision.reason

    def test_think_plans(self) -> None:
        spec = DecisionSpec(pool="p", min=1, max=40, policies=(FixedPolicy(units=8),))
        verdict, plan = think(snap(5, None), compile_spec(spec), Memory(), (InstanceType("default"),), "r1")
        assert verdict.decision.desired == 8
        assert plan.launch[0].count == 3


def _no_stab():  # type: ignore[no-untyped-def]
    from fleetscale.governor.settings import DirectionRules, GovernorSettings

    return GovernorSettings(down=DirectionRules())


T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)


def at(now: datetime, n: int, obs: tuple[Observation, ...], pending: int = 0) -> Snapshot:
    inst = tuple(Instance(f"i{k}", "default", InstanceState.READY) for k in range(n))
    inst += tuple(Instance(f"p{k}", "default", InstanceState.PENDING) for k in range(pending))
    inst += (Instance("d0", "default", InstanceState.DRAINING),)
    return Snapshot("pool", now, inst, obs)


class TestEndToEnd:
    """decide() wiring: memory round trip, data rules, warm-up, operator controls."""

    def test_cycles_state_lives_in_memory(self) -> None:
        from fleetscale.policy.cycles import CyclesPolicy, CyclesState

        spec = DecisionSpec(pool="q", min=0, max=10, policies=(CyclesPolicy(threshold=10, up_cycles=2),))
        memory = Memory()
        desired = []
        for k in range(4):
            now = T0 + timedelta(minutes=k)
            v = decide(at(now, 2, (Observation("sqs", "backlog", 100, now),)), compile_spec(spec), memory)
            memory = v.memory
            desired.append(v.decision.desired)
        assert desired == [2, 2, 3, 2]  # acts on the 3rd cycle; the 4th starts counting again
        assert memory.policies["cycles"] == CyclesState(1, 0)

    def test_draining_does_not_count_and_pending_does(self) -> None:
        spec = DecisionSpec(pool="p", min=0, max=40, policies=(TargetPolicy(target=10),))
        v = decide(at(T0, 8, (Observation("s", "load", 110, T0),), pending=3), compile_spec(spec), Memory())
        assert (v.decision.current, v.decision.desired) == (11, 11)
        assert "warm-up: 3 booting units count as capacity (current 11)" in v.decision.reason

    def test_stale_load_never_shrinks(self) -> None:
        spec = DecisionSpec(pool="p", min=0, max=40, policies=(TargetPolicy(target=10),), governor=_no_stab())
        old = T0 - timedelta(seconds=412)
        v = decide(at(T0, 8, (Observation("s", "load", 30, old),)), compile_spec(spec), Memory())
        assert v.decision.desired == 8
        assert v.decision.reason == (
            "hold at 8: target: load 30 / (target 10 per unit) -> 3 units; "
            "data: load: newest reading is 412 s old (stale after 300 s) -> no scale-down, hold at 8"
        )

    def test_failed_per_instance_read_blocks_shrink_but_not_growth(self) -> None:
        spec = DecisionSpec(pool="p", min=0, max=40, policies=(TargetPolicy(metric="sessions", target=10),))
        obs = (
            Observation("s", "sessions", 5, T0, instance_id="i0"),
            Observation("s", "sessions", None, T0, instance_id="i1", error="connection refused"),
        )
        assert decide(at(T0, 4, obs), compile_spec(spec), Memory()).decision.desired == 4
        obs_big = (obs[0], Observation("s", "sessions", 95, T0, instance_id="i2"), obs[1])
        assert decide(at(T0, 4, obs_big), compile_spec(spec), Memory()).decision.desired == 10

    def test_pause_down(self) -> None:
        spec = DecisionSpec(
            pool="p",
            min=0,
            max=40,
            policies=(FixedPolicy(units=2),),
            paused=frozenset({Direction.DOWN}),
            governor=_no_stab(),
        )
        v = decide(at(T0, 5, ()), compile_spec(spec), Memory())
        assert v.decision.desired == 5
        assert "paused: scale-down is paused by the operator -> hold at 5" in v.decision.reason

    def test_proposals_and_runner_up_are_reported(self) -> None:
        spec = DecisionSpec(
            pool="p",
            min=0,
            max=40,
            policies=(FixedPolicy(units=2), TargetPolicy(target=10), FixedPolicy(units=9)),
        )
        v = decide(at(T0, 5, ()), compile_spec(spec), Memory())
        assert [p.policy for p in v.proposals] == ["fixed#0", "target", "fixed#2"]
        assert v.proposals[1].desired is None
        assert v.decision.reason.startswith("up 5 -> 9: fixed#2: fixed at 9 units [over fixed#0 -> 2]")

    def test_memory_stays_small_over_a_long_run(self) -> None:
        from fleetscale.governor.settings import DirectionRules, GovernorSettings

        gov = GovernorSettings(
            up=DirectionRules(max_step_count=2, step_period=120), down=DirectionRules(stabilisation=300)
        )
        spec = DecisionSpec(pool="p", min=0, max=40, policies=(TargetPolicy(target=10),), governor=gov)
        memory, units = Memory(), 5
        for k in range(2000):
            now = T0 + timedelta(minutes=k)
            load = 100 + 90 * ((k // 7) % 3)
            v = decide(at(now, units, (Observation("s", "load", load, now),)), compile_spec(spec), memory)
            memory, units = v.memory, v.decision.desired
        assert len(memory.governor.desires) <= 6
        assert len(memory.governor.changes) <= 3

    def test_same_inputs_same_verdict(self) -> None:
        spec = DecisionSpec(pool="gw", min=1, max=40, policies=(seed_schedule(),), unit_capacity=50)
        s = snap(10, 412, metric="calls")
        assert decide(s, compile_spec(spec), Memory()) == decide(s, compile_spec(spec), Memory())


class TestPolicyProtocol:
    """Any value with kind/name/metrics/compile/propose(snapshot, ctx, state, label) is a policy."""

    def test_custom_policy(self) -> None:
        from dataclasses import dataclass

        from fleetscale.model import Proposal
        from fleetscale.policy.context import PolicyContext

        @dataclass(frozen=True)
        class Doubler:
            kind: str = "doubler"
            name: str | None = None
            metrics: tuple[str, ...] = ()

            def compile(self, unit_capacity: float) -> Doubler:
                return self

            def propose(
                self, snapshot: Snapshot, ctx: PolicyContext, state: object, label: str
            ) -> tuple[Proposal, object]:
                load = ctx.reading("load").total  # not declared in `metrics`: read on demand
                seen = (state if isinstance(state, int) else 0) + 1
                return Proposal(label, int(2 * (load or 0)), f"twice the load (call {seen})"), seen

        spec = compile_spec(DecisionSpec(pool="p", min=0, max=40, policies=(Doubler(), Doubler())))
        assert spec.labels == ("doubler#0", "doubler#1")
        v = decide(at(T0, 3, (Observation("s", "load", 4, T0),)), spec, Memory())
        v = decide(at(T0 + timedelta(minutes=1), 3, (Observation("s", "load", 4, T0),)), spec, v.memory)
        assert [p.policy for p in v.proposals] == ["doubler#0", "doubler#1"]
        assert v.decision.desired == 8
        assert dict(v.memory.policies) == {"doubler#0": 2, "doubler#1": 2}
        assert "twice the load (call 2)" in v.decision.reason

    @pytest.mark.parametrize("make", [
        lambda: TargetPolicy(utilisation=0.75),
        lambda: seed_schedule(),
        lambda: PredictivePolicy(utilisation=0.8, horizon=120.0),
    ], ids=["target", "schedule", "predictive"])
    def test_compiled_proposes_as_the_spec(self, make: Any) -> None:
        """A compiled policy proposes exactly what its spec proposes (the spec compiles on
        each call; the compiled one computed its constants once)."""
        from fleetscale.policy.context import PolicyContext, Reading

        policy = make()
        compiled = policy.compile(50.0)
        state_a: object = None
        state_b: object = None
        for k in range(30):
            now = T0 + timedelta(minutes=10 * k)
            ctx = PolicyContext(now, 8, 50.0, 0, 100, {"load": Reading("load", 100.0 + 13 * k, None, now),
                                                       "calls": Reading("calls", 100.0 + 13 * k, None, now)})
            s = at(now, 8, ())
            a, state_a = policy.propose(s, ctx, state_a, "x")
            b, state_b = compiled.propose(s, ctx, state_b, "x")
            assert a == b
            assert repr(state_a) == repr(state_b)


class TestCompiledSpec:
    """compile_spec derives everything per-spec once; the caller holds it."""

    def test_values(self) -> None:
        from fleetscale.governor.settings import DirectionRules, GovernorSettings

        spec = DecisionSpec(
            pool="p", min=1, max=40, unit_capacity=50.0,
            policies=(TargetPolicy(metric="calls"), seed_schedule(), TargetPolicy(target=3.0),
                      FixedPolicy(units=2, name="floor")),
            governor=GovernorSettings(
                up=DirectionRules(stabilisation=60.0, max_step_count=2, step_period=90.0),
                down=DirectionRules(stabilisation=300.0),
            ),
            paused=frozenset({Direction.UP}),
        )
        c = compile_spec(spec)
        assert c.spec is spec
        assert c.labels == ("target#0", "schedule", "target#2", "floor")
        assert c.metrics == ("calls", "load")
        assert len(c.proposers) == 4
        assert c.governor.window_keep == timedelta(seconds=300)
        assert c.governor.change_keep == timedelta(seconds=90)
        assert c.governor.up.window == timedelta(seconds=60) and c.governor.up.limited
        assert not c.governor.down.limited
        assert c.governor.paused == frozenset({Direction.UP})
        assert (c.governor.pool_min, c.governor.pool_max) == (1, 40)

    def test_same_spec_same_compiled_value(self) -> None:
        spec = DecisionSpec(pool="gw", min=1, max=40, policies=(seed_schedule(),), unit_capacity=50)
        assert compile_spec(spec) == compile_spec(spec)

    def test_a_new_spec_is_a_new_compile(self) -> None:
        """An operator's pause is a new spec: the verdict follows the spec compiled from it."""
        from dataclasses import replace

        spec = DecisionSpec(pool="p", min=0, max=40, policies=(FixedPolicy(units=9),))
        s = snap(5, None)
        assert decide(s, compile_spec(spec), Memory()).decision.desired == 9
        paused = compile_spec(replace(spec, paused=frozenset({Direction.UP})))
        v = decide(s, paused, Memory())
        assert v.decision.desired == 5
        assert "scale-up is paused" in v.decision.reason


class TestGarbage:
    """A source returning garbage makes the pool hold, never shrink, never crash."""

    @pytest.mark.parametrize("value", [float("nan"), float("inf"), -5.0], ids=["nan", "inf", "negative"])
    @pytest.mark.parametrize("per_instance", [False, True], ids=["pool-wide", "per-instance"])
    def test_holds(self, value: float, per_instance: bool) -> None:
        spec = DecisionSpec(pool="p", min=0, max=40, policies=(TargetPolicy(target=10),), governor=_no_stab())
        iid = "i0" if per_instance else None
        obs = (Observation("s", "load", value, T0, instance_id=iid),)
        v = decide(at(T0, 6, obs), compile_spec(spec), Memory())
        assert v.decision.desired == 6
        assert "not a finite number >= 0" in v.decision.reason or "no policy proposed" in v.decision.reason

    @settings(max_examples=200, deadline=None)
    @given(
        st.lists(
            st.tuples(
                st.sampled_from(["load", "backlog", "calls"]),
                st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
                st.one_of(st.none(), st.sampled_from(["i0", "i1", "x"])),
                st.one_of(st.none(), st.just("boom")),
                st.integers(-900, 900),
            ),
            max_size=8,
        ),
        st.integers(0, 30),
    )
    def test_never_raises_and_never_shrinks_on_bad_data(
        self, rows: list[tuple[str, float | None, str | None, str | None, int]], units: int
    ) -> None:
        from fleetscale.policy.cycles import CyclesPolicy
        from fleetscale.policy.schedule import SchedulePolicy, Window
        from fleetscale.policy.step import Step, StepPolicy

        policies = (
            TargetPolicy(target=10),
            CyclesPolicy(threshold=5, up_cycles=0, down_cycles=0),
            SchedulePolicy(metric="calls", windows=(Window(start="00:00", utilisation=0.5),)),
            StepPolicy(steps=(Step(below=1, remove=3),)),
        )
        spec = DecisionSpec(pool="p", min=0, max=40, policies=policies, governor=_no_stab(), unit_capacity=4)
        obs = tuple(
            Observation("s", m, v, T0 + timedelta(seconds=dt), instance_id=i, error=e)
            for m, v, i, e, dt in rows
        )
        v = decide(at(T0, units, obs), compile_spec(spec), Memory())
        assert 0 <= v.decision.desired <= 40
        bad = [o for o in obs if not o.ok or not 0 <= (o.value or 0) < float("inf")]
        if bad and v.decision.current <= 40:
            assert v.decision.desired >= v.decision.current, v.decision.reason


class TestReadings:
    """How observations of one metric become one reading."""

    @pytest.mark.parametrize(
        ("rows", "total", "problem"),
        [
            ([(None, 40.0, None, 0)], 40.0, None),
            ([(None, 40.0, None, 0), (None, 50.0, None, -10)], 40.0, None),
            ([("i0", 10.0, None, 0), ("i1", 5.0, None, 0)], 15.0, None),
            (
                [(None, 40.0, None, 0), ("i0", None, "timeout", 0)],
                40.0,
                "load: 1 of 2 reads failed (timeout)",
            ),
            (
                [(None, None, "refused", 0), (None, 30.0, None, -5)],
                30.0,
                "load: 1 of 2 reads failed (refused)",
            ),
            ([(None, None, "refused", 0)], None, "load: read failed (refused)"),
            ([(None, 40.0, None, -301)], 40.0, "load: newest reading is 301 s old (stale after 300 s)"),
            ([("i0", 10.0, None, 0), ("i1", 5.0, None, -400)], 15.0, "load: newest reading is 400 s old"),
            ([], None, "load: no reading"),
        ],
        ids=[
            "pool-wide",
            "newest-pool-wide-wins",
            "per-instance-sum",
            "failed-per-instance-is-a-problem",
            "failed-pool-read-falls-back-with-problem",
            "only-failures",
            "stale",
            "oldest-per-instance-decides-staleness",
            "missing",
        ],
    )
    def test_read(
        self,
        rows: list[tuple[str | None, float | None, str | None, int]],
        total: float | None,
        problem: str | None,
    ) -> None:
        from fleetscale.policy.context import read_metric

        obs = tuple(
            Observation("s", "load", v, T0 + timedelta(seconds=dt), iid, err) for iid, v, err, dt in rows
        )
        r = read_metric(obs, "load", T0, 300.0)
        assert r.total == total
        assert (r.problem or "").startswith(problem or "")
        assert (r.problem is None) == (problem is None)

    def test_naive_timestamp_is_a_failed_read(self) -> None:
        from fleetscale.policy.context import read_metric

        naive = datetime(2026, 1, 5, 0, 0)
        obs = (Observation("s", "load", 5.0, naive), Observation("s", "load", 7.0, T0))
        r = read_metric(obs, "load", T0, 300.0)
        assert r.total is None
        assert r.problem is not None and r.problem.startswith("load: unusable timestamps")


def test_public_api_is_pinned() -> None:
    """The names other parts import (controller, simulator, config, journal)."""
    import inspect

    from fleetscale import core, planner
    from fleetscale import decide as decide_module

    for name in ("DecisionSpec", "Override", "Memory", "Verdict", "decide"):
        assert hasattr(decide_module, name), name
    for name in ("CompiledSpec", "compile_spec"):
        assert hasattr(decide_module, name), name
    assert list(inspect.signature(decide_module.decide).parameters) == ["snapshot", "compiled", "memory"]
    assert list(inspect.signature(decide_module.compile_spec).parameters) == ["spec"]
    assert list(inspect.signature(planner.plan).parameters) == ["decision", "snapshot", "types", "request_id"]
    assert list(inspect.signature(core.think).parameters) == [
        "snapshot",
        "compiled",
        "memory",
        "types",
        "request_id",
    ]
    assert [f for f in Memory.__dataclass_fields__] == ["governor", "policies"]


class TestHugeQuotients:
    """A finite load over a tiny per-unit target overflows a float; the pool goes to max, no crash."""

    @pytest.mark.parametrize("value", [1.7e308, 1e300, 1e20], ids=["near-max-float", "1e300", "1e20"])
    def test_huge_load_proposes_max(self, value: float) -> None:
        policies = (TargetPolicy(target=0.5),)
        spec = DecisionSpec(pool="p", min=0, max=40, policies=policies, governor=_no_stab())
        v = decide(at(T0, 6, (Observation("s", "load", value, T0),)), compile_spec(spec), Memory())
        assert v.decision.desired == 40
