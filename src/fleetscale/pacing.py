"""The controller's real-time scheduler: one loop over a heap of due times, a bounded pool of
worker threads.

Every pool has one periodic entry (``every``); extra cycles (``reaction.py``) are one-off
entries (``once``). The loop sleeps until the earliest entry is due (at most ``TICK``
seconds, so a stop is noticed at once), hands it to the worker pool and, for a periodic entry,
pushes its next due time (``due + interval``, keeping the phase; an entry that fell more than
one interval behind skips the missed runs instead of bursting). A pool whose previous cycle is
still running is not queued again: that run is skipped and counted (``skipped``), never run
alongside.

This replaces one APScheduler interval job per pool, whose per-job bookkeeping, per-run
locking and "maximum number of running instances reached" warnings dominated at thousands
of pools. ``lateness`` keeps how late each periodic run started (seconds, recent ones) for
``bench/scale.py``.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import structlog

log = structlog.get_logger(__name__)

#: the longest the loop sleeps without looking at ``stop``
TICK = 0.2

# (due monotonic, sequence, function, interval or None for a one-off, key of a periodic entry)
_Entry = tuple[float, int, Callable[[], object], float | None, str | None]


class Pacer:
    """Runs functions at their due times on at most ``workers`` threads."""

    def __init__(self, workers: int, clock: Callable[[], float] = time.monotonic,
                 keep: int = 100_000) -> None:
        self._clock = clock
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._busy: set[str] = set()
        #: how many functions may run at once
        self.workers = max(1, workers)
        self._workers = ThreadPoolExecutor(self.workers, thread_name_prefix="cycle")
        self._closed = False
        #: seconds each periodic run started after its due time (the most recent ``keep``)
        self.lateness: deque[float] = deque(maxlen=keep)
        #: periodic runs skipped because the previous run of the same entry was still going
        self.skipped = 0

    def every(self, key: str, interval: float, fn: Callable[[], object], first: float = 0.0) -> None:
        """Run ``fn`` every ``interval`` seconds, the first time ``first`` seconds from now."""
        if interval <= 0:
            raise ValueError(f"interval must be > 0 seconds (got {interval})")
        self._push((self._clock() + first, next(self._seq), fn, interval, key))

    def once(self, delay: float, fn: Callable[[], object]) -> None:
        """Run ``fn`` once, ``delay`` seconds from now. Raises RuntimeError once stopped."""
        if self._closed:
            raise RuntimeError("the scheduler is stopping")
        self._push((self._clock() + max(0.0, delay), next(self._seq), fn, None, None))

    def _push(self, entry: _Entry) -> None:
        with self._cv:
            heapq.heappush(self._heap, entry)
            if self._heap[0] is entry:
                self._cv.notify()

    def run(self, stop: threading.Event) -> None:
        """The loop, in the calling thread, until ``stop`` is set; then ``shutdown()``."""
        try:
            while not stop.is_set():
                entry = self._next_due()
                if entry is None:
                    continue
                due, _, fn, interval, key = entry
                try:
                    self._workers.submit(self._run, fn, key, due if interval is not None else None)
                except RuntimeError:  # shut down meanwhile
                    break
        finally:
            self.shutdown()

    def _next_due(self) -> _Entry | None:
        with self._cv:
            now = self._clock()
            if not self._heap or self._heap[0][0] > now:
                wait = TICK if not self._heap else min(TICK, self._heap[0][0] - now)
                self._cv.wait(wait)
                return None
            entry = heapq.heappop(self._heap)
            due, seq, fn, interval, key = entry
            if interval is None:
                return entry
            nxt = due + interval
            if nxt <= now:  # more than one interval behind: skip the missed runs, keep the phase
                nxt += interval * ((now - nxt) // interval + 1)
            heapq.heappush(self._heap, (nxt, seq, fn, interval, key))
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
        self._closed = True
        with self._cv:
            self._heap.clear()
        self._workers.shutdown(wait=True, cancel_futures=True)
