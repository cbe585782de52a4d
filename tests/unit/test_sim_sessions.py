"""The simulated fleet's sessions (``sim.sessions``) and the drains they make: a drained
instance stays until its own last session ends (drain timeout as the cap), sessions move with
the load of the step that ended, never a later one."""

from __future__ import annotations

import random
import statistics
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest

from fleetscale.decide import DecisionSpec
from fleetscale.governor.settings import DirectionRules, GovernorSettings
from fleetscale.journal.record import CycleRecord
from fleetscale.model import InstanceType, Observation
from fleetscale.policy.target import TargetPolicy
from fleetscale.replay.counterfactual import sessions_of
from fleetscale.replay.journal import Recorded
from fleetscale.sim.clock import SimClock
from fleetscale.sim.provider import SimulatedProvider
from fleetscale.sim.run import START, FleetSettings, simulate
from fleetscale.sim.sessions import Holding, Sessions

ONE = (InstanceType("gw"),)


class TestHolding:
    @pytest.mark.parametrize("distribution", ["exponential", "fixed", "lognormal"])
    def test_mean_of_draws(self, distribution: str) -> None:
        h = Holding(40.0, distribution, cv=0.5)  # type: ignore[arg-type]
        rng = random.Random(1)
        mean = statistics.fmean(h.draw(rng) for _ in range(20000))
        assert mean == pytest.approx(40.0, rel=0.03)

    def test_residual_of_fixed_is_uniform_over_the_holding_time(self) -> None:
        rng = random.Random(2)
        left = [Holding(60.0, "fixed").residual(rng) for _ in range(20000)]
        assert min(left) >= 0.0 and max(left) <= 60.0
        assert statistics.fmean(left) == pytest.approx(30.0, rel=0.03)

    def test_residual_is_length_biased(self) -> None:
        # lognormal: mean residual = E[X^2] / (2 E[X]) = mean (1 + cv^2) / 2
        rng = random.Random(3)
        left = [Holding(10.0, "lognormal", cv=2.0).residual(rng) for _ in range(40000)]
        assert statistics.fmean(left) == pytest.approx(10.0 * (1 + 4) / 2, rel=0.1)

    @pytest.mark.parametrize("bad", [{"mean": 0.0}, {"mean": float("nan")}, {"mean": 1.0, "cv": 0.0},
                                     {"mean": 1.0, "distribution": "pareto"}])
    def test_rejects_bad_settings(self, bad: dict[str, object]) -> None:
        with pytest.raises(ValueError):
            Holding(**bad)  # type: ignore[arg-type]


class TestSessions:
    def test_round_robin_dispatch_over_the_instances_in_service(self) -> None:
        s = Sessions(Holding(100.0, "fixed"))
        s.carry(0.0, 5, [("a", 1), ("b", 1), ("c", 1)])
        assert [s.count(i) for i in "abc"] == [2, 2, 1]
        s.carry(1.0, 6, [("a", 1), ("b", 1), ("c", 1)])  # the next one goes on from where it was
        assert [s.count(i) for i in "abc"] == [2, 2, 2]

    def test_least_dispatch_per_unit_of_weight(self) -> None:
        s = Sessions(Holding(100.0, "fixed"), dispatch="least")
        s.carry(0.0, 6, [("small", 1), ("big", 2)])
        assert (s.count("small"), s.count("big")) == (2, 4)

    def test_sessions_end_when_their_holding_time_is_over(self) -> None:
        s = Sessions(Holding(30.0, "fixed"))
        s.carry(0.0, 0, [("a", 1)])  # started: later sessions last the full holding time
        s.carry(10.0, 2, [("a", 1)])
        s.carry(39.9, 2, [])  # the load stays, nowhere to put new ones: the two still run
        assert s.count("a") == 2
        s.carry(40.0, 2, [])  # over: they end, the replacements find no instance
        assert (s.count("a"), s.total, s.lost) == (0, 0, 2)

    def test_a_falling_load_ends_the_sessions_due_first(self) -> None:
        s = Sessions(Holding(100.0, "fixed"))
        s.carry(0.0, 0, [("a", 1)])
        s.carry(1.0, 1, [("a", 1)])  # a's session ends at 101
        s.carry(50.0, 2, [("b", 1)])  # b's at 150
        s.carry(60.0, 1, [("b", 1)])
        assert (s.count("a"), s.count("b")) == (0, 1)

    def test_a_draining_instance_takes_no_new_session_and_empties(self) -> None:
        s = Sessions(Holding(20.0, "exponential"), seed=4)
        s.carry(0.0, 0, [("a", 1), ("b", 1)])
        s.carry(1.0, 10, [("a", 1), ("b", 1)])
        assert s.count("a") == 5
        t = 1.0
        while s.count("a"):  # a drains: only b is in service; the load holds at 10
            t += 1.0
            s.carry(t, 10, [("b", 1)])
            assert s.total == 10
        assert s.count("b") == 10 and t < 1000

    def test_forget_cuts_an_instance_s_sessions(self) -> None:
        s = Sessions(Holding(20.0, "fixed"))
        s.carry(0.0, 4, [("a", 1), ("b", 1)])
        s.forget("a")
        assert (s.count("a"), s.total) == (0, 2)
        s.carry(1.0, 3, [("b", 1)])  # a's heap entries are skipped, the load refills b
        assert (s.count("b"), s.total) == (3, 3)

    def test_seeded(self) -> None:
        def run(seed: int) -> list[int]:
            s = Sessions(Holding(5.0), seed=seed)
            out = []
            for k in range(50):
                s.carry(float(k), 7 + k % 5, [("a", 1), ("b", 1), ("c", 1)])
                out.append(s.count("a"))
            return out
        assert run(1) == run(1) and run(1) != run(2)


