"""Helpers for the coordination tests: a picklable description of a backend (threads and
processes each open their own connections from it) and the contention worker."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import sqlalchemy as sa

from fleetscale.coordination.fence import Fence, LeaseRowFence, TokenFence, may_act
from fleetscale.coordination.lease import LeaseBackend
from fleetscale.coordination.sql import SqlLeases, create_tables, make_engine
from fleetscale.errors import FencingError

writes = sa.Table(
    "t_fenced_writes", sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pool", sa.String(64), nullable=False),
    sa.Column("holder", sa.String(64), nullable=False),
    sa.Column("token", sa.BigInteger, nullable=False),
)


@dataclass(frozen=True)
class Spec:
    """Where the leases live and where the fenced state lives."""

    kind: str          # mariadb | sqlite | etcd
    lease_target: str  # SQL URL, or etcd endpoint
    state_url: str     # SQL URL of the state the guarded writes go to
    prefix: str = "/fleetscale"
    ttl: float = 1.0
    margin: float = 0.2

    def backend(self) -> LeaseBackend:
        if self.kind == "etcd":
            from fleetscale.coordination.etcd import EtcdLeases

            return EtcdLeases([self.lease_target], prefix=self.prefix)
        return SqlLeases.from_url(self.lease_target)

    def fence(self) -> Fence:
        return TokenFence() if self.kind == "etcd" else LeaseRowFence()

    def state(self) -> sa.Engine:
        engine = make_engine(self.state_url)
        create_tables(writes.metadata, engine)
        self.fence().create(engine)
        return engine


def guarded_write(engine: sa.Engine, fence: Fence, pool: str, holder: str, token: int) -> None:
    """One state write: the guard first, then the write, in one transaction."""
    with engine.begin() as conn:
        fence.guard(conn, pool, token)
        conn.execute(writes.insert(), {"pool": pool, "holder": holder, "token": token})


def fenced_tokens(engine: sa.Engine, pool: str) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(writes.c.holder, writes.c.token).where(writes.c.pool == pool)
                            .order_by(writes.c.id)).all()
    return [(r.holder, int(r.token)) for r in rows]


@dataclass(frozen=True)
class Grab:
    """``holder`` believed it held ``token`` from ``start`` to ``end`` (monotonic, system-wide)."""

    holder: str
    token: int
    start: float
    end: float


@dataclass(frozen=True)
class Outcome:
    grabs: tuple[Grab, ...]
    writes: int
    refused: int


def contend(spec: Spec, pool: str, me: str, duration: float, seed: int, start_at: float) -> Outcome:
    """Take/renew ``pool`` in a loop; while holding, write through the fence; now and then
    pause past the TTL (no renewal) so that the lease changes hands."""
    rng = random.Random(seed)
    backend, fence, engine = spec.backend(), spec.fence(), spec.state()
    grabs: list[Grab] = []
    ok = refused = 0
    while time.monotonic() < start_at:
        time.sleep(0.01)
    stop = time.monotonic() + duration  # the full duration even when this worker came up late
    try:
        while time.monotonic() < stop:
            lease = backend.acquire_or_renew(pool, me, spec.ttl)
            got = time.monotonic()
            if lease is not None:
                grabs.append(Grab(me, lease.token, got, lease.expires_monotonic - spec.margin))
                if may_act(lease, time.monotonic(), spec.margin):
                    try:
                        guarded_write(engine, fence, pool, me, lease.token)
                        ok += 1
                    except FencingError:
                        refused += 1
                if rng.random() < 0.2:
                    time.sleep(spec.ttl + 0.3)  # a pause: the lease must go to someone else
                    continue
            time.sleep(rng.uniform(0.02, 0.08))
    finally:
        backend.close()
        engine.dispose()
    return Outcome(tuple(grabs), ok, refused)


def contend_star(args: tuple[Spec, str, str, float, int, float]) -> Outcome:
    return contend(*args)
