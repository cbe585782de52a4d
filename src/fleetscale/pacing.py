"""The controller's real-time scheduler: one heap of due times, a bounded set of worker threads
that take their work from it themselves.

Every pool has one periodic entry (``every``); extra cycles (``reaction.py``) are one-off
entries (``once``). A periodic entry, once taken, is pushed back for ``due + interval`` (keeping
the phase; an entry that fell more than one interval behind skips the missed runs instead of
bursting). A pool whose previous cycle is still running is not run again: that run is skipped
and counted (``skipped``), never run alongside.

No thread hands work to another. A worker that finishes a run takes the next due entry itself;
when nothing is due, one worker (the *watcher*) sleeps until the earliest due time and the
others sleep at most ``TICK`` seconds. The watcher that takes an entry runs it itself without
waking anyone: at thousands of pools most cycles are shorter than the gap to the next one, and
a thread wake-up plus a GIL handoff per cycle (what a loop feeding an executor costs) was a
quarter of the controller's CPU at 10,000 pools. When a run lasts past the next due time, a
sleeping worker notices within ``TICK`` and takes over (the bound on the extra lateness).

Periodic runs are taken in batches. A periodic entry is *ripe* ``grain`` seconds (``GRAIN``,
50 ms) after its due time; a sleeping worker wakes for the earliest ripe entry, and a worker that
has just finished a run takes any entry already due, ripe or not, so the runs due within one
grain go back to back on one thread. A cycle that runs right after another finds the
interpreter's code and data in the CPU's caches; one that runs after a sleep does not and costs
two to three times as much (measured: 0.30 ms of CPU per quiet cycle back to back, 0.75 ms with a
7 ms sleep before each). Periodic runs start up to ``grain`` late; a pool's first run "at once"
and a one-off entry (a reaction to a notification) are ripe at their due time.

Work that must not queue behind a full worker pool (renewing this replica's leases: a late
renewal loses pools, which are then claimed and loaded again) runs inside ``paused(limit)``: no
run starts while it lasts, and the runs in flight finish, so that work competes for the
interpreter with those runs only, not with every due cycle. The pause lifts itself after
``limit`` seconds, so a hung renewal cannot stop the cycles.

This replaces one APScheduler interval job per pool, whose per-job bookkeeping, per-run
locking and "maximum number of running instances" warnings dominated at thousands
of pools. ``lateness`` keeps how late each periodic run started (seconds, recent ones) for
``bench/scale.py``.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator

import structlog

log = structlog.get_logger(__name__)

#: the longest the loop sleeps without looking at ``stop``
TICK = 0.2
#: seconds after its due time a periodic run is ripe (runs due within a grain batch up)
GRAIN = 0.05

# (ripe monotonic: the due time, plus the grain for a periodic entry; sequence; function;
#  interval or None for a one-off; key of a periodic entry; due monotonic)
_Entry = tuple[float, int, Callable[[], object], float | None, str | None, float]


class Pacer:
    """Runs functions at their due times on at most ``workers`` threads."""

    def __init__(self, workers: int, clock: Callable[[], float] = time.monotonic,
                 keep: int = 100_000, grain: float = GRAIN) -> None:
        self._clock = clock
        #: seconds after its due time a periodic run is ripe
        self.grain = max(0.0, grain)
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._busy: set[str] = set()
        #: how many functions may run at once
        self.workers = max(1, workers)
        self._threads: list[threading.Thread] = []
        #: a worker is waiting for the earliest due time
        self._watching = False
        self._closed = False
        #: seconds each periodic run started after its due time (the most recent ``keep``)
        self.lateness: deque[float] = deque(maxlen=keep)
        #: periodic runs skipped because the previous run of the same entry was still going
        self.skipped = 0
        #: no run starts before this monotonic time (``paused``)
        self._paused_until = -float("inf")

    def every(self, key: str, interval: float, fn: Callable[[], object], first: float = 0.0) -> None:
        """Run ``fn`` every ``interval`` seconds, the first time ``first`` seconds from now."""
        if interval <= 0:
            raise ValueError(f"interval must be > 0 seconds (got {interval})")
        due = self._clock() + first
        # the first run "at once" is ripe at once (a pool's first cycle is not held back)
        self._push((due + self.grain if first > 0 else due, next(self._seq), fn, interval, key, due))

    def once(self, delay: float, fn: Callable[[], object]) -> None:
        """Run ``fn`` once, ``delay`` seconds from now. Raises RuntimeError once stopped."""
        if self._closed:
            raise RuntimeError("the scheduler is stopping")
        due = self._clock() + max(0.0, delay)
        self._push((due, next(self._seq), fn, None, None, due))

    @contextlib.contextmanager
    def paused(self, limit: float) -> Iterator[None]:
        """No run starts inside this block, for at most ``limit`` seconds; the runs in flight
        finish. For work that must not wait behind every due cycle (a lease renewal)."""
        with self._cv:
            self._paused_until = self._clock() + max(0.0, limit)
        try:
            yield
        finally:
            with self._cv:
                self._paused_until = -float("inf")
                self._cv.notify_all()

    def _push(self, entry: _Entry) -> None:
        with self._cv:
            heapq.heappush(self._heap, entry)
            if self._heap[0] is entry:  # earlier than the watcher's alarm: everyone looks again
                self._cv.notify_all()

    def run(self, stop: threading.Event) -> None:
        """Runs the entries on ``workers`` threads until ``stop`` is set; then ``shutdown()``.
        The calling thread only waits: it is the one that runs signal handlers, and a handler
        that logs must never interrupt a cycle holding the log's lock."""
        try:
            for i in range(self.workers):
                thread = threading.Thread(target=self._work, args=(stop,), name=f"cycle_{i}", daemon=True)
                self._threads.append(thread)
                thread.start()
            while not stop.wait(TICK) and not self._closed:
                pass
        finally:
            self.shutdown()

    def _work(self, stop: threading.Event) -> None:
        warm = False
        while (entry := self._take(stop, warm)) is not None:
            _, _, fn, interval, key, due = entry
            self._run(fn, key, due if interval is not None else None)
            warm = True

    def _take(self, stop: threading.Event, warm: bool = False) -> _Entry | None:
        """The next ripe entry, or due one for a ``warm`` worker (it has just run one); None
        once stopping. Sleeps while nothing is ripe."""
        with self._cv:
            while not (self._closed or stop.is_set()):
                now = self._clock()
                if now < self._paused_until:
                    warm = False
                    self._cv.wait(min(TICK, self._paused_until - now))
                    continue
                if self._heap and self._takes(self._heap[0], now, warm):
                    entry = self._pop(now)
                    if entry is not None:
                        return entry
                    continue
                warm = False
                if self._watching:  # another worker waits for the earliest due time
                    self._cv.wait(TICK)
                    continue
                self._watching = True
                try:
                    self._cv.wait(TICK if not self._heap else min(TICK, self._heap[0][0] - now))
                finally:
                    self._watching = False
            return None

    def _takes(self, entry: _Entry, now: float, warm: bool) -> bool:
        """Whether ``entry`` is ripe by ``now``, or due for a warm worker."""
        ripe, _, _, _, _, due = entry
        return (due if warm else ripe) <= now

    def _pop(self, now: float) -> _Entry | None:
        """Takes the earliest (due) entry and pushes a periodic one's next run; None when that
        pool's previous run is still going (the run is skipped)."""
        entry = heapq.heappop(self._heap)
        _, seq, fn, interval, key, due = entry
        if interval is None:
            return entry
        nxt = due + interval
        if nxt <= now:  # more than one interval behind: skip the missed runs, keep the phase
            nxt += interval * ((now - nxt) // interval + 1)
        heapq.heappush(self._heap, (nxt + self.grain, seq, fn, interval, key, nxt))
        if key in self._busy:
            self.skipped += 1
            return None
        if key is not None:
            self._busy.add(key)
        return entry

    def _run(self, fn: Callable[[], object], key: str | None, due: float | None) -> None:
        if due is not None:
            self.lateness.append(self._clock() - due)
        try:
            fn()
        except Exception:  # a pool's cycle never raises; anything here is a bug, not a stop
            log.exception("scheduled run failed", key=key)
        finally:
            if key is not None:
                with self._cv:
                    self._busy.discard(key)

    def shutdown(self) -> None:
        """Drop what is queued, wait for the runs in flight."""
        with self._cv:
            self._closed = True
            self._heap.clear()
            self._cv.notify_all()
        for thread in self._threads:  # workers, never the caller: it only waits in ``run``
            thread.join()
