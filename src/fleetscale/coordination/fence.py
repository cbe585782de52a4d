"""Fencing: the two rules that keep a replica whose lease ran out from acting.

1. **Locally** (``may_act``): a replica acts on a pool only while
   ``now_monotonic < lease.expires_monotonic - safety_margin``. ``expires_monotonic`` is the
   monotonic time read *before* the request that took or renewed the lease, plus the TTL, so it
   is never later than the backend's own expiry; the margin covers clock-rate differences and
   the time one write takes. A replica paused past its TTL (SIGSTOP, a GC pause, a partition)
   wakes with ``may_act`` false and does nothing, before any store would have to refuse it.

2. **In the store** (``Fence.guard``): every state write and write-ahead intent calls
   ``guard(conn, pool, token)`` first in its own transaction. If ``token`` is no longer current
   the guard raises ``FencingError`` and the caller's transaction rolls back; if it is current,
   the guard locks what it checked until the transaction ends, so no takeover can commit in
   between. Two implementations:

   - ``LeaseRowFence`` (the ``sql`` backend, lease table in the same database as the state):
     compares with the lease row itself: same epoch and not expired, by the database's clock.
     MariaDB: ``SELECT ... FOR UPDATE``; SQLite: a no-op ``UPDATE`` (takes the write lock).
     Not what ``coordination.build`` wires: its row locks, held for a whole guarded write, held
     back the bulk renewal of thousands of lease rows (renewals late, leases lapsed).
   - ``TokenFence`` (any backend whose tokens only grow: the sql backend's epochs, etcd
     revisions; what ``coordination.build`` wires): a high-water mark per pool in ``fs_fence``,
     rows the lease renewal never touches. A write with a token
     lower than the highest one seen is refused; a higher one raises the mark. A new holder
     ``claim``s the pool (raises the mark) in the transaction that loads the pool's state, so the
     old holder's later writes are refused and its earlier ones are in the state it loads.
"""

from __future__ import annotations

from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from fleetscale.coordination.lease import Lease
from fleetscale.coordination.sql import create_tables, db_now, leases
from fleetscale.errors import FencingError


def may_act(lease: Lease | None, now_monotonic: float, safety_margin: float) -> bool:
    """True while the holder of ``lease`` may still act (read the clock just before acting)."""
    return lease is not None and now_monotonic < lease.expires_monotonic - safety_margin


class Fence(Protocol):
    """The store-side check. Call it inside the write's own transaction, before the write."""

    def guard(self, conn: sa.Connection, pool: str, token: int) -> None:
        """Raise ``FencingError`` unless ``token`` is current for ``pool``; lock it until commit."""
        ...

    def claim(self, conn: sa.Connection, pool: str, token: int) -> None:
        """A new holder's first write: refuse older holders from now on (then ``guard``)."""
        ...

    def create(self, engine: sa.Engine) -> None:
        """Create the tables this fence reads, if missing."""
        ...


def _refuse(pool: str, token: int, why: str) -> FencingError:
    return FencingError(f"pool {pool}: write with lease token {token} refused: {why}")


class LeaseRowFence:
    """Checks the ``sql`` backend's lease row; the state must live in the same database."""

    def create(self, engine: sa.Engine) -> None:
        create_tables(leases.metadata, engine)

    def guard(self, conn: sa.Connection, pool: str, token: int) -> None:
        dialect = conn.dialect.name
        now = db_now(dialect)
        if dialect == "sqlite":
            # an UPDATE both checks and takes SQLite's write lock for the rest of the transaction
            hit = conn.execute(sa.text(
                f"UPDATE fs_leases SET epoch = epoch WHERE pool = :pool AND epoch = :token "
                f"AND expires_us > {now}"), {"pool": pool, "token": token}).rowcount
            if hit != 1:
                raise _refuse(pool, token, "another replica holds the pool or the lease expired")
            return
        row = conn.execute(sa.text(
            f"SELECT epoch, expires_us > {now} AS live FROM fs_leases WHERE pool = :pool FOR UPDATE"),
            {"pool": pool}).one_or_none()
        if row is None:
            raise _refuse(pool, token, "the pool has never been leased")
        if int(row.epoch) != token:
            raise _refuse(pool, token, f"the current token is {int(row.epoch)}")
        if not row.live:
            raise _refuse(pool, token, "the lease expired")

    def claim(self, conn: sa.Connection, pool: str, token: int) -> None:
        # the takeover itself bumped the epoch in the lease row: nothing more to record
        self.guard(conn, pool, token)


fence_marks = sa.MetaData()
fences = sa.Table(
    "fs_fence", fence_marks,
    sa.Column("pool", sa.String(191), primary_key=True),
    sa.Column("token", sa.BigInteger, nullable=False),
    mysql_charset="utf8mb4", mysql_collate="utf8mb4_bin",
)


class TokenFence:
    """A per-pool high-water mark of tokens in the state's database (``fs_fence``)."""

    def create(self, engine: sa.Engine) -> None:
        create_tables(fence_marks, engine)

    def guard(self, conn: sa.Connection, pool: str, token: int) -> None:
        # the steady case, one statement: the holder's mark is there (its claim wrote it) and
        # not above its token. The UPDATE takes the row's exclusive lock (a claim by a newer
        # holder waits for this transaction) and counts the rows it matched, changed or not
        # (SQLite's changes(); MariaDB through SQLAlchemy's drivers, which ask for found rows)
        matched = conn.execute(fences.update().where(fences.c.pool == pool, fences.c.token <= token)
                               .values(token=token)).rowcount
        if matched != 1:  # no mark yet, or a newer holder's: the full check says which
            self._raise_mark(conn, pool, token)

    def claim(self, conn: sa.Connection, pool: str, token: int) -> None:
        self._raise_mark(conn, pool, token)

    def _raise_mark(self, conn: sa.Connection, pool: str, token: int) -> None:
        dialect = conn.dialect.name
        if dialect == "sqlite":
            ins = sqlite_insert(fences).values(pool=pool, token=token)
            stmt = ins.on_conflict_do_update(index_elements=[fences.c.pool],
                                             set_={"token": ins.excluded.token},
                                             where=fences.c.token < ins.excluded.token)
            conn.execute(stmt)
            mark = conn.execute(sa.select(fences.c.token).where(fences.c.pool == pool)).scalar_one()
        else:
            # one statement that takes the row's exclusive lock at once (no shared-then-exclusive
            # upgrade, which deadlocks two writers)
            mins = mysql_insert(fences).values(pool=pool, token=token)
            conn.execute(mins.on_duplicate_key_update(token=sa.func.greatest(fences.c.token,
                                                                             mins.inserted.token)))
            mark = conn.execute(sa.select(fences.c.token).where(fences.c.pool == pool)
                                .with_for_update()).scalar_one()
        if int(mark) > token:
            raise _refuse(pool, token, f"a newer holder wrote with token {int(mark)}")
