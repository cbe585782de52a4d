"""Policy `target` (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetPolicy:
    kind: Literal["target"] = "target"
    name: str | None = None
