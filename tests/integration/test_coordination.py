"""Leases and fencing on real backends: MariaDB, a SQLite file, and a private etcd process.

Waits are bounded loops; nothing asserts on durations. TTLs are short (1 s for SQL, 2 s for
etcd, whose minimum lease TTL is about 2 s), so each test takes a few seconds.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest
import sqlalchemy as sa

from fleetscale.coordination.fence import may_act
from fleetscale.coordination.lease import Lease, LeaseBackend
from fleetscale.coordination.replica import Coordinator
from fleetscale.errors import CoordinationError, FencingError
from tests.fixtures.services import ROOT, free_port
from tests.integration.coordination_support import (
    Grab,
    Outcome,
    Spec,
    contend,
    contend_star,
    fenced_tokens,
    guarded_write,
    writes,
)

pytestmark = pytest.mark.integration


@pytest.fixture(params=["mariadb", "sqlite", "etcd"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Spec]:
    kind = request.param
    if kind == "mariadb":
        server = request.getfixturevalue("mysql_server")
        url = server.url(request.getfixturevalue("mysql_db"))
        yield Spec(kind, url, url)
    elif kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'journal.db'}"
        yield Spec(kind, url, url)
    else:
        etcd = request.getfixturevalue("etcd_server")
        yield Spec(kind, etcd.endpoint, f"sqlite:///{tmp_path / 'state.db'}",
                   prefix=request.getfixturevalue("etcd_prefix"), ttl=2.0, margin=0.4)


def wait_for(what: str, check: Callable[[], object], timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


def take(backend: LeaseBackend, pool: str, me: str, ttl: float, timeout: float) -> Lease:
    lease = wait_for(f"{me} takes {pool}", lambda: backend.acquire_or_renew(pool, me, ttl), timeout)
    assert isinstance(lease, Lease)
    return lease


class TestLeaseLifecycle:
    """Take, refuse, renew, expire, take over with a higher token."""

    def test_renew_keeps_token_expiry_hands_over_with_higher_token(self, spec: Spec) -> None:
        a, b = spec.backend(), spec.backend()
        try:
            la = a.acquire_or_renew("p", "A", spec.ttl)
            assert la is not None and la.holder == "A"
            assert b.acquire_or_renew("p", "B", spec.ttl) is None
            again = a.acquire_or_renew("p", "A", spec.ttl)
            assert again is not None and again.token == la.token
            assert again.expires_monotonic >= la.expires_monotonic
            assert {p: (h.replica, h.token) for p, h in b.holders().items()} == {"p": ("A", la.token)}
            assert b.check("p", la.token)
            lb = take(b, "p", "B", spec.ttl, timeout=spec.ttl + 10)  # A stops renewing
            assert lb.token > la.token
            assert not b.check("p", la.token) and b.check("p", lb.token)
            assert a.acquire_or_renew("p", "A", spec.ttl) is None
            assert dict(a.renew_all("A", spec.ttl)) == {}
            b.release("p", "B", lb.token)
            la2 = a.acquire_or_renew("p", "A", spec.ttl)
            assert la2 is not None and la2.token > lb.token
        finally:
            a.close()
            b.close()

    def test_acquire_many_takes_only_the_free_ones(self, spec: Spec) -> None:
        a, b = spec.backend(), spec.backend()
        try:
            held = take(a, "p1", "A", 30.0, 5)
            got = b.acquire_many(["p0", "p1", "p2"], "B", 30.0)
            assert set(got) == {"p0", "p2"} and all(lease.holder == "B" for lease in got.values())
            again = b.acquire_many(["p0", "p2"], "B", 30.0)  # a renewal: same tokens
            assert {p: x.token for p, x in again.items()} == {p: x.token for p, x in got.items()}
            assert {p: h.replica for p, h in a.holders().items()} == {"p0": "B", "p1": "A", "p2": "B"}
            assert a.check("p1", held.token)
        finally:
            a.close()
            b.close()

    def test_membership_expires(self, spec: Spec) -> None:
        a, b = spec.backend(), spec.backend()
        try:
            a.register_replica("A", spec.ttl)
            b.register_replica("B", spec.ttl)
            assert a.live_replicas() >= {"A", "B"}
            b.deregister_replica("B")
            assert "B" not in a.live_replicas()
            wait_for("A's membership expires", lambda: "A" not in b.live_replicas(), spec.ttl + 10)
        finally:
            a.close()
            b.close()


class TestFencing:
    """The store refuses a stale token in the write's own transaction; the local rule trips first."""

    def test_stale_token_write_refused_and_rolled_back(self, spec: Spec) -> None:
        a, b, engine, fence = spec.backend(), spec.backend(), spec.state(), spec.fence()
        try:
            la = take(a, "p", "A", spec.ttl, 5)
            guarded_write(engine, fence, "p", "A", la.token)
            lb = take(b, "p", "B", spec.ttl, spec.ttl + 10)
            with engine.begin() as conn:  # the new holder claims the pool as it loads its state
                fence.claim(conn, "p", lb.token)
            with pytest.raises(FencingError, match=f"token {la.token} refused"), engine.begin() as conn:
                conn.execute(writes.insert(), {"pool": "p", "holder": "A", "token": la.token})
                fence.guard(conn, "p", la.token)
            guarded_write(engine, fence, "p", "B", lb.token)
            assert fenced_tokens(engine, "p") == [("A", la.token), ("B", lb.token)]
        finally:
            a.close()
            b.close()
            engine.dispose()

    def test_local_deadline_passes_while_the_store_still_accepts(self, spec: Spec) -> None:
        """A holder that stops renewing stops acting (may_act false) while its token is still
        current in the store: the replica gives up before the store has to refuse it."""
        backend, engine, fence = spec.backend(), spec.state(), spec.fence()
        try:
            lease = take(backend, "p", "A", spec.ttl, 5)
            deadline = lease.expires_monotonic - spec.margin
            while time.monotonic() < deadline:
                time.sleep(0.01)
            assert not may_act(lease, time.monotonic(), spec.margin)
            assert backend.check("p", lease.token)
            guarded_write(engine, fence, "p", "A", lease.token)  # the store would still accept
        finally:
            backend.close()
            engine.dispose()


