"""Drainer ``none``: for fleets with no sessions to protect (an instance is drained at once)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from fleetscale.model import Instance


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoDrainer:
    def begin(self, instance: Instance) -> None:
        return None

    def cancel(self, instance: Instance) -> None:
        return None

    def sessions(self, instance: Instance) -> int | None:
        return 0


def build(settings: Settings, ctx: Any) -> NoDrainer:
    return NoDrainer()
