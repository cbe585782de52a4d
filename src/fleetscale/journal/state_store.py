"""The one store of each pool's ``FleetState``: SQL beside the journal, or memory.

``SqlStateStore`` keeps one row per pool in ``fs_state`` (the whole value as JSON, its
version, when it was saved). ``save`` is optimistic: it replaces the row only when the
stored version is the one this store loaded or saved last, so two controllers writing one
pool's state are noticed (``StaleStateError``) instead of silently overwriting each other.

Upgrading from the tables of earlier releases (``fs_drains``, ``fs_known``, ``fs_memory``):
when a pool has no ``fs_state`` row yet, ``load`` builds its state from them, so drains in
progress and adopted instances survive the upgrade.

Fencing (several replicas, ``coordination/``): a store built with a ``fence`` runs
``fence.guard(conn, pool, token)`` first in every save's transaction, so a replica whose lease
is no longer current cannot write (``FencingError``, nothing written); ``claim`` loads a pool
in the transaction that claims it for a new token (takeover).

Quiet cycles (``memory_every`` > 0, as ``fleetscale run`` builds it): a save whose fleet parts
(instances, listing, drains, known, boot tracking) equal those saved last, and whose decision
memory alone moved on (its windows carry the time of every cycle), writes nothing unless the
pool has entered a new memory slot since it was last written. Slots are ``memory_every``
seconds long and each pool's are shifted by a phase of its own (from a hash of its name), so
the memory-only saves of thousands of pools spread evenly over time, however the pools' other
writes bunch up (they all launch at start; a plain "``memory_every`` after the last write"
kept them in one burst every ``memory_every`` forever). A quiet cycle costs a comparison of
tuples instead of a JSON encode and a SQL write; after a crash or a takeover the decision
memory is at most ``memory_every`` seconds plus one interval old, while drains, launches,
adoptions and terminations are always saved before their intents are closed.
``memory_every`` = 0 (the default) saves every state.

``MemoryStore`` keeps the value itself (the simulator, tests).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import SQLAlchemyError

from fleetscale.errors import FencingError, JournalError
from fleetscale.journal import schema
from fleetscale.journal.state_codec import state_from_json, state_to_json
from fleetscale.state import FleetState

if TYPE_CHECKING:
    from fleetscale.coordination.fence import Fence

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

    def claim(self, pool: str, token: int) -> FleetState | None:
        return self._states.get(pool)

    def save(self, state: FleetState, token: int | None = None) -> None:
        self._states[state.pool] = state


class SqlStateStore:
    def __init__(self, engine: sa.Engine, fence: Fence | None = None, memory_every: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self._clock = clock
        #: with a fence, every save must carry the pool's current lease token
        self.fence = fence
        #: seconds a change of the decision memory alone may wait before it is written
        self.memory_every = memory_every
        #: the version of each pool's row as this store last read or wrote it
        self._versions: dict[str, int | None] = {}
        #: per pool, the fleet parts of the state last written and when (monotonic); not the
        #: state itself: it would keep that state's decision memory alive beside the current one
        #: (a predictive policy's arrays, ~70 KB a pool) until the next memory save
        self._saved: dict[str, tuple[tuple[Any, ...], float]] = {}
        try:
            schema.create_all(metadata, engine)
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
        return self._loaded(pool, row)

    def claim(self, pool: str, token: int) -> FleetState | None:
        """Takeover: claim ``pool`` for lease ``token`` (older holders' writes are refused from
        now on) and load its state in the same transaction. Raises FencingError when ``token``
        is not current."""
        if self.fence is None:
            return self.load(pool)
        try:
            with self.engine.begin() as c:
                self.fence.claim(c, pool, token)
                row = c.execute(sa.select(fs_state.c.version, fs_state.c.body)
                                .where(fs_state.c.pool == pool)).first()
        except SQLAlchemyError as exc:
            raise JournalError(f"state store: cannot claim pool {pool!r}: {type(exc).__name__}") from None
        return self._loaded(pool, row)

    def _loaded(self, pool: str, row: Any) -> FleetState | None:
        self._saved.pop(pool, None)
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

    def save(self, state: FleetState, token: int | None = None) -> None:
        """Save ``state`` (nothing when it equals the state saved last). With a fence,
        ``token`` is the pool's lease token: FencingError when it is no longer current."""
        if self.fence is not None and token is None:
            raise FencingError(f"pool {state.pool}: a fenced store needs the lease token; not saved")
        expected = self._versions.get(state.pool)
        if self._quiet(state):
            return
        body = state_to_json(state)
        now = datetime.now(UTC).replace(tzinfo=None)
        values = {"version": state.version, "saved_at": now, "body": body}
        try:
            with self.engine.begin() as c:
                if self.fence is not None and token is not None:
                    self.fence.guard(c, state.pool, token)
                if expected is None:
                    found = c.execute(sa.select(fs_state.c.version)
                                      .where(fs_state.c.pool == state.pool)).first()
                    if found is None:
                        c.execute(fs_state.insert().values(pool=state.pool, **values))
                        self._versions[state.pool] = state.version
                        self._saved[state.pool] = (_fleet(state), self._clock())
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
        self._saved[state.pool] = (_fleet(state), self._clock())

    def slot(self, pool: str, at: float) -> int:
        """The number of ``pool``'s memory slot at monotonic time ``at``: slots are
        ``memory_every`` long, shifted by the pool's own phase."""
        phase = zlib.crc32(pool.encode()) / 2**32 * self.memory_every
        return int((at + phase) // self.memory_every)

    def _quiet(self, state: FleetState) -> bool:
        """True when ``state`` need not be written: only its decision memory changed since the
        last write, and that write was in the pool's current memory slot."""
        if self.memory_every <= 0:
            return False
        last = self._saved.get(state.pool)
        if last is None or self.slot(state.pool, last[1]) != self.slot(state.pool, self._clock()):
            return False
        return last[0] == _fleet(state)


def _fleet(state: FleetState) -> tuple[Any, ...]:
    """The parts of a state that are always written at once (all but the decision memory)."""
    return (state.instances, state.listed, state.drains, state.known, state.first_seen, state.registered)
