"""A pool's runner under leases (issue 13): takeover reloads the state the previous owner saved,
and a replica that lost its lease without noticing (paused right after its local check) has
every write refused by the store and stops acting on the pool.

Real lease table and fences (``coordination/``) in a real database (SQLite file, MariaDB),
real state store and intent log, the simulated provider shared by both replicas (one fleet).
The lease *view* of a replica is a small stand-in: it answers ``may_act`` as the replica's
last local check did, which is exactly the state of a replica paused after that check.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from fleetscale.app import runner_for
from fleetscale.coordination.fence import Fence, LeaseRowFence, TokenFence
from fleetscale.coordination.lease import Lease
from fleetscale.coordination.sql import SqlLeases
from fleetscale.journal.intents import IntentLog
from fleetscale.journal.sql import SqlJournal
from fleetscale.journal.state_store import SqlStateStore
from fleetscale.runner import PoolRunner
from fleetscale.sim.clock import SimClock
from fleetscale.sim.provider import SimulatedProvider
from fleetscale.sources.fixed import FixedSource
from tests.unit.controller_kit import pool_config

TTL = 1.0


@dataclass
class View:
    """What a replica believes about its lease on the pool."""

    held: Lease | None
    may: bool = True

    def lease(self, pool: str) -> Lease | None:
        return self.held

    def may_act(self, pool: str, now_monotonic: float) -> bool:
        return self.may and self.held is not None


@dataclass
class World:
    url: str
    fence: Fence
    backend: SqlLeases
    journal: SqlJournal
    clock: SimClock
    provider: SimulatedProvider

    def runner(self, view: View, source: FixedSource) -> PoolRunner:
        pool = pool_config(max=10)
        return runner_for(pool, sources=[source], provider=self.provider, drainer=self.provider.drainer(),
                          journals=[self.journal], store=SqlStateStore(self.journal.engine, fence=self.fence),
                          operator=self.journal, clock=self.clock, leases=view,
                          intents=IntentLog(self.journal.engine, now=self.clock.now, fence=self.fence))

    def take(self, who: str) -> Lease:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            got = self.backend.acquire_or_renew("web", who, TTL)
            if got is not None:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{who} could not take the pool")


@pytest.fixture(params=["sqlite-leaserow", "sqlite-token", "mariadb-leaserow"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    kind = request.param
    if kind.startswith("mariadb"):
        server = request.getfixturevalue("mysql_server")
        url = server.url(request.getfixturevalue("mysql_db"))
    else:
        url = f"sqlite:///{tmp_path / 'journal.db'}"
    journal = SqlJournal(url)
    fence: Fence = LeaseRowFence() if kind.endswith("leaserow") else TokenFence()
    backend = SqlLeases.from_url(url)
    fence.create(journal.engine)
    clock = SimClock()
    pool = pool_config()
    provider = SimulatedProvider(clock, pool.types(), pool="web", boot_delay=0.0, drain_time=0.0)
    try:
        yield World(url, fence, backend, journal, clock, provider)
    finally:
        backend.close()
        journal.close()


def pending(world: World) -> int:
    with world.journal.engine.connect() as c:
        query = sa.text("SELECT COUNT(*) FROM fleetscale_intents WHERE state = 'pending'")
        return int(c.execute(query).scalar_one())


def test_takeover_loads_the_state_and_a_stale_owner_is_refused(world: World) -> None:
    load_a, load_b = FixedSource(3.0), FixedSource(3.0)
    view_a = View(world.take("A"))
    a = world.runner(view_a, load_a)
    assert a.ready()
    rec = a.cycle()
    assert not rec.errors, rec.errors
    assert len(world.provider.list()) == 3
    launched = set(a.state.known)

    time.sleep(TTL + 0.3)  # A's lease expires; A is "paused" and has not noticed
    view_b = View(world.take("B"))
    assert view_b.held is not None and view_a.held is not None
    assert view_b.held.token > view_a.held.token
    b = world.runner(view_b, load_b)
    assert b.ready()  # takeover: the state A saved, loaded under B's claim
    assert set(b.state.known) == launched
    assert not b.cycle().errors
    assert len(world.provider.list()) == 3, "the new owner launched nothing twice"

    load_a.value = 6.0  # A wakes up and would launch three more
    rec = a.cycle()
    assert any("refused" in e for e in rec.errors), rec.errors
    assert len(world.provider.list()) == 3, "the stale owner launched"
    assert a.token is None and not a.state.known, "the stale owner keeps acting on its old state"
    assert not a.ready(), "the stale owner acts again under the refused token"
    assert pending(world) == 0

    load_b.value = 4.0  # the owner carries on
    assert not b.cycle().errors
    assert len(world.provider.list()) == 4


def test_local_check_stops_before_any_write(world: World) -> None:
    view = View(world.take("A"))
    a = world.runner(view, FixedSource(2.0))
    assert a.ready()
    assert not a.cycle().errors
    view.may = False  # the local deadline (minus the margin) has passed
    assert not a.ready()
    before = (len(world.provider.list()), pending(world))
    view.may = True  # passed at the start of the cycle, then the deadline passes before acting
    a.sources[0].value = 5.0  # type: ignore[attr-defined]
    original = a._may_act
    calls = iter([False])
    a.actor.wal.may_act = lambda: next(calls, original())  # type: ignore[union-attr]
    rec = a.cycle()
    assert any("lease may have expired" in e for e in rec.errors), rec.errors
    assert len(world.provider.list()) == before[0], "acted after the local deadline"
    assert pending(world) == before[1] + 1, "the written intent stays open for the next owner"


def test_first_cycle_after_a_takeover_records_the_memory_it_started_from(world: World) -> None:
    """A replay starts again from the decision memory the new owner loaded, not from the one the
    replay carried forward (the previous owner's later cycles are not in that memory)."""
    view_a = View(world.take("A"))
    a = world.runner(view_a, FixedSource(3.0))
    assert a.ready()
    first, second = a.cycle(), a.cycle()
    assert first.inputs is not None and first.inputs["memory"] is True
    assert second.inputs is not None and second.inputs["memory"] is False

    time.sleep(TTL + 0.3)
    view_b = View(world.take("B"))
    b = world.runner(view_b, FixedSource(3.0))
    assert b.ready()
    assert not b.cycle().errors
    time.sleep(TTL + 0.3)
    view_a.held = world.take("A")  # the same runner (its 3rd cycle) takes the pool back
    assert a.ready()
    back = a.cycle()
    assert not back.errors, back.errors
    assert back.inputs is not None and back.inputs["memory"] is True, "memory not recorded after takeover"
    again = a.cycle()
    assert again.inputs is not None and again.inputs["memory"] is False
