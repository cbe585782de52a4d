"""Journal sink ``sql`` and the operator's controls, in SQL (SQLAlchemy Core).

SQLite by default (``sqlite:///fleetscale.db``); a MariaDB/MySQL URL
(``mysql+pymysql://user@127.0.0.1/db``) works too. Tables (created if missing):

- ``fs_cycles``: one row per pool per cycle, or per run of cycles that changed nothing (a
  span): the decision's columns plus the CycleRecord as compact JSON (inputs, proposals,
  governor steps, plan, outcome, errors); ``journal/cycle_rows.py`` writes and reads it,
  ``journal/retention.py`` prunes it (``journal.retention``, default 14 days).
- ``fs_operator``: runtime operator controls written by ``fleetscale pause|resume|hold`` and
  read by the controller every cycle: kinds ``pause_up``, ``pause_down``, ``hold`` (with
  ``hold`` units and ``until``).

Each pool's ``FleetState`` (drains, known instances, boot tracking, decision memory) is kept by
``journal/state_store.py`` in ``fs_state``, in the same database.

SQLite files run in WAL mode with ``synchronous=NORMAL``.
Datetimes are stored as UTC without zone and read back as aware UTC datetimes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from fleetscale.decide import Override
from fleetscale.errors import JournalError
from fleetscale.journal import compact, cycle_rows, schema
from fleetscale.journal.cycle_queue import Batch, CycleQueue
from fleetscale.journal.record import CycleRecord
from fleetscale.journal.retention import DEFAULT_RETENTION, Pruner
from fleetscale.model import Direction

log = structlog.get_logger(__name__)
_TIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

metadata = sa.MetaData()
cycles = cycle_rows.define(metadata)
operator = sa.Table(
    "fs_operator", metadata,
    sa.Column("pool", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("hold", sa.Integer),
    sa.Column("until", _TIME),
    sa.Column("set_at", _TIME, nullable=False),
)


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None)


def _aware(dt: datetime | None) -> datetime | None:
    return None if dt is None else dt.replace(tzinfo=UTC)


def _sqlite_pragmas(dbapi_conn: Any, record: Any) -> None:
    """WAL: the CLI reads while the controller writes; synchronous=NORMAL: a commit does not
    wait for the disk (a power cut may lose the last cycles' records, never corrupt the file)."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def _put(c: sa.Connection, pool: str, kind: str, at: datetime, hold: int | None = None,
         until: datetime | None = None) -> None:
    c.execute(operator.delete().where(operator.c.pool == pool, operator.c.kind == kind))
    c.execute(operator.insert(), {"pool": pool, "kind": kind, "hold": hold,
                                  "until": _utc(until) if until else None, "set_at": _utc(at)})


def put_pause(c: sa.Connection, pool: str, at: datetime, direction: Direction | None = None) -> None:
    """Pause ``pool`` (one direction, or both) within the caller's transaction."""
    for d in [direction] if direction else [Direction.UP, Direction.DOWN]:
        _put(c, pool, f"pause_{d.value}", at)


def put_hold(c: sa.Connection, pool: str, units: int, until: datetime, at: datetime) -> None:
    _put(c, pool, "hold", at, hold=units, until=until)


def clear_controls(c: sa.Connection, pool: str) -> int:
    """Remove every pause and hold of ``pool``; returns how many were removed."""
    return int(c.execute(operator.delete().where(operator.c.pool == pool)).rowcount)


def _create(engine: sa.Engine) -> None:
    """``create_all``, safe beside a replica starting at the same moment (``schema``)."""
    schema.create_all(metadata, engine)


@dataclass(frozen=True, slots=True)
class OperatorState:
    """What an operator set at runtime for one pool."""

    paused: frozenset[Direction] = frozenset()
    override: Override | None = None