def _provider(clock: SimClock, **kw: object) -> SimulatedProvider:
    return SimulatedProvider(clock, ONE, boot_delay=0, initial=2, holding=Holding(30.0, "fixed"),
                             **kw)  # type: ignore[arg-type]


class TestSimulatedDrains:
    def test_drain_lasts_until_the_instance_s_last_session_ends(self) -> None:
        clock = SimClock()
        p = _provider(clock)
        drainer = p.drainer()
        a, b = p.list()
        p.carry(0)
        clock.advance(1)
        p.carry(4)  # two each, ending at 31
        drainer.begin(a)
        clock.advance(10)
        p.carry(4)  # the load holds: nothing ended, nothing new goes to a
        assert (drainer.sessions(a), p.sessions and p.sessions.count(b.id)) == (2, 2)
        clock.advance(20)
        p.carry(4)  # a's calls are over; their successors went to b
        assert (drainer.sessions(a), p.sessions and p.sessions.count(b.id)) == (0, 4)

    def test_drain_timeout_cuts_what_is_left(self) -> None:
        clock = SimClock()
        p = _provider(clock, drain_timeout=5.0)
        a, _ = p.list()
        p.carry(0)
        clock.advance(1)
        p.carry(4)
        p.drainer().begin(a)
        clock.advance(4.9)
        assert p.drainer().sessions(a) == 2
        clock.advance(0.1)
        assert p.drainer().sessions(a) == 0
        p.terminate([a.id], "r")
        assert p.sessions is not None and p.sessions.total == 2

    def test_source_shows_every_ready_instance_s_sessions(self) -> None:
        clock = SimClock()
        p = _provider(clock)
        p.carry(0)
        clock.advance(1)
        p.carry(3)
        seen = p.sessions_source().read("sim", clock.now())
        assert {o.metric for o in seen} == {"sessions"}
        assert sorted(o.value or 0.0 for o in seen) == [1.0, 2.0]

    def test_carry_needs_a_session_model(self) -> None:
        from fleetscale.errors import ProviderError

        with pytest.raises(ProviderError):
            SimulatedProvider(SimClock(), ONE).carry(1)


def _spec() -> DecisionSpec:
    return DecisionSpec(pool="sip", min=1, max=20, unit_capacity=2.0,
                        policies=(TargetPolicy(metric="load", utilisation=1.0),),
                        governor=GovernorSettings(down=DirectionRules(stabilisation=30.0)))


