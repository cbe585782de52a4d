"""Policy `schedule` (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True, kw_only=True)
class SchedulePolicy:
    kind: Literal["schedule"] = "schedule"
    name: str | None = None
