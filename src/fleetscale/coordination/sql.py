"""The ``sql`` lease backend: a lease table in the journal's database (MariaDB, or SQLite for
one host), SQLAlchemy Core with bound parameters only.

Tables (created if missing)::

    fs_leases    pool PK, holder, epoch, expires_us   one row per pool, never deleted
    fs_replicas  replica PK, expires_us               membership heartbeats

Times are integer microseconds since 1970 **on the database's clock** (MariaDB
``UTC_TIMESTAMP(6)``, SQLite ``julianday('now')``), computed inside the statement; a replica's
own clock never decides who holds a lease.

Taking or renewing is one atomic statement (an upsert):

- a missing row is inserted with epoch 1;
- an expired lease (``expires_us <= now``) goes to the caller with ``epoch + 1``;
- a live lease held by the caller is extended, epoch unchanged (a renewal);
- a live lease held by someone else is left alone.

MariaDB has no ``WHERE`` on ``ON DUPLICATE KEY UPDATE``, so each assignment is an ``IF``; it
evaluates assignments left to right, each seeing the columns already assigned, hence the order
``epoch`` (reads the old expiry), ``holder`` (old expiry), then ``expires_us`` (the *new*
holder). SQLite's ``ON CONFLICT DO UPDATE ... WHERE`` sees only old values. The statement is
followed, in the same transaction, by a read of the row, which says whether the caller holds it:
the affected-row count is not used (it depends on the driver's ``CLIENT_FOUND_ROWS`` flag).

Pitfalls handled here: rows are never deleted (the epoch would restart at 1 and tokens would go
backwards); ``release`` only expires the row. Names compare byte for byte on MariaDB
(``utf8mb4_bin``), so ``A`` and ``a`` are different replicas. Concurrent first inserts of one
key can deadlock on InnoDB; those statements are retried. A lease statement waits at most
``LOCK_WAIT`` seconds for a row locked by a guarded write (``fence.LeaseRowFence``, when used),
so one replica paused inside such a transaction cannot stall the others' renewals. Releasing
many pools (a stop, a rebalance) is one statement per few hundred pools (``release_many``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from fleetscale.coordination.lease import Holder, Lease
from fleetscale.errors import CoordinationError
from fleetscale.journal import schema

T = TypeVar("T")

_NAME = sa.String(191).with_variant(mysql.VARCHAR(191, collation="utf8mb4_bin"), "mysql", "mariadb")
#: finished membership rows older than this are deleted at each heartbeat
_FORGET_US = 3600 * 1_000_000
#: InnoDB deadlock, SQLite "database is locked": worth another try
_RETRY_CODES = (1213,)
#: seconds a lease statement waits for a row another transaction locked (a guarded write in
#: flight) before giving up for this round, instead of InnoDB's 50 s: a replica paused inside a
#: guarded transaction must not stall the others' renewals
LOCK_WAIT = 2
#: pools taken per transaction by ``acquire_many``
_CHUNK = 500
_ATTEMPTS = 4

metadata = sa.MetaData()
leases = sa.Table(
    "fs_leases", metadata,
    sa.Column("pool", _NAME, primary_key=True),
    sa.Column("holder", _NAME, nullable=False),
    sa.Column("epoch", sa.BigInteger, nullable=False),
    sa.Column("expires_us", sa.BigInteger, nullable=False),
    sa.Index("ix_fs_leases_holder", "holder"),
    mysql_charset="utf8mb4",
)
replicas = sa.Table(
    "fs_replicas", metadata,
    sa.Column("replica", _NAME, primary_key=True),
    sa.Column("expires_us", sa.BigInteger, nullable=False),
    mysql_charset="utf8mb4",
)


def db_now(dialect: str) -> str:
    """SQL for the database's current time in integer microseconds since 1970 (UTC)."""
    if dialect == "sqlite":
        return "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)"
    if dialect in ("mysql", "mariadb"):
        return "TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6))"
    raise CoordinationError(f"coordination.url: the sql lease backend supports MariaDB/MySQL and "
                            f"SQLite (got {dialect})")


