"""Cycle records on their way to ``fs_cycles``, written many per transaction.

At thousands of pools one transaction per cycle (begin, a read, an update or insert, commit)
costs more than the cycle itself. While the controller runs (``SqlJournal.batching``), a
record goes into this queue and a writer thread flushes what is queued every ``every`` seconds
(0.5 s), in one transaction (``CycleWriter.write_many``). What stays synchronous:

- a cycle that acted or failed (an outcome or an error line): ``put`` flushes the queue, this
  record included, before it returns, so what was done is in the journal when the cycle ends;
- the state store and the write-ahead intents (their own transactions, fenced), which is what
  crash safety and fencing rest on: at worst a crash loses the last ``every`` seconds of quiet
  cycles' records (a span one cycle shorter), never an action or the state;
- a full queue (``limit`` records) is flushed by the cycle that fills it (back-pressure).

A flush that fails keeps its records (the oldest are dropped past ``limit``, with a log line)
and the next ``put`` raises its ``JournalError``: the journal is a required sink, so the pool
holds (``PoolRunner.journal_error``) until a flush succeeds. ``flush()`` writes what is queued
now (a reader in the same process calls it first; ``stop`` flushes the rest).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence

import structlog

from fleetscale.errors import JournalError
from fleetscale.journal.record import CycleRecord

log = structlog.get_logger(__name__)

#: seconds between two flushes of the writer thread
EVERY = 0.5
#: records queued at most; the cycle that fills the queue flushes it
LIMIT = 5_000

Batch = Sequence[tuple[CycleRecord, str]]


class CycleQueue:
    """Queues ``(record, body)`` and hands them to ``write`` (one transaction per call)."""

    def __init__(self, write: Callable[[Batch], None], every: float = EVERY, limit: int = LIMIT) -> None:
        self._write = write
        self.every = every
        self.limit = limit
        self._queue: deque[tuple[CycleRecord, str]] = deque()
        self._lock = threading.Lock()  # the queue
        self._flushing = threading.Lock()  # one flush at a time, in record order
        self._error: JournalError | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="journal-writer", daemon=True)
        self._thread.start()

    def put(self, cycle: CycleRecord, body: str) -> None:
        """Queue one record; raises the last flush's ``JournalError`` while flushes fail. A record
        with an outcome or errors, or one that fills the queue, is written before this returns."""
        with self._lock:
            self._queue.append((cycle, body))
            full = len(self._queue) >= self.limit
            error = self._error
        if cycle.outcome or cycle.errors or full:
            self.flush()
        elif error is not None:
            raise error

    def flush(self) -> None:
        """Write everything queued now; raises ``JournalError`` if that fails (records kept)."""
        with self._flushing:
            with self._lock:
                batch = list(self._queue)
                self._queue.clear()
            if not batch:
                return
            try:
                self._write(batch)
            except JournalError as exc:
                with self._lock:
                    self._queue.extendleft(reversed(batch))
                    over = len(self._queue) - self.limit
                    for _ in range(max(0, over)):
                        self._queue.popleft()
                    self._error = exc
                if over > 0:
                    log.error("journal records dropped: the journal cannot be written", dropped=over)
                raise
            with self._lock:
                self._error = None

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.flush()
            except JournalError as exc:
                log.warning("journal flush failed; records kept", error=str(exc)[:300])
            except Exception:  # a bug: keep the thread, the next flush tries again
                log.exception("journal flush crashed")

    def stop(self) -> None:
        """Stop the writer thread and write what is left (raises if that fails)."""
        self._stop.set()
        self._thread.join()
        self.flush()
