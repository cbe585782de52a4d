"""The Coordinator loop over the sql backend on a SQLite file (long TTLs: nothing expires)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa

from fleetscale.config import parse
from fleetscale.coordination.build import build, default_replica
from fleetscale.coordination.fence import TokenFence
from fleetscale.coordination.history import OwnershipLog
from fleetscale.coordination.ownership import assign
from fleetscale.coordination.replica import ChangeKind, Coordinator, OwnershipChange
from fleetscale.coordination.sql import SqlLeases, make_engine
from fleetscale.errors import ConfigError, JournalError

POOLS = [f"pool-{i:02d}" for i in range(30)]
TTL = 60.0


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    return make_engine(f"sqlite:///{tmp_path / 'journal.db'}")


def replica(engine: sa.Engine, name: str, max_moves: int = 100, **kw: object) -> Coordinator:
    return Coordinator(SqlLeases(engine), POOLS, replica=name, ttl=TTL, safety_margin=5.0,
                       max_moves=max_moves, **kw)  # type: ignore[arg-type]


def owners(*cs: Coordinator) -> Counter[str]:
    return Counter(p for c in cs for p in c.owned())


class TestSpread:
    """Replicas share the pools: each owned exactly once, by its rendezvous owner."""

    def test_three_replicas_each_pool_once(self, engine: sa.Engine) -> None:
        cs = [replica(engine, n) for n in ("a", "b", "c")]
        for c in cs:  # everyone registers first, as they would within one period
            c.backend.register_replica(c.replica, TTL)
        for _ in range(2):
            for c in cs:
                c.tick()
        assert owners(*cs) == Counter(POOLS)
        target = assign(POOLS, ["a", "b", "c"])
        for c in cs:
            assert set(c.owned()) == {p for p, r in target.items() if r == c.replica}
            assert c.owned()
        holders = cs[0].backend.holders()
        assert {p: h.replica for p, h in holders.items()} == target

    def test_a_joining_replica_takes_pools_a_few_moves_per_round(self, engine: sa.Engine) -> None:
        cs = [replica(engine, n, max_moves=2) for n in ("a", "b")]
        for c in cs:
            c.tick()
        for c in cs:
            c.tick()
        assert owners(*cs) == Counter(POOLS)
        cs.append(replica(engine, "c", max_moves=2))
        target = assign(POOLS, ["a", "b", "c"])
        expected_moves = sum(1 for p in POOLS if target[p] == "c")
        rounds = 0
        while {p: h.replica for p, h in cs[0].backend.holders().items()} != target:
            before = {p: h.replica for p, h in cs[0].backend.holders().items()}
            released = [ch for c in cs for ch in c.tick() if ch.kind is ChangeKind.RELEASED]
            assert len(released) <= 2
            after = {p: h.replica for p, h in cs[0].backend.holders().items()}
            assert sum(1 for p in POOLS if p in before and after.get(p) not in (None, before[p])) <= 2
            rounds += 1
            assert rounds <= expected_moves + 3, "did not converge"
        assert owners(*cs) == Counter(POOLS)

    def test_clean_stop_hands_over_at_once_with_higher_tokens(self, engine: sa.Engine) -> None:
        a, b = replica(engine, "a"), replica(engine, "b")
        for c in (a, b, a, b):
            c.tick()
        a_had = a.owned()
        changes = a.stop()
        assert {ch.pool for ch in changes} == set(a_had) and a.owned() == {}
        assert "a" not in b.backend.live_replicas()
        b.tick()
        assert set(b.owned()) == set(POOLS)
        for pool, lease in a_had.items():
            assert b.owned()[pool].token > lease.token

    def test_release_many_gives_up_only_the_tokens_named(self, engine: sa.Engine) -> None:
        leases = SqlLeases(engine)
        held = leases.acquire_many(POOLS[:4], "a", TTL)
        tokens = {p: lease.token for p, lease in held.items()}
        tokens[POOLS[3]] += 1  # not the token "a" holds: kept
        leases.release_many({p: tokens[p] for p in POOLS[1:4]}, "a")
        leases.release_many({POOLS[0]: tokens[POOLS[0]]}, "b")  # not b's: kept
        assert sorted(leases.holders()) == [POOLS[0], POOLS[3]]


class TestRunLoop:
    """run() ticks in its thread until told to stop, then hands everything back."""

    def test_run_until_stopped(self, engine: sa.Engine) -> None:
        import threading

        a = replica(engine, "a")
        stop = threading.Event()
        t = threading.Thread(target=a.run, args=(stop, 0.05))
        t.start()
        try:
            deadline = time.monotonic() + 20
            while len(a.owned()) < len(POOLS) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert set(a.owned()) == set(POOLS)
        finally:
            stop.set()
            t.join(timeout=20)
        assert not t.is_alive() and a.owned() == {}
        assert a.backend.holders() == {} and a.backend.live_replicas() == frozenset()

    def test_each_round_runs_inside_the_gate(self, engine: sa.Engine) -> None:
        """The controller's scheduler pauses its cycles around each round (renewals first),
        for at most the time left before the leases' local deadlines."""
        import contextlib
        import threading
        from collections.abc import Iterator

        a = replica(engine, "a")
        limits: list[float] = []
        inside = threading.local()
        ticks_inside: list[bool] = []
        tick = a.tick

        def tick_noting() -> list[OwnershipChange]:
            ticks_inside.append(getattr(inside, "on", False))
            return tick()
        a.tick = tick_noting  # type: ignore[method-assign]

        @contextlib.contextmanager
        def gate(limit: float) -> Iterator[None]:
            limits.append(limit)
            inside.on = True
            try:
                yield
            finally:
                inside.on = False

        stop = threading.Event()
        t = threading.Thread(target=a.run, args=(stop, 0.05, gate))
        t.start()
        try:
            deadline = time.monotonic() + 20
            while len(ticks_inside) < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            stop.set()
            t.join(timeout=20)
        assert len(ticks_inside) >= 3 and all(ticks_inside)
        assert limits == [pytest.approx(TTL - 5.0 - 0.05)] * len(limits)

    def test_a_journal_outage_does_not_stop_the_leases(self, engine: sa.Engine) -> None:
        def broken(changes: Sequence[OwnershipChange]) -> None:
            raise JournalError("journal down")
        a = replica(engine, "a", on_changes=broken)
        a.tick()
        assert set(a.owned()) == set(POOLS)


