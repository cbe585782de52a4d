"""Operator actions (pause, resume, hold) applied and journaled with who, when and why.

``fleetscale pause|resume|hold`` and the HTTP API's write endpoints both go through
``OperatorLog``: each action changes the operator controls the controller reads every cycle
(``fs_operator``, ``journal/sql.py``) and appends an event to ``fs_operator_events`` in the
same transaction, so an action is either applied and journaled or neither. ``fleetscale
explain`` and the API show the events beside the cycles.

Table ``fs_operator_events``: ``(id, pool, at, who, action, detail, reason)``; ``who`` is
``cli:<user>`` for the CLI and the token's name (``api``) for the API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import SQLAlchemyError

from fleetscale.errors import JournalError
from fleetscale.journal import schema
from fleetscale.journal.sql import clear_controls, put_hold, put_pause
from fleetscale.model import Direction

_TIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
ACTIONS = ("pause", "resume", "hold")

metadata = sa.MetaData()
events = sa.Table(
    "fs_operator_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pool", sa.String(64), nullable=False),
    sa.Column("at", _TIME, nullable=False),
    sa.Column("who", sa.String(128), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("detail", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Index("ix_fs_operator_events_pool_id", "pool", "id"),
)


@dataclass(frozen=True, slots=True)
class OperatorEvent:
    """One operator action as journaled."""

    pool: str
    at: datetime
    who: str
    #: pause, resume or hold
    action: str
    #: what exactly: "up and down", "down", "3 units until 2026-01-05T18:00:00+00:00", "2 removed"
    detail: str
    reason: str

    def line(self) -> str:
        """One line for a person: ``OPERATOR pause (up and down) by api: maintenance window``."""
        why = self.reason or "no reason given"
        return f"OPERATOR {self.action} ({self.detail}) by {self.who}: {why}"


class OperatorLog:
    """Applies operator actions and reads them back, on the journal's database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        try:
            schema.create_all(metadata, engine)
        except SQLAlchemyError as exc:
            raise JournalError(f"operator log: cannot create its table: {exc}") from exc

    def _write(self, pool: str, action: str, reason: str, who: str, at: datetime,
               change: Callable[[sa.Connection], str]) -> OperatorEvent:
        """Apply ``change`` (which returns the event's detail) and journal it, in one transaction."""
        try:
            with self.engine.begin() as conn:
                event = OperatorEvent(pool, at, who[:128], action, change(conn)[:255], reason)
                conn.execute(events.insert(), {
                    "pool": pool, "at": at.astimezone(UTC).replace(tzinfo=None), "who": event.who,
                    "action": action, "detail": event.detail, "reason": reason})
        except SQLAlchemyError as exc:
            raise JournalError(f"operator log: {action} {pool} failed: {exc}") from exc
        return event

    def pause(self, pool: str, direction: Direction | None, reason: str, who: str,
              at: datetime) -> OperatorEvent:
        def change(c: sa.Connection) -> str:
            put_pause(c, pool, at, direction)
            return direction.value if direction else "up and down"
        return self._write(pool, "pause", reason, who, at, change)

    def hold(self, pool: str, units: int, until: datetime, reason: str, who: str,
             at: datetime) -> OperatorEvent:
        def change(c: sa.Connection) -> str:
            put_hold(c, pool, units, until, at)
            return f"{units} units until {until.astimezone(UTC).isoformat()}"
        return self._write(pool, "hold", reason, who, at, change)

    def resume(self, pool: str, reason: str, who: str, at: datetime) -> OperatorEvent:
        def change(c: sa.Connection) -> str:
            return f"{clear_controls(c, pool)} pause/hold removed"
        return self._write(pool, "resume", reason, who, at, change)

    def events(self, pool: str, limit: int = 50, since: datetime | None = None) -> list[OperatorEvent]:
        """The last ``limit`` events of ``pool`` (at or after ``since``), oldest first."""
        q = sa.select(events).where(events.c.pool == pool)
        if since is not None:
            q = q.where(events.c.at >= since.astimezone(UTC).replace(tzinfo=None))
        q = q.order_by(events.c.id.desc()).limit(limit)
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(q).all()
        except SQLAlchemyError as exc:
            raise JournalError(f"operator log: read {pool} failed: {exc}") from exc
        return [OperatorEvent(r.pool, r.at.replace(tzinfo=UTC), r.who, r.action, r.detail, r.reason)
                for r in reversed(rows)]
