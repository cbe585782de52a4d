"""Policy `cycles` (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True, kw_only=True)
class CyclesPolicy:
    kind: Literal["cycles"] = "cycles"
    name: str | None = None
