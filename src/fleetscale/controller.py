"""The controller: runs every pool's cycles (``runner.PoolRunner``); a failing pool never
stops the others. ``run()`` schedules real-time cycles (``pacing.Pacer``: one heap, a bounded
pool of worker threads) until SIGINT/SIGTERM/SIGHUP (the cycles in flight finish, nothing
queued starts; the SQL journal meanwhile writes quiet cycles' records many per transaction,
``journal/cycle_queue.py``); ``run_paced()`` steps the pools on any clock (the demo's scaled clock, tests'
simulated clock).

Several replicas (``coordination:``): the ``Coordinator`` ticks in its own thread beside the
scheduler (heartbeat, renew, rebalance); its first tick runs before any cycle. Every cycle,
scheduled or extra, starts only when ``runner.ready()`` (this replica holds the pool's lease
and may act); the others are skipped at the cost of a dictionary lookup. On stop the
coordinator releases every pool after the last cycle, so the other replicas take over at once.
"""

from __future__ import annotations

import gc
import signal
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING, Any

import structlog

from fleetscale.journal.record import CycleRecord
from fleetscale.observe import describe
from fleetscale.pacing import Pacer
from fleetscale.ports import Clock
from fleetscale.reaction import Reactions, close_all, watch_sources
from fleetscale.runner import PoolRunner

if TYPE_CHECKING:
    from fleetscale.coordination.build import Coordination

#: worker threads for the cycles (they wait on I/O: providers, sources, the database)
WORKERS = 16
#: the cyclic garbage collector's thresholds while ``run`` runs (Python's: 700, 10, 10)
GC_THRESHOLDS = (10_000, 50, 10)

log = structlog.get_logger(__name__)