def _statements(dialect: str) -> dict[str, sa.TextClause]:
    now = db_now(dialect)
    if dialect == "sqlite":
        take = f"""
            INSERT INTO fs_leases (pool, holder, epoch, expires_us) VALUES (:pool, :me, 1, {now} + :ttl_us)
            ON CONFLICT (pool) DO UPDATE SET
              epoch = CASE WHEN expires_us <= {now} THEN epoch + 1 ELSE epoch END,
              holder = excluded.holder,
              expires_us = excluded.expires_us
            WHERE fs_leases.holder = excluded.holder OR fs_leases.expires_us <= {now}"""
        beat = f"""
            INSERT INTO fs_replicas (replica, expires_us) VALUES (:me, {now} + :ttl_us)
            ON CONFLICT (replica) DO UPDATE SET expires_us = excluded.expires_us"""
    else:
        take = f"""
            INSERT INTO fs_leases (pool, holder, epoch, expires_us) VALUES (:pool, :me, 1, {now} + :ttl_us)
            ON DUPLICATE KEY UPDATE
              epoch = IF(expires_us <= {now}, epoch + 1, epoch),
              holder = IF(expires_us <= {now}, :me, holder),
              expires_us = IF(holder = :me, {now} + :ttl_us, expires_us)"""
        beat = f"""
            INSERT INTO fs_replicas (replica, expires_us) VALUES (:me, {now} + :ttl_us)
            ON DUPLICATE KEY UPDATE expires_us = {now} + :ttl_us"""
    text = {
        "take": take,
        "read": f"SELECT holder, epoch, expires_us > {now} AS live FROM fs_leases WHERE pool = :pool",
        "renew": f"UPDATE fs_leases SET expires_us = {now} + :ttl_us "
                 f"WHERE holder = :me AND expires_us > {now}",
        "mine": f"SELECT pool, epoch FROM fs_leases WHERE holder = :me AND expires_us > {now}",
        "release": f"UPDATE fs_leases SET expires_us = {now} - 1 "
                   f"WHERE pool = :pool AND holder = :me AND epoch = :token AND expires_us > {now}",
        "holders": f"SELECT pool, holder, epoch FROM fs_leases WHERE expires_us > {now}",
        "check": f"SELECT COUNT(*) FROM fs_leases "
                 f"WHERE pool = :pool AND epoch = :token AND expires_us > {now}",
        "beat": beat,
        "forget": f"DELETE FROM fs_replicas WHERE expires_us < {now} - :forget_us",
        "leave": "DELETE FROM fs_replicas WHERE replica = :me",
        "live": f"SELECT replica FROM fs_replicas WHERE expires_us > {now}",
    }
    return {k: sa.text(v) for k, v in text.items()}


def _sqlite_setup(dbapi_conn: Any, record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _mysql_setup(dbapi_conn: Any, record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"SET SESSION innodb_lock_wait_timeout = {LOCK_WAIT}")
    cur.close()


def make_engine(url: str) -> sa.Engine:
    """An engine for ``url``; SQLite files in WAL mode with a busy timeout; MariaDB sessions
    with a short lock wait (``LOCK_WAIT``)."""
    if url in ("sqlite://", "sqlite:///:memory:"):
        return sa.create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    engine = sa.create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_setup)
    elif engine.dialect.name in ("mysql", "mariadb"):
        sa.event.listen(engine, "connect", _mysql_setup)
    return engine


def create_tables(tables: sa.MetaData, engine: sa.Engine) -> None:
    """``create_all``, safe beside another replica creating the same tables at the same moment."""
    try:
        schema.create_all(tables, engine)
    except SQLAlchemyError as exc:
        raise CoordinationError(f"lease table: cannot create tables: {exc}") from exc


def _retryable(exc: DBAPIError) -> bool:
    orig = exc.orig
    code = orig.args[0] if orig is not None and orig.args else None
    return code in _RETRY_CODES or "database is locked" in str(orig)


def _us(seconds: float) -> int:
    return round(seconds * 1_000_000)