def check_history(outcomes: list[Outcome], engine: sa.Engine) -> None:
    """One holder at a time, tokens up on every change of holder, fenced writes in token order."""
    believed = sorted((g for o in outcomes for g in o.grabs if g.start < g.end), key=lambda g: g.start)
    holders = {g.holder for g in believed}
    assert len(holders) >= 2, f"the lease never changed hands; the test proved nothing: {outcomes}"
    by_token: dict[int, set[str]] = {}
    for g in believed:
        by_token.setdefault(g.token, set()).add(g.holder)
    assert all(len(h) == 1 for h in by_token.values()), by_token
    previous: Grab | None = None
    for g in believed:
        if previous is not None and g.holder != previous.holder:
            assert g.token > previous.token, (previous, g)
        if previous is not None:
            assert g.token >= previous.token, (previous, g)
        previous = g
    for x, y in itertools.pairwise(believed):  # no two believed intervals overlap
        if x.token != y.token:
            later_ends = [g.end for g in believed if g.token == x.token]
            assert max(later_ends) <= y.start, (x, y)
    tokens = [t for _, t in fenced_tokens(engine, "p")]
    assert tokens == sorted(tokens) and len(tokens) == sum(o.writes for o in outcomes)


class TestContention:
    """Several acquirers hammer one pool; the history stays clean."""

    def test_threads(self, spec: Spec) -> None:
        start = time.monotonic() + 0.5
        outcomes: list[Outcome] = []
        lock = threading.Lock()

        def worker(i: int) -> None:
            got = contend(spec, "p", f"t{i}", 3 * spec.ttl + 2, seed=i, start_at=start)
            with lock:
                outcomes.append(got)
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(outcomes) == 4
        engine = spec.state()
        try:
            check_history(outcomes, engine)
        finally:
            engine.dispose()

    def test_processes(self, spec: Spec) -> None:
        engine = spec.state()  # create the tables once, before the workers race
        start = time.monotonic() + 5.0  # spawn + imports (a late worker still runs its full time)
        jobs = [(spec, "p", f"proc{i}", 3 * spec.ttl + 2, 100 + i, start) for i in range(3)]
        with ProcessPoolExecutor(max_workers=3, mp_context=get_context("spawn")) as pool:
            outcomes = list(pool.map(contend_star, jobs, timeout=90))
        try:
            check_history(outcomes, engine)
        finally:
            engine.dispose()


