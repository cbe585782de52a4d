"""Event-driven reaction: a source's notification becomes an extra cycle of its pool.

Sources that can be told about a change implement ``ports.Watchable``. While
``Controller.run()`` runs, each such source is watched and every notification goes through
``Reactions.notify(pool, why)``:

- **Debounced** (``Debouncer``): at most one extra cycle per pool per ``gap`` seconds (1 s).
  A notification is never lost: one that arrives too soon is served by an extra cycle at the
  end of the gap, and any number of notifications waiting for the same cycle share it.
- **One cycle of a pool at a time**: scheduled and extra cycles of a pool take the same lock
  (a notification during a cycle gets a cycle after it, never one alongside it).
- **Covered by a scheduled cycle**: a scheduled cycle that starts while an extra one is
  waiting serves it (the extra one is skipped).
- **Marked**: an extra cycle runs with ``extra=<why>``: its snapshot says ``scheduled=False``,
  so the rules counted in cycles (hysteresis, the ``cycles`` and ``step`` policies) neither
  count nor act on it (see ``governor/hysteresis.py``), and its record says why it ran.

``submit(delay, fn)`` runs ``fn`` after ``delay`` seconds on some worker thread (the
controller passes APScheduler's one-off jobs); tests pass their own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from fleetscale.ports import Closeable, Watchable

log = structlog.get_logger(__name__)

#: seconds between two extra cycles of one pool
DEFAULT_GAP = 1.0


@dataclass(slots=True)
class _Slot:
    #: monotonic time at which the latest admitted extra cycle was due
    last: float | None = None
    #: an admitted extra cycle has not started yet
    pending: bool = False
    #: why it was asked for (the first notification) and how many more joined it
    why: str = ""
    more: int = 0


@dataclass
class Debouncer:
    """At most one extra cycle per key per ``gap`` seconds; thread-safe.

    ``admit(key, why)`` returns the delay (seconds) after which the caller should start an
    extra cycle, or None when one already waits (this notification joins it). ``begin(key)``
    is called as that cycle starts; it returns why the cycle runs, or None when a scheduled
    cycle has covered it meanwhile (``covered(key)``) and it should be skipped.
    """

    gap: float = DEFAULT_GAP
    clock: Callable[[], float] = time.monotonic
    _slots: dict[str, _Slot] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not self.gap >= 0:
            raise ValueError(f"gap must be >= 0 seconds (got {self.gap})")

    def admit(self, key: str, why: str) -> float | None:
        with self._lock:
            slot = self._slots.setdefault(key, _Slot())
            if slot.pending:
                slot.more += 1
                return None
            now = self.clock()
            due = now if slot.last is None else max(now, slot.last + self.gap)
            slot.last, slot.pending, slot.why, slot.more = due, True, why, 0
            return due - now

    def begin(self, key: str) -> str | None:
        with self._lock:
            slot = self._slots.get(key)
            if slot is None or not slot.pending:
                return None
            slot.pending = False
            return slot.why if not slot.more else f"{slot.why} (+{slot.more} more)"

    def covered(self, key: str) -> None:
        """A scheduled cycle starts: it sees every change notified so far."""
        with self._lock:
            slot = self._slots.get(key)
            if slot is not None:
                slot.pending = False

    def cancel(self, key: str) -> None:
        """The extra cycle admitted last could not be started (the scheduler is stopping)."""
        self.covered(key)


class Cycler(Protocol):
    """What reactions need of a pool's runner (``controller.PoolRunner``)."""

    @property
    def name(self) -> str: ...

    def cycle(self, extra: str | None = None) -> Any: ...


Submit = Callable[[float, Callable[[], None]], None]


class Reactions:
    """Scheduled and extra cycles of every pool: one cycle of a pool at a time."""

    def __init__(self, runners: Sequence[Cycler], submit: Submit, debouncer: Debouncer | None = None) -> None:
        self._runners = {r.name: r for r in runners}
        self._locks = {r.name: threading.Lock() for r in runners}
        self._submit = submit
        self.debouncer = debouncer or Debouncer()

    def scheduled(self, pool: str) -> None:
        """A scheduled cycle of ``pool`` (the interval job calls this)."""
        with self._locks[pool]:
            self.debouncer.covered(pool)
            self._runners[pool].cycle()

    def notify(self, pool: str, why: str) -> None:
        """A source saw a change in ``pool``: an extra cycle soon (debounced). Never raises."""
        if pool not in self._runners:
            return
        delay = self.debouncer.admit(pool, why)
        if delay is None:
            return
        try:
            self._submit(delay, lambda: self._extra(pool))
        except Exception as exc:  # the scheduler is shutting down
            self.debouncer.cancel(pool)
            log.debug("extra cycle not scheduled", pool=pool, error=str(exc))

    def _extra(self, pool: str) -> None:
        with self._locks[pool]:
            why = self.debouncer.begin(pool)
            if why is None:
                return  # a scheduled cycle started after the notification: it saw the change
            self._runners[pool].cycle(extra=why)


def watch_sources(runners: Iterable[Any], notify: Callable[[str, str], None]) -> list[Closeable]:
    """Start watching every source that supports it (``ports.Watchable``); returns the handles
    to close. A watch that cannot start is logged and skipped (the pool keeps its interval)."""
    handles: list[Closeable] = []
    for runner in runners:
        for src in runner.sources:
            if not isinstance(src, Watchable):
                continue

            def to_pool(why: str, pool: str = runner.name) -> None:
                notify(pool, why)

            try:
                handles.append(src.watch(runner.name, to_pool))
            except Exception as exc:
                log.warning("watch failed; the pool polls at its interval", pool=runner.name,
                            source=type(src).__name__, error=str(exc))
    return handles


def close_all(handles: Iterable[Closeable]) -> None:
    for handle in handles:
        try:
            handle.close()
        except Exception as exc:
            log.warning("closing a watch failed", error=str(exc))
