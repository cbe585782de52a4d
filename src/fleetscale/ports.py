"""Ports: the small interfaces between the decision core and the outside world.

Adapters (``sources/``, ``providers/``, ``drainers/``, ``journal/``) implement these;
decision code (``policy/``, ``governor/``, ``planner.py``) imports none of them.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from fleetscale.model import Instance, Observation

if TYPE_CHECKING:
    from fleetscale.journal.record import CycleRecord
    from fleetscale.journal.sql import OperatorState
    from fleetscale.state import FleetState


@runtime_checkable
class Source(Protocol):
    """Observes. Never raises for a failed read: returns an Observation with ``error`` set."""

    def read(self, pool: str, now: datetime) -> list[Observation]: ...


@runtime_checkable
class Provider(Protocol):
    """Creates and destroys instances. ``request_id`` makes a retried call idempotent."""

    def list(self) -> Sequence[Instance]: ...

    def launch(self, type: str, count: int, request_id: str) -> builtins.list[Instance]: ...

    def terminate(self, ids: Sequence[str], request_id: str) -> None: ...


@runtime_checkable
class Drainer(Protocol):
    """Takes instances out of rotation and reports their live sessions."""

    def begin(self, instance: Instance) -> None: ...

    def cancel(self, instance: Instance) -> None: ...

    def sessions(self, instance: Instance) -> int | None:
        """Active sessions on ``instance``; None when unknown (treated as busy)."""
        ...


@runtime_checkable
class Journal(Protocol):
    def record(self, cycle: CycleRecord) -> None: ...


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


@runtime_checkable
class Closeable(Protocol):
    """Adapters holding connections or processes may also offer close()."""

    def close(self) -> Any: ...


@runtime_checkable
class Watchable(Protocol):
    """A source that can be told about a change (optional second method of a Source).

    ``watch`` starts listening in the background (a thread of the adapter's own) and calls
    ``notify(why)`` whenever the pool's load or membership may have changed (``why`` is a short
    text for the journal, e.g. ``"kamailio: register gw-3"``). It returns at once; the returned
    handle's ``close()`` stops it. ``notify`` is cheap, thread-safe and never raises; the
    controller debounces it into an extra cycle of the pool (``fleetscale.reaction``). A watch
    that loses its connection reconnects by itself and notifies once it is back (changes may
    have been missed); the scheduled cycles go on meanwhile.
    """

    def watch(self, pool: str, notify: Callable[[str], None]) -> Closeable: ...


class StateStore(Protocol):
    """The one store of each pool's ``FleetState`` (``journal/state_store.py``): loaded whole
    at start, saved whole after each cycle."""

    def load(self, pool: str) -> FleetState | None: ...

    def save(self, state: FleetState) -> None: ...


class OperatorControls(Protocol):
    """Pauses and holds an operator set at runtime (``journal.sql.SqlJournal``)."""

    def operator(self, pool: str, now: datetime) -> OperatorState: ...