class TestPausedReplica:
    """SIGSTOP a holder past its TTL: another takes over and writes; the woken one acts on nothing."""

    def test_sigstop_past_ttl(self, spec: Spec) -> None:
        fields = {"kind": spec.kind, "lease_target": spec.lease_target, "state_url": spec.state_url,
                  "prefix": spec.prefix, "ttl": 2.0, "margin": 0.5}
        paused = Spec(**fields)  # type: ignore[arg-type]
        engine = paused.state()
        argv = [sys.executable, "-m", "tests.integration.coordination_child", json.dumps(fields)]
        child = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
        other = Coordinator(paused.backend(), ["p"], replica="taker", ttl=paused.ttl,
                            safety_margin=paused.margin, max_moves=1)
        try:
            assert child.stdout is not None
            first = json.loads(wait_line(child, 30))
            os.kill(child.pid, signal.SIGSTOP)
            old = first["acquired"]

            def taken() -> bool:
                other.tick()
                return other.may_act("p", time.monotonic())
            wait_for("the other replica takes over", taken, paused.ttl + 15)
            lease = other.lease("p")
            assert lease is not None and lease.token > old
            guarded_write(engine, paused.fence(), "p", "taker", lease.token)
            os.kill(child.pid, signal.SIGCONT)
            woke = json.loads(wait_line(child, 20))
            assert woke["woke"] and woke["token"] == old
            assert woke["may_act"] is False
            assert woke["write"].startswith("refused"), woke
            history = fenced_tokens(engine, "p")
            assert history[-1] == ("taker", lease.token)
            assert all(t == old for h, t in history if h == "sleeper")
            assert child.wait(timeout=10) == 0
        finally:
            if child.poll() is None:
                os.kill(child.pid, signal.SIGCONT)
                child.kill()
                child.wait(timeout=5)
            other.stop()
            engine.dispose()


def wait_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The child's next stdout line, within ``timeout`` seconds."""
    assert proc.stdout is not None
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    if not box or not box[0]:
        raise AssertionError(f"the child said nothing within {timeout} s (exit code {proc.poll()})")
    return box[0]


class TestBackendEdges:
    """Specific to one backend."""

    def test_mariadb_open_guarded_write_does_not_stall_others(  # type: ignore[no-untyped-def]
            self, mysql_server, mysql_db) -> None:
        """A replica stuck inside a guarded transaction holds one lease row: a takeover of that
        pool gives up after LOCK_WAIT (and tries next round), other pools renew meanwhile."""
        url = mysql_server.url(mysql_db)
        spec = Spec("mariadb", url, url)
        a, b, engine, fence = spec.backend(), spec.backend(), spec.state(), spec.fence()
        try:
            la = take(a, "p", "A", 1.0, 5)
            take(b, "q", "B", 30.0, 5)
            with engine.begin() as stuck:
                fence.guard(stuck, "p", la.token)  # the row stays locked until this block ends
                time.sleep(1.2)  # A's lease expires while its transaction is open
                with pytest.raises(CoordinationError, match="Lock wait timeout"):
                    b.acquire_or_renew("p", "B", 30.0)
                assert set(b.renew_all("B", 30.0)) == {"q"}
            lb = take(b, "p", "B", 30.0, 5)
            assert lb.token > la.token
        finally:
            a.close()
            b.close()
            engine.dispose()

    def test_etcd_fails_over_to_the_next_endpoint(  # type: ignore[no-untyped-def]
            self, etcd_server, etcd_prefix) -> None:
        from fleetscale.coordination.etcd import EtcdLeases

        dead = f"http://127.0.0.1:{free_port()}"
        backend = EtcdLeases([dead, etcd_server.endpoint], prefix=etcd_prefix)
        try:
            lease = backend.acquire_or_renew("p", "A", 2.0)
            assert lease is not None and backend.check("p", lease.token)
        finally:
            backend.close()
        with pytest.raises(CoordinationError, match="no endpoint answered"):
            EtcdLeases([dead], prefix=etcd_prefix).holders()

    def test_token_fence_on_mariadb(self, mysql_server, mysql_db) -> None:  # type: ignore[no-untyped-def]
        """The high-water mark (etcd's fence) on a MariaDB state store."""
        from fleetscale.coordination.fence import TokenFence

        url = mysql_server.url(mysql_db)
        engine = Spec("etcd", "unused", url).state()
        fence = TokenFence()
        try:
            guarded_write(engine, fence, "p", "A", 5)
            with engine.begin() as conn:
                fence.claim(conn, "p", 9)
            with pytest.raises(FencingError, match="a newer holder wrote with token 9"):
                guarded_write(engine, fence, "p", "A", 5)
            guarded_write(engine, fence, "p", "B", 9)
            guarded_write(engine, fence, "p", "B", 9)  # the holder's own mark: one UPDATE, found
            guarded_write(engine, fence, "p", "C", 12)
            with pytest.raises(FencingError):
                guarded_write(engine, fence, "p", "B", 9)
            assert fenced_tokens(engine, "p") == [("A", 5), ("B", 9), ("B", 9), ("C", 12)]
        finally:
            engine.dispose()


