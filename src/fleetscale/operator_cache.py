"""The operator's controls of every pool, read in one query every few seconds.

A pool's cycle asks for its pauses and hold (``ports.OperatorControls.operator``). Read per
cycle, that is one SELECT per pool per interval: at 10,000 pools and 15 s, 670 queries a second
for a table that changes when a person types a command. ``OperatorCache`` reads the whole
``fs_operator`` table at most once per ``every`` seconds (one query for all pools) and answers
from that copy; a pause or hold takes effect within ``every`` seconds plus the pool's interval.
A failed read raises JournalError, as the per-pool read did (the cycle records it and holds).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from fleetscale.decide import Override
from fleetscale.errors import JournalError
from fleetscale.journal.sql import OperatorState, operator
from fleetscale.model import Direction

#: seconds between two reads of the operator table
EVERY = 1.0


class OperatorCache:
    """``OperatorControls`` for every pool of one replica, from one shared read."""

    def __init__(self, engine: sa.Engine, every: float = EVERY,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.every = every
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._rows: dict[str, list[Any]] = {}
        self._read_at: float | None = None
        self.reads = 0

    def operator(self, pool: str, now: datetime) -> OperatorState:
        rows = self._current().get(pool)
        if not rows:
            return OperatorState()
        paused = frozenset(Direction(r.kind.removeprefix("pause_")) for r in rows
                           if r.kind.startswith("pause_"))
        override = None
        for r in rows:
            until = None if r.until is None else r.until.replace(tzinfo=UTC)
            if r.kind == "hold" and r.hold is not None and until is not None and until > now:
                override = Override(hold=r.hold, until=until)
        return OperatorState(paused=paused, override=override)

    def _current(self) -> dict[str, list[Any]]:
        with self._lock:
            now = self._monotonic()
            if self._read_at is not None and now - self._read_at < self.every:
                return self._rows
            q = sa.select(operator.c.pool, operator.c.kind, operator.c.hold, operator.c.until)
            try:
                with self.engine.connect() as c:
                    found = c.execute(q).all()
            except SQLAlchemyError as exc:
                raise JournalError(f"operator controls: read failed: {type(exc).__name__}") from None
            rows: dict[str, list[Any]] = {}
            for r in found:
                rows.setdefault(r.pool, []).append(r)
            self._rows, self._read_at = rows, now
            self.reads += 1
            return rows
