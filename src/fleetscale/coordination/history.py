"""The journal of ownership changes: table ``fs_ownership`` in the journal's database.

One row per change a replica made or noticed (``acquired``, ``released``, ``lost``), with the
token and a reason, stamped with the replica's wall clock (for people; no decision reads it).
``Coordinator(on_changes=OwnershipLog(engine).record)`` writes it; ``history`` reads it back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import SQLAlchemyError

from fleetscale.coordination.replica import OwnershipChange
from fleetscale.errors import JournalError
from fleetscale.journal import schema

_TIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

metadata = sa.MetaData()
ownership = sa.Table(
    "fs_ownership", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", _TIME, nullable=False),
    sa.Column("pool", sa.String(191), nullable=False),
    sa.Column("replica", sa.String(191), nullable=False),
    sa.Column("change", sa.String(16), nullable=False),
    sa.Column("token", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Index("ix_fs_ownership_pool_id", "pool", "id"),
    mysql_charset="utf8mb4",
)


@dataclass(frozen=True, slots=True)
class OwnershipRow:
    at: datetime
    pool: str
    replica: str
    change: str
    token: int
    reason: str


class OwnershipLog:
    """Writes and reads ``fs_ownership`` through ``engine`` (e.g. the journal's engine)."""

    def __init__(self, engine: sa.Engine, create: bool = True,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine = engine
        self._clock = clock
        if create:
            try:
                schema.create_all(metadata, engine)
            except SQLAlchemyError as exc:
                raise JournalError(f"ownership journal: cannot create fs_ownership: {exc}") from exc

    def record(self, changes: Sequence[OwnershipChange]) -> None:
        """Journal a round's changes in one transaction."""
        if not changes:
            return
        at = self._clock().astimezone(UTC).replace(tzinfo=None)
        rows = [{"at": at, "pool": c.pool, "replica": c.replica, "change": c.kind.value,
                 "token": c.token, "reason": c.reason} for c in changes]
        try:
            with self.engine.begin() as conn:
                conn.execute(ownership.insert(), rows)
        except SQLAlchemyError as exc:
            raise JournalError(f"ownership journal: record failed: {exc}") from exc

    def history(self, pool: str | None = None, last: int = 50) -> list[OwnershipRow]:
        """The last ``last`` changes (of ``pool``, or of every pool), oldest first."""
        q = sa.select(ownership).order_by(ownership.c.id.desc()).limit(last)
        if pool is not None:
            q = q.where(ownership.c.pool == pool)
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(q).all()
        except SQLAlchemyError as exc:
            raise JournalError(f"ownership journal: read failed: {exc}") from exc
        return [OwnershipRow(r.at.replace(tzinfo=UTC), r.pool, r.replica, r.change, int(r.token), r.reason)
                for r in reversed(rows)]
