"""The governor's memory: a value passed in and out of every decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class GovernorMemory:
    up_streak: int = 0
    down_streak: int = 0
    #: recent (time, desired) pairs for the stabilisation windows
    desires: tuple[tuple[datetime, int], ...] = ()
    last_up_at: datetime | None = None
    last_down_at: datetime | None = None
    #: recent (time, signed change in units) for the step limits
    changes: tuple[tuple[datetime, int], ...] = ()