class Replica:
    """A replica process and what it said: (time, {pool: token} it may act on)."""

    def __init__(self, spec: Spec, name: str, pools: list[str], max_moves: int) -> None:
        fields = {"kind": spec.kind, "lease_target": spec.lease_target, "state_url": spec.state_url,
                  "prefix": spec.prefix, "ttl": spec.ttl, "margin": spec.margin}
        argv = [sys.executable, "-m", "tests.integration.coordination_replica", json.dumps(fields), name,
                str(max_moves), *pools]
        self.name = name
        self.samples: list[tuple[float, dict[str, int]]] = []
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            got = json.loads(line)
            self.samples.append((got["t"], got["acting"]))

    def end(self, sig: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=30)
        self.reader.join(timeout=5)


def acting_intervals(replicas: list[Replica]) -> dict[str, list[tuple[float, float, str, int]]]:
    """pool -> [(first, last sample time, replica, token)] of each stretch a replica acted on it."""
    out: dict[str, list[tuple[float, float, str, int]]] = {}
    for r in replicas:
        spans: dict[tuple[str, int], list[float]] = {}
        for t, acting in r.samples:
            for pool, token in acting.items():
                spans.setdefault((pool, token), []).append(t)
        for (pool, token), times in spans.items():
            out.setdefault(pool, []).append((min(times), max(times), r.name, token))
    return out


class TestThreeReplicas:
    """Three replica processes on one backend: spread, SIGKILL takeover, bounded rebalance."""

    def test_spread_kill_rejoin(self, spec: Spec) -> None:
        from fleetscale.coordination.ownership import assign

        pools = [f"pool-{i:02d}" for i in range(24)]
        max_moves = 3
        observer = spec.backend()
        replicas = [Replica(spec, f"r{i}", pools, max_moves) for i in range(3)]
        try:
            def holders() -> dict[str, str]:
                return {p: h.replica for p, h in observer.holders().items()}
            wait_for("the three replicas share every pool",
                     lambda: holders() == assign(pools, ["r0", "r1", "r2"]), 60)
            killed = {p: h.token for p, h in observer.holders().items() if h.replica == "r0"}
            assert killed
            replicas[0].end(signal.SIGKILL)
            wait_for("r1 and r2 take r0's pools", lambda: holders() == assign(pools, ["r1", "r2"]),
                     spec.ttl + 30)
            after = observer.holders()
            assert all(after[p].token > t for p, t in killed.items())
            replicas.append(Replica(spec, "r3", pools, max_moves))
            most_free = 0
            deadline = time.monotonic() + 60
            while holders() != assign(pools, ["r1", "r2", "r3"]):  # moves in flight stay bounded
                most_free = max(most_free, len(pools) - len(observer.holders()))
                assert time.monotonic() < deadline, "no convergence after r3 joined"
                time.sleep(0.05)
            assert most_free <= max_moves
            for r in replicas[1:]:
                r.end(signal.SIGTERM)
            assert observer.holders() == {}
        finally:
            for r in replicas:
                if r.proc.poll() is None:
                    r.proc.kill()
                    r.proc.wait(timeout=10)
            observer.close()
        for pool, spans in acting_intervals(replicas).items():  # never two actors at once
            spans.sort()
            for (_, end, who, token), (start, _, other, token2) in itertools.pairwise(spans):
                assert end < start, (pool, who, token, other, token2)