class Controller:
    """Runs every pool's cycles; a failing pool never stops the others."""

    def __init__(self, runners: Sequence[PoolRunner], clock: Clock,
                 on_close: Sequence[Callable[[], Any]] = (),
                 coordination: Coordination | None = None, workers: int = WORKERS) -> None:
        self.runners = tuple(runners)
        self.clock = clock
        self._on_close = tuple(on_close)
        #: several replicas: this replica's coordinator (None: it owns every pool)
        self.coordination = coordination
        self.workers = workers
        #: the running scheduler (``run()``), for its lateness figures
        self.pacer: Pacer | None = None

    def cycle(self) -> list[CycleRecord]:
        """One cycle of every pool this replica owns, in order (with coordination: one
        coordinator round first, and the pools released after)."""
        if self.coordination is None:
            return [r.cycle() for r in self.runners]
        me = self.coordination.coordinator
        try:
            me.tick()
            return [r.cycle() for r in self.runners if r.ready()]
        finally:
            me.stop()

    def run(self, stop: threading.Event | None = None, speed: float = 1.0,
            install_signals: bool = True) -> None:
        """Real time: each pool every ``interval / speed`` wall seconds, the first cycle at once,
        until ``stop`` is set or SIGINT/SIGTERM/SIGHUP; the cycles in flight finish."""
        stop = stop or threading.Event()
        previous: dict[signal.Signals, Any] = {}
        if install_signals and threading.current_thread() is threading.main_thread():
            def handler(signum: int, frame: FrameType | None) -> None:
                log.info("stopping after the cycles in flight", signal=signal.Signals(signum).name)
                stop.set()
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                previous[sig] = signal.signal(sig, handler)
        pacer = self.pacer = Pacer(min(self.workers, max(1, len(self.runners))))
        leases = self._start_coordination(pacer)
        batching = self.batch_journals(True)
        # --- reaction.py: extra cycles on notification, one cycle of a pool at a time ---
        reactions = Reactions(self.runners, pacer.once)
        n = len(self.runners)
        for i, runner in enumerate(self.runners):
            interval = runner.interval / speed
            # more pools than workers: their first cycles spread over one interval, so that they
            # do not all fall due at one instant, every interval (the last ones late by the
            # whole queue); fewer: all at once, in parallel
            first = interval * i / n if n > pacer.workers else 0.0
            pacer.every(runner.name, interval, _scheduled(reactions, runner), first=first)
        watches = watch_sources(self.runners, reactions.notify)
        log.info("controller started", pools=len(self.runners),
                 replica=self.coordination.coordinator.replica if self.coordination else None)
        thresholds = gc.get_threshold()
        _collect_less()
        try:
            pacer.run(stop)
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
            close_all(watches)
            pacer.shutdown()
            for sink in batching:  # the queued records of quiet cycles, before leaving
                try:
                    sink.batching(False)
                except Exception as exc:
                    log.error("journal records not written at stop", error=describe(exc))
            if leases is not None:  # after the last cycle: release every pool, leave
                leases[0].set()
                leases[1].join(timeout=30)
            for sig, before in previous.items():  # give the caller its handlers back
                signal.signal(sig, before)
            log.info("controller stopped")

    def batch_journals(self, on: bool) -> list[Any]:
        """The journal sinks that write quiet cycles' records many per transaction while
        ``run`` runs (``SqlJournal.batching``), switched on."""
        sinks: dict[int, Any] = {id(s): s for r in self.runners for s in r.journals
                                 if callable(getattr(s, "batching", None))}
        for sink in sinks.values():
            sink.batching(on)
        return list(sinks.values())

    def _start_coordination(self, pacer: Pacer) -> tuple[threading.Event, threading.Thread] | None:
        """The coordinator's thread; its first round has run when this returns. No cycle
        starts during a round (``pacer.paused``): renewals come before cycles."""
        if self.coordination is None:
            return None
        c = self.coordination
        try:
            c.coordinator.tick()
        except Exception as exc:  # the thread keeps trying; no pool cycles until it succeeds
            log.warning("first coordination round failed", error=describe(exc))
        done = threading.Event()
        thread = threading.Thread(target=c.coordinator.run, args=(done, c.renew_every, pacer.paused),
                                  name="coordinator", daemon=True)
        thread.start()
        return done, thread

    def run_paced(self, until: datetime, stop: threading.Event | None = None,
                  on_cycle: Callable[[CycleRecord], None] | None = None) -> None:
        """Each pool at its own interval on ``self.clock`` (simulated or scaled) until ``until``."""
        due = {r.name: self.clock.now() for r in self.runners}
        for _ in range(10_000_000):  # bounded
            if stop is not None and stop.is_set():
                return
            runner = min(self.runners, key=lambda r: due[r.name])
            when = due[runner.name]
            if when >= until:
                return
            wait = (when - self.clock.now()).total_seconds()
            if wait > 0:
                self.clock.sleep(wait)
            record = runner.cycle()
            if on_cycle is not None:
                on_cycle(record)
            due[runner.name] = when + timedelta(seconds=runner.interval)

    def journal_errors(self) -> dict[str, str]:
        """Pools whose journal or state cannot be written, and why (a health signal)."""
        return {r.name: r.journal_error for r in self.runners if r.journal_error}

    def owned(self) -> list[str]:
        """The pools this replica may cycle now (every pool without coordination)."""
        if self.coordination is None:
            return [r.name for r in self.runners]
        return sorted(self.coordination.coordinator.owned())

    def close(self) -> None:
        for fn in self._on_close:
            try:
                fn()
            except Exception as exc:
                log.warning("close failed", error=describe(exc))


def _scheduled(reactions: Reactions, runner: PoolRunner) -> Callable[[], None]:
    """A pool's scheduled cycle (``Reactions.scheduled`` runs it only when this replica may
    cycle the pool: ``runner.ready()``)."""
    def run() -> None:
        reactions.scheduled(runner.name)
    return run


def _collect_less() -> None:
    """Tune the cyclic garbage collector for a long-running controller. Cycles make values that
    die by reference counting (almost no cyclic garbage once the fleets are up: ~30 objects a
    minute at 10,000 pools), but Python's default thresholds made it walk every pool's state
    again and again: at 10,000 pools a full collection walked ~1.1 M objects, 0.7 s with every
    thread stopped, every ~10 s (about a tenth of the controller's CPU, and its worst
    lateness). What exists when the scheduler starts (configuration, adapters, runners,
    modules) lives as long as the process and is frozen out of the collector's sight; young
    collections run every 10,000 net allocations instead of 700, and older ones 50 times rarer,
    so a pool's state (replaced every interval) is rarely promoted to the oldest generation and
    full collections become rare (none in a minute at 10,000 pools)."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