class SqlLeases:
    """``LeaseBackend`` on a SQL database. ``engine`` may be the journal's own engine."""

    def __init__(self, engine: sa.Engine, *, create: bool = True,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._sql = _statements(self.dialect)
        self._monotonic = monotonic
        if create:
            create_tables(metadata, engine)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> SqlLeases:
        try:
            return cls(make_engine(url), **kwargs)
        except (SQLAlchemyError, ImportError) as exc:
            safe = sa.engine.make_url(url).render_as_string(hide_password=True)
            raise CoordinationError(f"coordination.url: cannot open {safe}: {exc}") from exc

    def _run(self, what: str, fn: Callable[[sa.Connection], T]) -> T:
        for attempt in range(_ATTEMPTS):
            try:
                with self.engine.begin() as conn:
                    return fn(conn)
            except DBAPIError as exc:
                if attempt + 1 < _ATTEMPTS and _retryable(exc):
                    time.sleep(0.01 * (attempt + 1))
                    continue
                raise CoordinationError(f"lease table: {what} failed: {exc.orig}") from exc
            except SQLAlchemyError as exc:
                raise CoordinationError(f"lease table: {what} failed: {exc}") from exc
        raise AssertionError("unreachable")

    # --- leases -----------------------------------------------------------------------

    def acquire_or_renew(self, pool: str, replica: str, ttl: float) -> Lease | None:
        started = self._monotonic()

        def go(c: sa.Connection) -> Lease | None:
            c.execute(self._sql["take"], {"pool": pool, "me": replica, "ttl_us": _us(ttl)})
            row = c.execute(self._sql["read"], {"pool": pool}).one()
            if row.holder == replica and row.live:
                return Lease(pool, replica, int(row.epoch), started + ttl)
            return None
        return self._run(f"take {pool}", go)

    def acquire_many(self, pools: Sequence[str], replica: str, ttl: float) -> Mapping[str, Lease]:
        """The take statement for each pool, ``_CHUNK`` pools per transaction (one commit, not
        one per pool), then one read of what this replica holds. A chunk that fails (a row
        locked by a guarded write) rolls back and is skipped; raises only if every chunk failed."""
        got: dict[str, Lease] = {}
        failed: CoordinationError | None = None
        for i in range(0, len(pools), _CHUNK):
            chunk = pools[i:i + _CHUNK]
            started = self._monotonic()

            def go(c: sa.Connection, chunk: Sequence[str] = chunk, started: float = started) -> None:
                c.execute(self._sql["take"], [{"pool": p, "me": replica, "ttl_us": _us(ttl)} for p in chunk])
                wanted = set(chunk)
                for r in c.execute(self._sql["mine"], {"me": replica}).all():
                    if r.pool in wanted:
                        got[r.pool] = Lease(r.pool, replica, int(r.epoch), started + ttl)
            try:
                self._run(f"take {len(chunk)} pools", go)
            except CoordinationError as exc:
                failed = exc
        if failed is not None and not got:
            raise failed
        return got

    def renew_all(self, replica: str, ttl: float) -> Mapping[str, Lease]:
        started = self._monotonic()

        def go(c: sa.Connection) -> dict[str, Lease]:
            c.execute(self._sql["renew"], {"me": replica, "ttl_us": _us(ttl)})
            rows = c.execute(self._sql["mine"], {"me": replica}).all()
            return {r.pool: Lease(r.pool, replica, int(r.epoch), started + ttl) for r in rows}
        return self._run("renew", go)

    def release(self, pool: str, replica: str, token: int) -> None:
        self._run(f"release {pool}", lambda c: c.execute(
            self._sql["release"], {"pool": pool, "me": replica, "token": token}))

    def release_many(self, tokens: Mapping[str, int], replica: str) -> None:
        """``release`` for many pools, one statement per ``_CHUNK`` pools in one transaction
        (a stop or a rebalance gives up thousands of pools in well under a second)."""
        items = sorted(tokens.items())
        if not items:
            return
        now: sa.ColumnElement[int] = sa.literal_column(db_now(self.dialect), sa.BigInteger)

        def go(c: sa.Connection) -> None:
            for i in range(0, len(items), _CHUNK):
                chunk = items[i:i + _CHUNK]
                c.execute(leases.update()
                          .where(leases.c.holder == replica, leases.c.expires_us > now,
                                 sa.tuple_(leases.c.pool, leases.c.epoch).in_(chunk))
                          .values(expires_us=now - 1))
        self._run(f"release {len(items)} pools", go)

    def holders(self) -> Mapping[str, Holder]:
        rows = self._run("list holders", lambda c: c.execute(self._sql["holders"]).all())
        return {r.pool: Holder(r.holder, int(r.epoch)) for r in rows}

    def check(self, pool: str, token: int) -> bool:
        n = self._run(f"check {pool}", lambda c: c.execute(
            self._sql["check"], {"pool": pool, "token": token}).scalar_one())
        return bool(n)

    # --- membership -------------------------------------------------------------------

    def register_replica(self, replica: str, ttl: float) -> None:
        def go(c: sa.Connection) -> None:
            c.execute(self._sql["beat"], {"me": replica, "ttl_us": _us(ttl)})
            c.execute(self._sql["forget"], {"forget_us": _FORGET_US})
        self._run("heartbeat", go)

    def deregister_replica(self, replica: str) -> None:
        self._run("leave", lambda c: c.execute(self._sql["leave"], {"me": replica}))

    def live_replicas(self) -> frozenset[str]:
        rows = self._run("list replicas", lambda c: c.execute(self._sql["live"]).scalars().all())
        return frozenset(rows)

    def close(self) -> None:
        self.engine.dispose()