class TestLocalDeadline:
    """may_act follows the lease's local deadline minus the margin, on the injected clock."""

    def test_may_act_until_deadline_minus_margin(self, engine: sa.Engine) -> None:
        now = [1000.0]
        c = Coordinator(SqlLeases(engine, monotonic=lambda: now[0]), ["p"], replica="a", ttl=TTL,
                        safety_margin=5.0, max_moves=1, monotonic=lambda: now[0])
        c.tick()
        lease = c.owned()["p"]
        assert lease.expires_monotonic == 1000.0 + TTL
        assert c.may_act("p", 1000.0 + TTL - 5.0 - 0.001)
        assert not c.may_act("p", 1000.0 + TTL - 5.0)
        assert not c.may_act("other", 1000.0)
        now[0] = 1030.0
        c.tick()  # a renewal moves the deadline and keeps the token
        assert c.owned()["p"].token == lease.token
        assert c.may_act("p", 1000.0 + TTL)


class TestJournal:
    """Ownership changes reach the callback and the fs_ownership table."""

    def test_changes_recorded(self, engine: sa.Engine) -> None:
        log = OwnershipLog(engine)
        seen: list[OwnershipChange] = []

        def both(changes: Sequence[OwnershipChange]) -> None:
            seen.extend(changes)
            log.record(changes)
        a = replica(engine, "a", on_changes=both)
        a.tick()
        a.stop()
        rows = log.history("pool-00")
        assert [r.change for r in rows] == ["acquired", "released"]
        assert rows[0].replica == "a" and rows[0].token == rows[1].token
        assert len(seen) == 2 * len(POOLS)


class TestBuild:
    """The coordination: section becomes a backend, a fence and a Coordinator."""

    def doc(self, **coordination: object) -> dict[str, object]:
        return {"pools": [{"name": "a", "min": 0, "max": 3, "provider": {"kind": "simulated"}}],
                "coordination": coordination}

    def test_sql_fences_with_a_token_mark_beside_the_state(self, tmp_path: Path) -> None:
        """The lease row is not locked by guarded writes (they would hold the bulk renewal
        back): wherever the lease table is, the fence is the token high-water mark."""
        url = f"sqlite:///{tmp_path / 'j.db'}"
        cfg = parse(self.doc(backend="sql", ttl=9, replica="r1")).config.coordination
        assert cfg is not None
        built = build(cfg, url, ["a"])
        assert isinstance(built.fence, TokenFence)
        assert built.renew_every == 3.0 and built.coordinator.safety_margin == pytest.approx(1.8)
        assert built.coordinator.replica == "r1"
        elsewhere = parse(self.doc(backend="sql", url=f"sqlite:///{tmp_path / 'l.db'}")).config.coordination
        assert elsewhere is not None
        other = build(elsewhere, url, ["a"])
        assert isinstance(other.fence, TokenFence)
        assert other.coordinator.replica == default_replica()

    @pytest.mark.parametrize(("section", "message"), [
        ({"backend": "etcd"}, "coordination: the etcd backend needs endpoints"),
        ({"backend": "etcd", "endpoints": ["127.0.0.1"]}, "coordination.endpoints: expected http://HOST:PORT"),
        ({"backend": "sql", "endpoints": ["http://e:2379"]}, "endpoints are for the etcd backend"),
        ({"backend": "sql", "ttl": 0}, "coordination.ttl: Input should be greater than or equal to 1"),
        ({"backend": "sql", "ttl": 10, "safety_margin": 5}, "safety_margin 5 must be less than half"),
        ({"backend": "sql", "ttl": 10, "renew_every": 4.5}, "renew_every 4.5 is too long for ttl 10"),
        ({"backend": "sql", "replica": "has space"}, "coordination.replica: String should match"),
        ({"backend": "sql", "max_moves": 0}, "coordination.max_moves: Input should be greater than 0"),
        ({"backend": "raft"}, "coordination.backend: Input should be 'sql' or 'etcd' (got raft)"),
        ({"backend": "sql", "tll": 3}, "coordination.tll: Extra inputs are not permitted"),
    ], ids=["etcd-no-endpoints", "bad-endpoint", "sql-with-endpoints", "ttl-range", "margin", "renew-every",
            "replica-name", "max-moves", "unknown-backend", "typo"])
    def test_bad_sections_name_the_field(self, section: dict[str, object], message: str) -> None:
        with pytest.raises(ConfigError) as err:
            parse(self.doc(**section))
        assert any(message in line for line in err.value.problems), err.value.problems
