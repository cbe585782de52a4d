"""The simulated provider: boot delay, prices, drains, seeded failures, idempotent launches."""

from __future__ import annotations

import time

import pytest

from fleetscale.errors import CapacityError
from fleetscale.model import InstanceState, InstanceType
from fleetscale.sim.clock import SimClock
from fleetscale.sim.provider import POOL_TAG, SimulatedProvider

TYPES = (InstanceType("small", 1, 0.10), InstanceType("big", 4, 0.30))


def make(clock: SimClock, **kw: object) -> SimulatedProvider:
    return SimulatedProvider(clock, TYPES, pool="web", **kw)  # type: ignore[arg-type]


class TestLifecycle:
    """Instances boot after boot_delay, carry their type's weight and the pool tag."""

    def test_boot_delay(self) -> None:
        clock = SimClock()
        p = make(clock, boot_delay=90)
        made = p.launch("big", 2, "r1")
        assert [i.state for i in made] == [InstanceState.PENDING] * 2
        assert all(i.weight == 4 and i.address is None and i.tags[POOL_TAG] == "web" for i in made)
        clock.advance(89)
        assert {i.state for i in p.list()} == {InstanceState.PENDING}
        clock.advance(1)
        ready = p.list()
        assert {i.state for i in ready} == {InstanceState.READY}
        assert all(i.address for i in ready)
        assert p.ready_units() == 8

    def test_launch_is_idempotent_per_request(self) -> None:
        p = make(SimClock())
        a = p.launch("small", 3, "same")
        b = p.launch("small", 3, "same")
        assert [i.id for i in a] == [i.id for i in b]
        assert len(p.list()) == 3

    def test_terminate_and_cost(self) -> None:
        clock = SimClock()
        p = make(clock, boot_delay=0)
        (inst,) = p.launch("big", 1, "r")
        clock.advance(3600)
        p.terminate([inst.id], "t")
        p.terminate([inst.id], "t")  # idempotent
        clock.advance(3600)
        assert list(p.list()) == []
        assert p.instance_seconds() == pytest.approx(3600)
        assert p.cost() == pytest.approx(0.30)

    def test_initial_instances_are_ready(self) -> None:
        p = make(SimClock(), initial=3)
        assert [i.state for i in p.list()] == [InstanceState.READY] * 3


class TestFailures:
    """Seeded failures are reproducible; capacity limits raise CapacityError."""

    def test_capacity(self) -> None:
        p = make(SimClock(), max_instances=2)
        p.launch("small", 2, "a")
        with pytest.raises(CapacityError, match="no capacity"):
            p.launch("small", 1, "b")

    def test_seeded_launch_failures(self) -> None:
        def outcomes(seed: int) -> list[bool]:
            p = make(SimClock(), launch_failure_rate=0.5, seed=seed)
            out = []
            for k in range(40):
                try:
                    p.launch("small", 1, f"r{k}")
                    out.append(True)
                except CapacityError:
                    out.append(False)
            return out

        assert outcomes(3) == outcomes(3)
        assert 5 < sum(outcomes(3)) < 35

    def test_boot_failure_never_becomes_ready(self) -> None:
        clock = SimClock()
        p = make(clock, boot_failure_rate=1.0, boot_delay=10)
        p.launch("small", 2, "r")
        clock.advance(1000)
        assert {i.state for i in p.list()} == {InstanceState.PENDING}


class TestDrainer:
    """Sessions of a draining instance fall to zero over drain_time."""

    def test_drain(self) -> None:
        clock = SimClock()
        p = make(clock, boot_delay=0, drain_time=100, sessions_per_unit=10)
        (inst,) = p.launch("small", 1, "r")
        d = p.drainer()
        assert d.sessions(inst) == 10
        d.begin(inst)
        clock.advance(50)
        assert d.sessions(inst) == 5
        clock.advance(50)
        assert d.sessions(inst) == 0
        d.cancel(inst)
        assert d.sessions(inst) == 10


def test_fast_enough_for_the_simulator() -> None:
    """500k list() calls on a 20-instance fleet stay well under a few seconds."""
    clock = SimClock()
    p = make(clock, boot_delay=60)
    p.launch("small", 20, "r")
    start = time.perf_counter()
    for _ in range(50_000):
        clock.advance(1)
        p.list()
    assert time.perf_counter() - start < 2.0  # 50k here; ~10x that is the simulator's budget
