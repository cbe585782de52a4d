"""Policy `step` (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True, kw_only=True)
class StepPolicy:
    kind: Literal["step"] = "step"
    name: str | None = None
