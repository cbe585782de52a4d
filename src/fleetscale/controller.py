"""The controller: runs every pool's cycles (``runner.PoolRunner``); a failing pool never
stops the others. ``run()`` schedules real-time cycles with APScheduler until
SIGINT/SIGTERM/SIGHUP (the cycle in flight finishes); ``run_paced()`` steps the pools on any
clock (the demo's scaled clock, tests' simulated clock).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

import structlog

from fleetscale.journal.record import CycleRecord
from fleetscale.observe import describe
from fleetscale.ports import Clock
from fleetscale.reaction import Reactions, close_all, watch_sources
from fleetscale.runner import PoolRunner

log = structlog.get_logger(__name__)


class Controller:
    """Runs every pool's cycles; a failing pool never stops the others."""

    def __init__(self, runners: Sequence[PoolRunner], clock: Clock,
                 on_close: Sequence[Callable[[], Any]] = ()) -> None:
        self.runners = tuple(runners)
        self.clock = clock
        self._on_close = tuple(on_close)

    def cycle(self) -> list[CycleRecord]:
        """One cycle of every pool, in order."""
        return [r.cycle() for r in self.runners]

    def run(self, stop: threading.Event | None = None, speed: float = 1.0,
            install_signals: bool = True) -> None:
        """Real time: each pool every ``interval / speed`` wall seconds (APScheduler), the first
        cycle at once, until ``stop`` is set or SIGINT/SIGTERM; the cycle in flight finishes."""
        from apscheduler.schedulers.background import BackgroundScheduler

        stop = stop or threading.Event()
        previous: dict[signal.Signals, Any] = {}
        if install_signals and threading.current_thread() is threading.main_thread():
            def handler(signum: int, frame: FrameType | None) -> None:
                log.info("stopping after the cycle in flight", signal=signal.Signals(signum).name)
                stop.set()
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                previous[sig] = signal.signal(sig, handler)
        scheduler = BackgroundScheduler(timezone="UTC")
        first = datetime.now().astimezone()
        # --- reaction.py: extra cycles on notification, one cycle of a pool at a time ---
        reactions = Reactions(self.runners, lambda delay, fn: scheduler.add_job(
            fn, "date", run_date=datetime.now().astimezone() + timedelta(seconds=delay),
            misfire_grace_time=None))
        for runner in self.runners:
            scheduler.add_job(reactions.scheduled, "interval", args=[runner.name],
                              seconds=runner.interval / speed,
                              id=runner.name, name=f"cycle {runner.name}", max_instances=1,
                              coalesce=True, next_run_time=first, misfire_grace_time=None)
        scheduler.start()
        watches = watch_sources(self.runners, reactions.notify)
        log.info("controller started", pools=[r.name for r in self.runners])
        try:
            while not stop.wait(0.2):
                pass
        finally:
            close_all(watches)
            scheduler.shutdown(wait=True)
            for sig, before in previous.items():  # give the caller its handlers back
                signal.signal(sig, before)
            log.info("controller stopped")

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

    def close(self) -> None:
        for fn in self._on_close:
            try:
                fn()
            except Exception as exc:
                log.warning("close failed", error=describe(exc))
