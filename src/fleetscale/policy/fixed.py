"""Policy `fixed` (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True, kw_only=True)
class FixedPolicy:
    kind: Literal["fixed"] = "fixed"
    name: str | None = None
