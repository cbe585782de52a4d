"""Clocks: the wall clock, a simulated clock (tests, simulator) and a scaled wall clock (demo).

All three satisfy ``ports.Clock``: ``now()`` returns an aware UTC datetime and ``sleep(s)``
waits ``s`` seconds *of that clock's time*.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class WallClock:
    """Real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class SimClock:
    """Simulated time: ``sleep`` and ``advance`` move it forward at once; nothing waits.

    Thread-safe, so a test can drive it while a controller thread reads it.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError(f"SimClock start must be timezone-aware (got {self._now!r})")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._now

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError(f"cannot move a clock backwards (got {seconds})")
        with self._lock:
            self._now = self._now + timedelta(seconds=seconds)
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            if when < self._now:
                raise ValueError(f"cannot move a clock backwards (got {when.isoformat()})")
            self._now = when


class ScaledClock:
    """Wall time sped up ``speed`` times from ``start`` (the demo: 720x turns 6 h into 30 s).

    ``sleep(s)`` waits ``s / speed`` real seconds. ``monotonic`` and ``real_sleep`` are
    injectable for tests.
    """

    def __init__(
        self,
        start: datetime,
        speed: float,
        monotonic: Callable[[], float] = time.monotonic,
        real_sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive (got {speed})")
        if start.tzinfo is None:
            raise ValueError(f"ScaledClock start must be timezone-aware (got {start!r})")
        self.start = start
        self.speed = speed
        self._monotonic = monotonic
        self._real_sleep = real_sleep
        self._t0 = monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(self._monotonic() - self._t0) * self.speed)

    def restart(self) -> None:
        """Back to ``start`` now (after a slow set-up, so a run begins exactly at ``start``)."""
        self._t0 = self._monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._real_sleep(seconds / self.speed)
