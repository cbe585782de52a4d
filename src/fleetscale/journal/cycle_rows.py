"""The ``fs_cycles`` table: writing cycles (a run of cycles that changed nothing is one row),
reading them back one record per cycle, and upgrading a table made by older code.

Columns: ``id, pool, cycle_id, started_at, finished_at, dry_run, current, desired, direction,
reason, n_errors, record`` (the compact body, ``journal/compact.py``; before the bounded journal:
the whole record as JSON), ``repeats`` (further cycles the row stands for), ``last_at`` (start of
its last cycle) and ``times`` (how to rebuild them, ``journal/spans.py``).

A cycle extends the pool's last row instead of adding one when it has no outcome and no errors,
its body (observations with their values, instances with their states, proposals, governor
steps, decision, plan) equals the row's, its dry-run flag too, its id follows from the row's, and
the row is under the span limits. The writer remembers, per pool, the last row it wrote and
checks it is still the pool's last (another writer, a prune) before updating it; after a restart
the first cycle starts a new row.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from fleetscale.journal import compact, spans
from fleetscale.journal.record import CycleRecord

TIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
LONG = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
#: columns added by the bounded journal: ``upgrade`` adds them to an older table
NEW_COLUMNS = ("repeats", "last_at", "times")
NEW_INDEXES = ("ix_fs_cycles_started_at", "ix_fs_cycles_pool_started_at")
PAGE = 100


def define(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "fs_cycles", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("pool", sa.String(64), nullable=False),
        sa.Column("cycle_id", sa.String(191), nullable=False, unique=True),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("finished_at", TIME, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("current", sa.Integer),
        sa.Column("desired", sa.Integer),
        sa.Column("direction", sa.String(8)),
        sa.Column("reason", sa.Text),
        sa.Column("n_errors", sa.Integer, nullable=False),
        sa.Column("record", LONG, nullable=False),
        sa.Column("repeats", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_at", TIME),
        sa.Column("times", sa.Text),
        sa.Index("ix_fs_cycles_pool_id", "pool", "id"),
        sa.Index("ix_fs_cycles_started_at", "started_at"),
        sa.Index("ix_fs_cycles_pool_started_at", "pool", "started_at"),
    )


def upgrade(conn: sa.Connection, table: sa.Table) -> list[str]:
    """Add what an older ``fs_cycles`` lacks (columns, indexes); returns what was added.

    Adding a nullable column or one with a default is quick on SQLite and MariaDB (no rewrite);
    building an index reads the table once (MariaDB builds it online)."""
    inspector = sa.inspect(conn)
    have = {c["name"] for c in inspector.get_columns(table.name)}
    added = []
    for name in NEW_COLUMNS:
        if name not in have:
            col = table.c[name]
            ddl = f"{col.type.compile(dialect=conn.dialect)}"
            if col.server_default is not None:
                ddl += f" NOT NULL DEFAULT {col.server_default.arg}"  # type: ignore[attr-defined]
            conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {name} {ddl}")
            added.append(name)
    indexes = {i["name"] for i in inspector.get_indexes(table.name)}
    for index in table.indexes:
        if index.name in NEW_INDEXES and index.name not in indexes:
            index.create(conn)
            added.append(str(index.name))
    return added


def utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None)


def _aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Last:
    """The last row this process wrote for a pool."""

    pool: str
    id: int
    repeats: int
    body: str
    dry_run: bool
    cycle_id: str
    started_at: datetime
    last_at: datetime
    times: str | None


class CycleWriter:
    """Writes cycles into ``fs_cycles``; thread-safe (one pool per thread)."""

    def __init__(self, table: sa.Table) -> None:
        self.table = table
        self._last: dict[str, _Last] = {}
        self._lock = threading.Lock()
        t = table
        # built once: a span's cycle costs one indexed select and one update by primary key
        self._newest = (sa.select(t.c.id, t.c.repeats).where(t.c.pool == sa.bindparam("p"))
                        .order_by(t.c.id.desc()).limit(1))
        self._extend = (t.update().where(t.c.id == sa.bindparam("row"), t.c.repeats == sa.bindparam("was"))
                        .values(repeats=sa.bindparam("now"), last_at=sa.bindparam("at"),
                                times=sa.bindparam("tt")))

    def write(self, conn: sa.Connection, cycle: CycleRecord, body: str | None = None) -> None:
        body = compact.encode(cycle) if body is None else body
        start, finish = utc(cycle.started_at), utc(cycle.finished_at)
        with self._lock:
            last = self._last.get(cycle.pool)
        if last is not None and self._extends(last, cycle, body, start) and self._still_last(conn, last):
            times = spans.append(last.times, start - last.last_at, finish - start)
            done = conn.execute(self._extend, {"row": last.id, "was": last.repeats, "now": last.repeats + 1,
                                               "at": start, "tt": times})
            if done.rowcount == 1:
                self._remember(dataclasses.replace(last, repeats=last.repeats + 1, last_at=start,
                                                   times=times))
                return
        new_id = conn.execute(self.table.insert(), _row(cycle, body)).inserted_primary_key[0]  # type: ignore[index]
        self._remember(_Last(cycle.pool, int(new_id), 0, body, cycle.dry_run, cycle.cycle_id,
                             start, start, None))

    def write_many(self, conn: sa.Connection, batch: Sequence[tuple[CycleRecord, str]]) -> None:
        """``write`` for many cycles (with their bodies) in a few statements: one read of the
        pools' newest rows, one ``executemany`` of span extensions, one of new rows, one read of
        their ids. A pool that comes twice starts the next round (rows follow cycle order)."""
        round_: list[tuple[CycleRecord, str]] = []
        pools: set[str] = set()
        for cycle, body in batch:
            if cycle.pool in pools:
                self._write_round(conn, round_)
                round_, pools = [], set()
            round_.append((cycle, body))
            pools.add(cycle.pool)
        if round_:
            self._write_round(conn, round_)

    def _write_round(self, conn: sa.Connection, batch: Sequence[tuple[CycleRecord, str]]) -> None:
        t = self.table
        with self._lock:
            lasts = {c.pool: self._last.get(c.pool) for c, _ in batch}
        maybe = {c.pool for c, body in batch
                 if (last := lasts[c.pool]) is not None and self._extends(last, c, body, utc(c.started_at))}
        newest: dict[str, int] = {}
        if maybe:
            q = (sa.select(t.c.pool, sa.func.max(t.c.id)).where(t.c.pool.in_(sorted(maybe)))
                 .group_by(t.c.pool))
            newest = {str(r[0]): int(r[1]) for r in conn.execute(q)}
        extend: list[tuple[_Last, dict[str, Any]]] = []
        insert: list[tuple[CycleRecord, str]] = []
        for cycle, body in batch:
            last = lasts[cycle.pool]
            if last is not None and cycle.pool in maybe and newest.get(cycle.pool) == last.id:
                start, finish = utc(cycle.started_at), utc(cycle.finished_at)
                times = spans.append(last.times, start - last.last_at, finish - start)
                after = dataclasses.replace(last, repeats=last.repeats + 1, last_at=start, times=times)
                extend.append((after, {"row": last.id, "was": last.repeats, "now": last.repeats + 1,
                                       "at": start, "tt": times}))
            else:
                insert.append((cycle, body))
        if extend:
            done = conn.execute(self._extend, [params for _, params in extend]).rowcount
            if done != len(extend):  # a row changed under us (another writer): check each one
                now = {int(r.id): int(r.repeats) for r in conn.execute(
                    sa.select(t.c.id, t.c.repeats).where(t.c.id.in_([p["row"] for _, p in extend])))}
                missed = {p["row"] for _, p in extend if now.get(p["row"]) != p["now"]}
                insert += [(c, b) for c, b in batch
                           if (last := lasts[c.pool]) is not None and last.id in missed]
                extend = [(e, p) for e, p in extend if p["row"] not in missed]
            for last, _ in extend:
                self._remember(last)
        if insert:
            conn.execute(t.insert(), [_row(c, b) for c, b in insert])
            ids = {str(r.cycle_id): int(r.id) for r in conn.execute(
                sa.select(t.c.id, t.c.cycle_id).where(t.c.cycle_id.in_([c.cycle_id for c, _ in insert])))}
            for cycle, body in insert:
                start = utc(cycle.started_at)
                self._remember(_Last(cycle.pool, ids[cycle.cycle_id], 0, body, cycle.dry_run,
                                     cycle.cycle_id, start, start, None))

    def _remember(self, last: _Last) -> None:
        with self._lock:
            self._last[last.pool] = last

    @staticmethod
    def _extends(last: _Last, cycle: CycleRecord, body: str, start: datetime) -> bool:
        return (not cycle.outcome and not cycle.errors and body == last.body
                and cycle.dry_run == last.dry_run and last.repeats < spans.MAX_REPEATS
                and last.last_at < start and start - last.started_at < spans.MAX_SPAN
                and spans.cycle_id(last.cycle_id, last.repeats + 1, start) == cycle.cycle_id)

    def _still_last(self, conn: sa.Connection, last: _Last) -> bool:
        got = conn.execute(self._newest, {"p": last.pool}).first()
        return got is not None and (got.id, got.repeats) == (last.id, last.repeats)


def _row(cycle: CycleRecord, body: str) -> dict[str, Any]:
    d = cycle.decision
    start = utc(cycle.started_at)
    return {
        "pool": cycle.pool, "cycle_id": cycle.cycle_id, "started_at": start,
        "finished_at": utc(cycle.finished_at), "dry_run": cycle.dry_run,
        "current": d.current if d else None, "desired": d.desired if d else None,
        "direction": d.direction.value if d else None, "reason": d.reason if d else None,
        "n_errors": len(cycle.errors), "record": body, "repeats": 0, "last_at": start,
    }


# --- reading --------------------------------------------------------------------------


def _columns(table: sa.Table, spans_ok: bool) -> list[Any]:
    c = table.c
    cols: list[Any] = [c.id, c.pool, c.cycle_id, c.started_at, c.finished_at, c.dry_run, c.record]
    if spans_ok:
        return [*cols, c.repeats, c.last_at, c.times]
    return [*cols, sa.literal(0).label("repeats"), sa.null().label("last_at"), sa.null().label("times")]


def expand(row: Any) -> Iterator[dict[str, Any]]:
    """Every cycle a row stands for, oldest first, as ``CycleRecord.to_dict()`` dicts."""
    doc = json.loads(row.record)
    first, finished = _aware(row.started_at), _aware(row.finished_at)
    yield compact.decode(doc, pool=row.pool, cycle_id=row.cycle_id, started_at=first,
                         finished_at=finished, dry_run=bool(row.dry_run))
    for k, (start, finish) in enumerate(spans.expand(first, row.times), start=1):
        cid = spans.cycle_id(row.cycle_id, k, start) or f"{row.cycle_id}+{k}"
        yield compact.decode(doc, pool=row.pool, cycle_id=cid, started_at=start,
                             finished_at=finish, dry_run=bool(row.dry_run))


def span(row: Any) -> dict[str, Any]:
    """The row's first cycle with ``repeats`` (further identical cycles) and ``last_at`` (the
    last one's start, ISO 8601): one entry of ``explain``."""
    first = next(expand(row))
    last = _aware(row.last_at) if row.last_at is not None else _aware(row.started_at)
    return first | {"repeats": int(row.repeats or 0), "last_at": last.isoformat()}


