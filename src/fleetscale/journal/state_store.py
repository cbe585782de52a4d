"""The one store of each pool's ``FleetState``: SQL beside the journal, or memory.

``SqlStateStore`` keeps one row per pool in ``fs_state`` (the whole value as JSON, its
version, when it was saved). ``save`` is optimistic: it replaces the row only when the
stored version is the one this store loaded or saved last, so two controllers writing one
pool's state are noticed (``StaleStateError``) instead of silently overwriting each other.

Upgrading from the tables of earlier releases (``fs_drains``, ``fs_known``, ``fs_memory``):
when a pool has no ``fs_state`` row yet, ``load`` builds its state from them, so drains in
progress and adopted instances survive the upgrade.

``MemoryStore`` keeps the value itself (the simulator, tests).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import SQLAlchemyError

from fleetscale.errors import JournalError
from fleetscale.journal.state_codec import state_from_json, state_to_json
from fleetscale.state import FleetState

_TIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
_LONG = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")

metadata = sa.MetaData()
fs_state = sa.Table(
    "fs_state", metadata,
    sa.Column("pool", sa.String(64), primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("saved_at", _TIME, nullable=False),
    sa.Column("body", _LONG, nullable=False),
)


class StaleStateError(JournalError):
    """Another writer replaced this pool's state since this store last read or wrote it."""


class MemoryStore:
    """States kept as values in memory (no encoding): the simulator's store."""

    def __init__(self) -> None:
        self._states: dict[str, FleetState] = {}

    def load(self, pool: str) -> FleetState | None:
        return self._states.get(pool)

    def save(self, state: FleetState) -> None:
        self._states[state.pool] = state


class SqlStateStore:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        #: the version of each pool's row as this store last read or wrote it
        self._versions: dict[str, int | None] = {}
        try:
            metadata.create_all(engine)
        except SQLAlchemyError as exc:
            raise JournalError(f"state store: cannot create its table: {type(exc).__name__}") from None

    def load(self, pool: str) -> FleetState | None:
        """The pool's last saved state, or None for a pool never saved (nor recorded by an
        earlier release). An unreadable row raises JournalError."""
        try:
            with self.engine.connect() as c:
                row = c.execute(sa.select(fs_state.c.version, fs_state.c.body)
                                .where(fs_state.c.pool == pool)).first()
        except SQLAlchemyError as exc:
            raise JournalError(f"state store: cannot read pool {pool!r}: {type(exc).__name__}") from None
        if row is None:
            self._versions[pool] = None
            from fleetscale.journal.legacy_state import load_legacy

            return load_legacy(self.engine, pool)
        try:
            state = state_from_json(row.body)
        except ValueError as exc:
            raise JournalError(f"state store: the saved state of pool {pool!r} is unreadable: {exc}"
                               ) from None
        self._versions[pool] = int(row.version)
        return state

    def save(self, state: FleetState) -> None:
        body = state_to_json(state)
        now = datetime.now(UTC).replace(tzinfo=None)
        expected = self._versions.get(state.pool)
        values = {"version": state.version, "saved_at": now, "body": body}
        try:
            with self.engine.begin() as c:
                if expected is None:
                    found = c.execute(sa.select(fs_state.c.version)
                                      .where(fs_state.c.pool == state.pool)).first()
                    if found is None:
                        c.execute(fs_state.insert().values(pool=state.pool, **values))
                        self._versions[state.pool] = state.version
                        return
                    expected = int(found.version) if state.pool not in self._versions else -1
                done = c.execute(fs_state.update()
                                 .where(fs_state.c.pool == state.pool, fs_state.c.version == expected)
                                 .values(**values))
                if done.rowcount != 1:
                    raise StaleStateError(f"state of pool {state.pool!r} was changed by another writer "
                                          f"(expected version {expected}); not saved")
        except SQLAlchemyError as exc:
            raise JournalError(f"state store: cannot save pool {state.pool!r}: {type(exc).__name__}"
                               ) from None
        self._versions[state.pool] = state.version