class SqlJournal:
    """The SQL sink (``record``) plus the controller's durable state."""

    def __init__(self, url: str, create: bool = True, retention: timedelta = DEFAULT_RETENTION) -> None:
        self.url = url
        try:
            if url in ("sqlite://", "sqlite:///:memory:"):
                self.engine = sa.create_engine(url, poolclass=StaticPool,
                                               connect_args={"check_same_thread": False})
            else:
                self.engine = sa.create_engine(url, pool_pre_ping=True)
                if self.engine.dialect.name == "sqlite":
                    sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            if create:
                _create(self.engine)
            self._file = self._sqlite_file()
            self._identity = _identity(self._file) if self._file else None
            spans_ok = self._upgrade_cycles(create)
        except (SQLAlchemyError, ImportError) as exc:
            raise JournalError(f"journal {self._safe_url()}: cannot open: {exc}") from exc
        self._writer = cycle_rows.CycleWriter(cycles)
        self._reader = cycle_rows.CycleReader(cycles, spans_ok)
        self.pruner = Pruner(self.engine, cycles, retention, spans_ok=spans_ok)
        self._queue: CycleQueue | None = None
        #: per pool, the last replay inputs recorded and their text (``_inputs_text``)
        self._inputs: dict[str, tuple[Mapping[str, Any], str]] = {}
        #: per pool, its last cycle's record and body (a quiet cycle reuses the body)
        self._bodies: dict[str, tuple[CycleRecord, str]] = {}
        self._lock = threading.Lock()

    def _upgrade_cycles(self, create: bool) -> bool:
        """Bring a ``fs_cycles`` made by older code up to date (``create``), or tell whether it
        is (spans can be read)."""
        with self.engine.begin() as conn:
            if not sa.inspect(conn).has_table(cycles.name):
                return True
            if create:
                added = cycle_rows.upgrade(conn, cycles)
                if added:
                    log.info("journal upgraded", table=cycles.name, added=added)
                return True
            have = {c["name"] for c in sa.inspect(conn).get_columns(cycles.name)}
            return set(cycle_rows.NEW_COLUMNS) <= have

    #: the journal is what makes decisions explainable and crash-safe: a pool whose journal
    #: cannot be written holds (``runner.PoolRunner``)
    required = True

    def _sqlite_file(self) -> str | None:
        if self.engine.dialect.name != "sqlite":
            return None
        name = self.engine.url.database
        return None if not name or name == ":memory:" else os.path.abspath(name)

    def verify(self) -> None:
        """Refuse a damaged SQLite file at start (``PRAGMA quick_check``) rather than find it
        later (``fleetscale run`` calls this; it reads the whole file once)."""
        if not self._file:
            return
        with self.engine.connect() as conn:
            rows = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA quick_check").fetchall()]
        if rows != ["ok"]:
            raise JournalError(f"journal {self._file}: the database file is damaged "
                               f"({'; '.join(rows[:3])}); restore it from a backup or move it away")

    def _check_file(self) -> None:
        """The SQLite file deleted or replaced under a running controller would silently take
        its writes to an unlinked file: refuse instead."""
        if self._file and _identity(self._file) != self._identity:
            raise JournalError(f"journal {self._file}: the database file was deleted or replaced "
                               "while running; its records would be lost")

    def _safe_url(self) -> str:
        try:
            return sa.engine.make_url(self.url).render_as_string(hide_password=True)
        except Exception:
            return "(unparseable URL)"

    def _run(self, what: str, fn: Any) -> Any:
        self._check_file()
        try:
            with self.engine.begin() as conn:
                return fn(conn)
        except SQLAlchemyError as exc:
            raise JournalError(f"journal {self._safe_url()}: {what} failed: {exc}") from exc

    # --- the sink ---------------------------------------------------------------------

    def record(self, cycle: CycleRecord) -> None:
        """Journal one cycle (extending the pool's last row when it changed nothing), then
        prune a batch of expired cycles if one is due. While ``batching``, a quiet cycle is
        queued and written with others (``journal/cycle_queue.py``)."""
        with self._lock:
            last = self._bodies.get(cycle.pool)
        if last is not None and compact.same_body(last[0], last[1], cycle):
            body = last[1]  # a quiet cycle: the body of the one before
        else:
            body = compact.encode(cycle, self._inputs_text(cycle))
        with self._lock:
            self._bodies[cycle.pool] = (cycle, body)
        if self._queue is not None:
            self._queue.put(cycle, body)
            return
        self._run("record", lambda c: self._writer.write(c, cycle, body))
        self.pruner.maybe(cycle.started_at)

    def _inputs_text(self, cycle: CycleRecord) -> str | None:
        """The text of ``cycle``'s replay inputs, kept per pool: a runner hands the very same
        inputs again when they did not change (``PoolRunner.replay_inputs``)."""
        if cycle.inputs is None:
            return None
        with self._lock:
            kept = self._inputs.get(cycle.pool)
        if kept is not None and kept[0] is cycle.inputs:
            return kept[1]
        text = compact.encode_inputs(cycle.inputs)
        with self._lock:
            self._inputs[cycle.pool] = (cycle.inputs, text)
        return text

    def batching(self, on: bool) -> None:
        """Queue cycle records and write them many per transaction (``fleetscale run``), or
        stop doing so (what is queued is written first)."""
        if on and self._queue is None:
            self._queue = CycleQueue(self._write_batch)
        elif not on and self._queue is not None:
            queue, self._queue = self._queue, None
            queue.stop()

    def flush(self) -> None:
        """Write the queued cycle records now (a no-op when not ``batching``)."""
        if self._queue is not None:
            self._queue.flush()

    def _write_batch(self, batch: Batch) -> None:
        self._run(f"record {len(batch)} cycles", lambda c: self._writer.write_many(c, batch))
        self.pruner.maybe(max(cycle.started_at for cycle, _ in batch))

    def cycles(self, pool: str, last: int = 10) -> list[dict[str, Any]]:
        """The last ``last`` cycles of ``pool`` as CycleRecord dicts, oldest first (a span
        gives one dict per cycle it stands for)."""
        self.flush()
        out: list[dict[str, Any]] = []
        before: int | None = None
        while len(out) < last:
            rows = self._run("read cycles", lambda c, b=before: self._reader.newest_rows(
                c, pool, min(last, 100), b))
            for row in rows:
                out[:0] = list(cycle_rows.expand(row))
                if len(out) >= last:
                    break
            if len(rows) < min(last, 100):
                break
            before = rows[-1].id
        return out[-last:] if last > 0 else []

    def each_cycle(self, pool: str, since: datetime | None = None,
                   until: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Every cycle of ``pool`` that started in ``[since, until)``, oldest first, one
        CycleRecord dict per cycle (spans expanded, each cycle with its own id and times); read
        a page of rows at a time (for replay and charts)."""
        self.flush()
        after = 0
        while True:
            rows = self._run("read cycles", lambda c, a=after: self._reader.rows_between(
                c, pool, since, until, a))
            for row in rows:
                for rec in cycle_rows.expand(row):
                    at = datetime.fromisoformat(rec["started_at"])
                    if (since is None or at >= since) and (until is None or at < until):
                        yield rec
            if len(rows) < cycle_rows.PAGE:
                return
            after = rows[-1].id

    def spans(self, pool: str, last: int = 10) -> list[dict[str, Any]]:
        """The last ``last`` rows of ``pool``, oldest first: each its first cycle's dict plus
        ``repeats`` (identical cycles after it) and ``last_at`` (the last one's start)."""
        self.flush()
        rows = self._run("read cycles", lambda c: self._reader.newest_rows(c, pool, last))
        return [cycle_rows.span(r) for r in reversed(rows)]

    def pools(self) -> list[str]:
        self.flush()
        q = sa.select(cycles.c.pool).distinct().order_by(cycles.c.pool)
        return list(self._run("read pools", lambda c: c.execute(q).scalars().all()))

    # --- operator controls ------------------------------------------------------------

    def pause(self, pool: str, at: datetime, direction: Direction | None = None) -> None:
        self._run("pause", lambda c: put_pause(c, pool, at, direction))

    def hold(self, pool: str, units: int, until: datetime, at: datetime) -> None:
        self._run("hold", lambda c: put_hold(c, pool, units, until, at))

    def resume(self, pool: str) -> int:
        """Remove every pause and hold of ``pool``; returns how many were removed."""
        return int(self._run("resume", lambda c: clear_controls(c, pool)))

    def operator(self, pool: str, now: datetime) -> OperatorState:
        q = sa.select(operator).where(operator.c.pool == pool)
        rows = self._run("read operator", lambda c: c.execute(q).all())
        paused = frozenset(Direction(r.kind.removeprefix("pause_")) for r in rows
                           if r.kind.startswith("pause_"))
        override = None
        for r in rows:
            until = _aware(r.until)
            if r.kind == "hold" and r.hold is not None and until is not None and until > now:
                override = Override(hold=r.hold, until=until)
        return OperatorState(paused=paused, override=override)

    def close(self) -> None:
        try:
            self.batching(False)
        finally:
            self.engine.dispose()