class CycleReader:
    """Reads ``fs_cycles``, expanding spans; ``spans_ok`` False for a table not yet upgraded."""

    def __init__(self, table: sa.Table, spans_ok: bool = True) -> None:
        self.table = table
        self.spans_ok = spans_ok

    def newest_rows(self, conn: sa.Connection, pool: str, rows: int,
                    before_id: int | None = None) -> list[Any]:
        t = self.table
        q = sa.select(*_columns(t, self.spans_ok)).where(t.c.pool == pool)
        if before_id is not None:
            q = q.where(t.c.id < before_id)
        return list(conn.execute(q.order_by(t.c.id.desc()).limit(rows)).all())

    def rows_between(self, conn: sa.Connection, pool: str, since: datetime | None,
                     until: datetime | None, after_id: int) -> list[Any]:
        """A page of the pool's rows that may hold cycles started in [since, until), by id."""
        t = self.table
        q = sa.select(*_columns(t, self.spans_ok)).where(t.c.pool == pool, t.c.id > after_id)
        if since is not None:
            q = q.where(t.c.started_at >= utc(since - spans.MAX_SPAN))
        if until is not None:
            q = q.where(t.c.started_at < utc(until))
        return list(conn.execute(q.order_by(t.c.id).limit(PAGE)).all())
