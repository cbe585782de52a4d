"""The one store of a pool's FleetState: saved whole, loaded whole, one writer at a time."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from fleetscale.decide import Memory
from fleetscale.errors import JournalError
from fleetscale.governor.memory import GovernorMemory
from fleetscale.journal.state_codec import state_from_json, state_to_json
from fleetscale.journal.state_store import MemoryStore, SqlStateStore, StaleStateError
from fleetscale.model import Instance, InstanceState
from fleetscale.state import FleetState

NOW = datetime(2026, 1, 5, tzinfo=UTC)


def sample() -> FleetState:
    a = Instance("i-1", "small", InstanceState.READY, 1, NOW, "10.0.0.1", {"fleetscale:pool": "web"})
    b = Instance("i-2", "large", InstanceState.PENDING, 4, NOW + timedelta(seconds=5))
    state = FleetState("web").seen((a, b), frozenset({"i-1"}), True, NOW)
    state = state.launched((b,), NOW).adopted(["i-1"]).begin_drain("i-1", NOW + timedelta(minutes=1))
    memory = Memory(governor=GovernorMemory(up_streak=2, desires=((NOW, 5),), last_down_at=NOW))
    return state.remember(memory)


class TestCodec:
    """A state survives JSON whole: instances, drains, known, boot tracking, memory."""

    def test_roundtrip_is_equal_but_the_listing(self) -> None:
        state = sample()
        back = state_from_json(state_to_json(state))
        assert back.listed == ()
        assert back.instances == state.instances
        assert back.instances[0].state is InstanceState.DRAINING
        assert (back.drains, back.known, back.first_seen, back.registered) == (
            state.drains, state.known, state.first_seen, state.registered)
        assert back.memory.governor == state.memory.governor and back.version == state.version

    def test_refuses_foreign_types_and_garbage(self) -> None:
        with pytest.raises(ValueError, match="not a fleetscale type"):
            state_from_json('{"format": 1, "state": {"$dc": "os:system"}}')
        with pytest.raises(ValueError, match="not JSON"):
            state_from_json("{nope")
        with pytest.raises(ValueError, match="format"):
            state_from_json('{"format": 99}')


class TestSqlStateStore:
    """Saved after each cycle, loaded after a restart; a second writer is refused."""

    def test_save_then_load_in_a_new_process(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'j.db'}"
        SqlStateStore(sa.create_engine(url)).save(sample())
        back = SqlStateStore(sa.create_engine(url)).load("web")
        assert back is not None and back.instances == sample().instances
        assert SqlStateStore(sa.create_engine(url)).load("other") is None

    def test_a_second_writer_is_refused(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'j.db'}"
        one, two = SqlStateStore(sa.create_engine(url)), SqlStateStore(sa.create_engine(url))
        state = sample()
        one.save(state)
        loaded = two.load("web")
        assert loaded is not None
        one.save(state.forget_drains(["i-1"]))  # the owner moves on
        with pytest.raises(StaleStateError, match="another writer"):
            two.save(loaded.adopted(["x"]))

    def test_unreadable_row_is_a_journal_error(self, tmp_path: Path) -> None:
        path = tmp_path / "j.db"
        store = SqlStateStore(sa.create_engine(f"sqlite:///{path}"))
        store.save(sample())
        with sqlite3.connect(path) as c:
            c.execute("UPDATE fs_state SET body = '{broken'")
        with pytest.raises(JournalError, match="unreadable"):
            SqlStateStore(sa.create_engine(f"sqlite:///{path}")).load("web")

    def test_upgrade_reads_the_earlier_tables(self, tmp_path: Path) -> None:
        """Drains and known instances recorded by an earlier release survive the upgrade."""
        path = tmp_path / "j.db"
        with sqlite3.connect(path) as c:
            c.execute("CREATE TABLE fs_drains (pool TEXT, instance_id TEXT, started_at DATETIME)")
            c.execute("CREATE TABLE fs_known (pool TEXT, instance_id TEXT, since DATETIME, how TEXT)")
            c.execute("INSERT INTO fs_drains VALUES ('web', 'i-1', '2026-01-05 00:00:00.000000')")
            c.execute("INSERT INTO fs_known VALUES ('web', 'i-1', '2026-01-05 00:00:00.000000', 'launched')")
        state = SqlStateStore(sa.create_engine(f"sqlite:///{path}")).load("web")
        assert state is not None and dict(state.drains) == {"i-1": NOW}
        assert dict(state.known) == {"i-1": "launched"}


def test_memory_store_keeps_the_value() -> None:
    store = MemoryStore()
    state = sample()
    store.save(state)
    assert store.load("web") is state and store.load("x") is None


class TestMemorySlots:
    """Quiet cycles (``memory_every``): a change of the decision memory alone is written once
    per memory slot, a fleet change at once, and the slots of many pools spread over time."""

    @staticmethod
    def _store(tmp_path: Path) -> tuple[sa.Engine, list[float], SqlStateStore]:
        """A store on a fresh file with a clock the test moves (``now[0]``)."""
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'j.db'}")
        now = [1000.0]
        return engine, now, SqlStateStore(engine, memory_every=120.0, clock=lambda: now[0])

    @staticmethod
    def _saved_streak(engine: sa.Engine) -> int:
        with engine.connect() as c:
            body = c.execute(sa.text("SELECT body FROM fs_state WHERE pool = 'web'")).scalar_one()
        return state_from_json(body).memory.governor.up_streak

    def test_memory_alone_is_written_once_a_slot_and_never_older_than_a_slot(self, tmp_path: Path) -> None:
        engine, now, store = self._store(tmp_path)
        state = sample()
        store.save(state)
        written = set()
        for k in range(1, 401):  # 100 minutes of 15 s cycles whose memory alone moves on
            now[0] += 15.0
            state = state.remember(Memory(governor=GovernorMemory(up_streak=k)))
            store.save(state)
            saved = self._saved_streak(engine)
            written.add(saved)
            assert (k - saved) * 15.0 < 120.0 + 15.0, "the saved memory is older than one slot"
        assert 49 <= len(written) <= 52  # 6,000 s / 120 s slots, not 400 writes

    def test_a_fleet_change_is_written_at_once(self, tmp_path: Path) -> None:
        _, now, store = self._store(tmp_path)
        state = sample()
        store.save(state)
        now[0] += 1.0
        store.save(state.adopted(["i-9"]))
        back = SqlStateStore(sa.create_engine(f"sqlite:///{tmp_path / 'j.db'}")).load("web")
        assert back is not None and "i-9" in back.known

    def test_the_slots_of_many_pools_spread_over_time(self) -> None:
        """1,000 pools written at one instant (they all launched at start) save their memory
        next at times spread evenly over the following slot, not in one burst."""
        store = SqlStateStore(sa.create_engine("sqlite://"), memory_every=120.0)
        first = []
        for i in range(1000):
            pool = f"pool-{i:05d}"
            t = 15.0
            while store.slot(pool, t) == store.slot(pool, 0.0):
                t += 15.0
            first.append(t)
        per_cycle = [first.count(15.0 * k) for k in range(1, 9)]  # the 8 cycles of one slot
        assert sum(per_cycle) == 1000 and max(per_cycle) < 200, per_cycle
