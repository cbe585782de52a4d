"""The governor's memory: a value passed in and out of every decision.

Windows are pruned each cycle to what the settings need (the longest stabilisation window,
the longest step period), so the tuples stay a few entries long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class GovernorMemory:
    #: consecutive cycles (up to now) whose policies wanted up / down
    up_streak: int = 0
    down_streak: int = 0
    #: recent (time, desired after bounds) pairs for the stabilisation windows, oldest first
    desires: tuple[tuple[datetime, int], ...] = ()
    last_up_at: datetime | None = None
    last_down_at: datetime | None = None
    #: recent (time, signed change in units) for the step limits, oldest first
    changes: tuple[tuple[datetime, int], ...] = ()
    #: when this memory saw its first cycle (None: not yet); a fresh memory has no history,
    #: so scale-down waits one down stabilisation window
    since: datetime | None = None
