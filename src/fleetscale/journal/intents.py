"""Write-ahead intent records: what the controller is about to do, kept in the SQL journal.

Before acting the controller writes an intent ``(pool, request_id, action, target, args)`` in
state ``pending``; after acting it marks it ``done`` (with a result, e.g. the launched ids). A
controller killed between the two leaves a ``pending`` intent, which the next start replays
(``journal/write_ahead.py``). Replaying is safe because every action is idempotent by request id.

Actions and their ``target``:

========  ===========  ======================================================================
action    target       lifetime of ``pending``
========  ===========  ======================================================================
launch    type name    from before ``provider.launch`` until it returned (result: the ids)
drain     instance id  from before ``drainer.begin`` until the instance is terminated or the
                       drain is cancelled (so a restart knows which instances are draining);
                       ``failed`` at once when ``drainer.begin`` raised
cancel    instance id  from before ``drainer.cancel`` until it returned
terminate instance id  from before ``provider.terminate`` until it returned (``failed`` when
                       it raised: the next cycle decides again)
adopt     instance id  written ``done``: an unknown tagged instance taken into the pool
========  ===========  ======================================================================

Table ``fleetscale_intents`` (SQLAlchemy Core; SQLite, MariaDB, PostgreSQL), unique on
``(pool, request_id, action, target)``, so writing the same intent twice returns the first.
Finished intents are pruned after ``RETENTION`` (at each start, ``write_ahead.recover_into``).

Fencing (several replicas): an ``IntentLog`` built with a ``fence`` runs ``fence.guard(conn,
pool, token)`` first in the transaction of every write (``begin``, ``finish``, ``fail``,
``prune``); ``token`` is the writer's lease token for the pool. A refused write raises
``FencingError`` and writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from fleetscale.errors import FencingError, JournalError
from fleetscale.journal import schema

if TYPE_CHECKING:
    from fleetscale.coordination.fence import Fence

ACTIONS = ("launch", "drain", "cancel", "terminate", "adopt")
PENDING, DONE, FAILED = "pending", "done", "failed"
#: finished intents older than this are deleted (a restart only needs the recent ones)
RETENTION = timedelta(days=7)

metadata = sa.MetaData()
intents = sa.Table(
    "fleetscale_intents", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pool", sa.String(64), nullable=False),
    sa.Column("request_id", sa.String(128), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("target", sa.String(128), nullable=False),
    sa.Column("args", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("result", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("pool", "request_id", "action", "target", name="uq_fleetscale_intent"),
    sa.Index("ix_fleetscale_intents_pool_state", "pool", "state"),
)


@dataclass(frozen=True, slots=True)
class Intent:
    id: int
    pool: str
    request_id: str
    action: str
    target: str
    args: dict[str, Any]
    state: str
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime


def _row(row: Any) -> Intent:
    return Intent(id=row.id, pool=row.pool, request_id=row.request_id, action=row.action,
                  target=row.target, args=json.loads(row.args), state=row.state,
                  result=json.loads(row.result) if row.result else None, error=row.error,
                  created_at=row.created_at)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class IntentLog:
    """The intent table. ``now`` is injected (the controller's clock)."""

    def __init__(self, url_or_engine: str | sa.Engine, now: Callable[[], datetime] = _utcnow,
                 fence: Fence | None = None) -> None:
        self.engine = sa.create_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
        self._now = now
        self.fence = fence
        try:
            schema.create_all(metadata, self.engine)
        except SQLAlchemyError as exc:
            raise JournalError(f"intents: cannot create table: {exc}") from exc

    def _guard(self, conn: sa.Connection, pool: str, token: int | None) -> None:
        if self.fence is None:
            return
        if token is None:
            raise FencingError(f"pool {pool}: a fenced intent log needs the lease token; not written")
        self.fence.guard(conn, pool, token)

    def begin(self, pool: str, request_id: str, action: str, target: str,
              args: dict[str, Any] | None = None, token: int | None = None) -> Intent:
        """Write a pending intent (or return the one already written with the same key)."""
        if action not in ACTIONS:
            raise JournalError(f"intents: unknown action {action!r} (known: {', '.join(ACTIONS)})")
        key = (intents.c.pool == pool) & (intents.c.request_id == request_id) & \
              (intents.c.action == action) & (intents.c.target == target)
        now = self._now()
        try:
            with self.engine.begin() as conn:
                self._guard(conn, pool, token)
                row = conn.execute(sa.select(intents).where(key)).first()
                if row is None:
                    conn.execute(intents.insert().values(
                        pool=pool, request_id=request_id, action=action, target=target,
                        args=json.dumps(args or {}, sort_keys=True), state=PENDING,
                        created_at=now, updated_at=now))
                    row = conn.execute(sa.select(intents).where(key)).one()
        except IntegrityError:
            with self.engine.begin() as conn:  # written concurrently: take the first
                row = conn.execute(sa.select(intents).where(key)).one()
        except SQLAlchemyError as exc:
            raise JournalError(f"intents: cannot write {action} {target}: {exc}") from exc
        return _row(row)

    def finish(self, intent_ids: Iterable[int], result: dict[str, Any] | None = None, *,
               pool: str | None = None, token: int | None = None) -> None:
        done = json.dumps(result, sort_keys=True) if result else None
        self._set(intent_ids, DONE, pool, token, result=done)

    def fail(self, intent_ids: Iterable[int], error: str, *, pool: str | None = None,
             token: int | None = None) -> None:
        self._set(intent_ids, FAILED, pool, token, error=error[:2000])

    def pending(self, pool: str, action: str | None = None) -> list[Intent]:
        query = sa.select(intents).where((intents.c.pool == pool) & (intents.c.state == PENDING))
        if action is not None:
            query = query.where(intents.c.action == action)
        return self._select(query.order_by(intents.c.id))

    def prune(self, pool: str, before: datetime, token: int | None = None) -> int:
        """Delete this pool's finished (done or failed) intents last updated before ``before``;
        pending ones are kept whatever their age. Returns how many were deleted."""
        query = intents.delete().where(
            (intents.c.pool == pool) & intents.c.state.in_((DONE, FAILED)) & (intents.c.updated_at < before))
        try:
            with self.engine.begin() as conn:
                self._guard(conn, pool, token)
                return int(conn.execute(query).rowcount or 0)
        except SQLAlchemyError as exc:
            raise JournalError(f"intents: cannot prune: {exc}") from exc

    def history(self, pool: str) -> list[Intent]:
        return self._select(sa.select(intents).where(intents.c.pool == pool).order_by(intents.c.id))

    def close(self) -> None:
        self.engine.dispose()

    def _select(self, query: Any) -> list[Intent]:
        try:
            with self.engine.connect() as conn:
                return [_row(r) for r in conn.execute(query)]
        except SQLAlchemyError as exc:
            raise JournalError(f"intents: cannot read: {exc}") from exc

    def _set(self, intent_ids: Iterable[int], state: str, pool: str | None, token: int | None,
             **values: Any) -> None:
        ids = list(intent_ids)
        if not ids:
            return
        if self.fence is not None and pool is None:
            raise FencingError(f"intents {ids}: a fenced intent log needs the pool and its token; "
                               "not written")
        try:
            with self.engine.begin() as conn:
                if pool is not None:
                    self._guard(conn, pool, token)
                conn.execute(intents.update().where(intents.c.id.in_(ids))
                             .values(state=state, updated_at=self._now(), **values))
        except SQLAlchemyError as exc:
            raise JournalError(f"intents: cannot mark {ids} {state}: {exc}") from exc