class TestSimulate:
    #: 8 calls of 100 s arrive in step 1 (on the 4 instances: 2 each, ending at t = 120 s); 4
    #: of them end in step 5; the pool drains 2 of its 4 instances at t = 90 s
    LOAD = np.array([0, 8, 8, 8, 8] + [4] * 15, dtype=np.float64)

    def test_drained_instances_stay_paid_while_their_sessions_last(self) -> None:
        quick = simulate(self.LOAD, _spec(), ONE, 10.0, FleetSettings(boot_delay=5.0), initial=4)
        held = simulate(self.LOAD, _spec(), ONE, 10.0,
                        FleetSettings(boot_delay=5.0, holding=Holding(100.0, "fixed")), initial=4)
        assert quick.ready.tolist() == held.ready.tolist()  # the same decisions in service
        assert quick.provisioned[8:13].tolist() == [4, 4, 2, 2, 2]
        # the drained instances kept one call each until t = 120 s: gone at that cycle
        assert held.provisioned[8:13].tolist() == [4, 4, 4, 4, 2]

    def test_the_planner_sees_the_sessions_and_drains_idle_instances_first(self) -> None:
        # 3 calls on 4 instances (round-robin: the newest gets none); 2 units will do: the idle
        # instance is the first victim, and it goes at the next cycle
        load = np.array([0, 3, 3, 3, 3] + [2] * 10, dtype=np.float64)
        run = simulate(load, _spec(), ONE, 10.0,
                       FleetSettings(boot_delay=5.0, holding=Holding(1000.0, "fixed")),
                       initial=4, record=True)
        seen = {o.instance_id: o.value for o in run.records[2].observations if o.metric == "sessions"}
        assert sorted(seen.values()) == [0.0, 1.0, 1.0, 1.0]
        idle = next(iid for iid, n in seen.items() if n == 0)
        k = next(k for k, r in enumerate(run.records) if r.plan is not None and r.plan.begin_drain)
        assert run.records[k].plan.begin_drain[0] == idle  # type: ignore[union-attr]
        assert any(line.startswith(f"terminated {idle} ") for line in run.records[k + 1].outcome)

    def test_drain_timeout_caps_the_wait(self) -> None:
        fleet = FleetSettings(boot_delay=5.0, holding=Holding(100.0, "fixed"))
        capped = simulate(self.LOAD, _spec(), ONE, 10.0, replace(fleet, drain_timeout=10.0), initial=4)
        assert capped.provisioned[8:13].tolist() == [4, 4, 2, 2, 2]  # cut 10 s into the drain

    def test_a_cycle_never_sees_a_later_step_s_sessions(self) -> None:
        """Changing the load from step k on changes nothing the cycles of steps <= k saw."""
        fleet = FleetSettings(boot_delay=5.0, holding=Holding(30.0), seed=3)
        a = simulate(self.LOAD, _spec(), ONE, 10.0, fleet, record=True)
        changed = self.LOAD.copy()
        changed[8:] = 15.0
        b = simulate(changed, _spec(), ONE, 10.0, fleet, record=True)
        for k in range(9):
            assert _seen(a.records[k]) == _seen(b.records[k])
        assert _seen(a.records[9]) != _seen(b.records[9])

    def test_seeded_runs_repeat(self) -> None:
        fleet = FleetSettings(boot_delay=5.0, holding=Holding(30.0), seed=5)
        a = simulate(self.LOAD, _spec(), ONE, 10.0, fleet)
        b = simulate(self.LOAD, _spec(), ONE, 10.0, fleet)
        assert a.provisioned.tolist() == b.provisioned.tolist()


def _seen(record: CycleRecord) -> list[tuple[str, str | None, float | None]]:
    return sorted((o.metric, o.instance_id, o.value) for o in record.observations)


class TestMeasuredFromTheJournal:
    """``replay.counterfactual.sessions_of``: the mean holding time by Little's law."""

    @staticmethod
    def _cycle(t: float, counts: dict[str, float], load: float) -> Recorded:
        at = START + timedelta(seconds=t)
        obs = [Observation("kamailio", "sessions", n, at, instance_id=iid) for iid, n in counts.items()]
        obs.append(Observation("kamailio", "load", load, at))
        return Recorded(f"c{t:g}", at, tuple(obs), (), None, None, (), None)

    def test_little_s_law_over_per_instance_counts(self) -> None:
        # a: 2 sessions from t=10 to t=50; b: 1 from t=20 to t=40 (cycles every 10 s)
        timeline = [(0, {"a": 0, "b": 0}), (10, {"a": 2, "b": 0}), (20, {"a": 2, "b": 1}),
                    (30, {"a": 2, "b": 1}), (40, {"a": 2, "b": 0}), (50, {"a": 0, "b": 0}),
                    (60, {"a": 0, "b": 0})]
        cycles = [self._cycle(t, c, sum(c.values()) / 2) for t, c in timeline]
        got = sessions_of(cycles, "load", 10.0)
        assert got is not None
        assert got.started == 3
        assert got.mean_holding == pytest.approx((2 * 40 + 20) / 3)
        assert got.per_load == pytest.approx(2.0)  # the load metric counted half the sessions

    def test_none_without_per_instance_counts_and_gaps_not_paired(self) -> None:
        assert sessions_of([self._cycle(t, {}, 3.0) for t in (0, 10, 20)], "load", 10.0) is None
        # a session seen only across a gap (the controller down 0..100 s) is not counted
        cycles = [self._cycle(0, {"a": 0}, 0), self._cycle(100, {"a": 1}, 1), self._cycle(110, {"a": 1}, 1)]
        assert sessions_of(cycles, "load", 10.0) is None
