"""Retention: cycles older than ``journal.retention`` leave ``fs_cycles``, a small batch at a time.

Design: pruning runs on the journal's record path, after the cycle's own row is committed, at
most once every ``every`` (60 s) of the cycles' clock, and deletes at most ``batch`` (500)
rows: it selects the ids of the oldest expired rows through the ``started_at`` index, then
deletes those ids by primary key in one short transaction. A full batch means the journal is
behind (a first start on a large old table, a retention just shortened), so the next recorded
cycle prunes again without waiting; the journal catches up one batch per cycle and never holds
a long lock. Only one thread prunes at a time (the others skip rather than wait), and a failed
prune is logged and retried later: it never fails the cycle that ran it.

Why not a background thread: the record path already runs on every pool's cycle, on whatever
clock drives it (the simulated clock in tests and the demo), so pruning needs no thread to
start, stop or keep alive, and a pruned row is never younger than the retention on the
controller's own clock. The cost to the cycle that prunes is one indexed select and one delete
of at most 500 rows (measured in ``bench/journal_growth.py``).

A row is expired when its last cycle (``last_at``, else ``started_at`` on rows written before
spans) started before ``now - retention``.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import sqlalchemy as sa
import structlog
from sqlalchemy.exc import SQLAlchemyError

from fleetscale.journal.cycle_rows import utc

log = structlog.get_logger(__name__)

DEFAULT_RETENTION = timedelta(days=14)
EVERY = timedelta(seconds=60)
BATCH = 500


class Pruner:
    def __init__(self, engine: sa.Engine, table: sa.Table, retention: timedelta = DEFAULT_RETENTION,
                 *, every: timedelta = EVERY, batch: int = BATCH, spans_ok: bool = True) -> None:
        if retention <= timedelta(0):
            raise ValueError(f"retention must be positive (got {retention})")
        self.engine = engine
        self.table = table
        self.retention = retention
        self.every = every
        self.batch = batch
        self.spans_ok = spans_ok
        self._next: datetime | None = None
        self._lock = threading.Lock()

    def maybe(self, now: datetime) -> int:
        """Prune one batch if one is due at ``now``; rows deleted (0 if not due or busy)."""
        if self._next is not None and now < self._next:
            return 0
        if not self._lock.acquire(blocking=False):
            return 0
        try:
            deleted = self.prune_batch(now)
            self._next = now if deleted >= self.batch else now + self.every
            return deleted
        except SQLAlchemyError as exc:
            log.warning("journal prune failed", error=f"{type(exc).__name__}: {exc}"[:300])
            self._next = now + self.every
            return 0
        finally:
            self._lock.release()

    def prune_batch(self, now: datetime) -> int:
        """Delete up to ``batch`` expired rows, oldest first; how many were deleted."""
        t = self.table
        cutoff = utc(now - self.retention)
        expired = t.c.started_at < cutoff
        if self.spans_ok:
            expired = sa.and_(expired, sa.or_(t.c.last_at.is_(None), t.c.last_at < cutoff))
        q = sa.select(t.c.id).where(expired).order_by(t.c.started_at).limit(self.batch)
        with self.engine.begin() as conn:
            ids = list(conn.execute(q).scalars().all())
            if ids:
                conn.execute(t.delete().where(t.c.id.in_(ids)))
        return len(ids)

    def prune_all(self, now: datetime) -> int:
        """Every expired row, batch after batch (each its own transaction)."""
        total = 0
        while (n := self.prune_batch(now)) > 0:
            total += n
            if n < self.batch:
                break
        return total
