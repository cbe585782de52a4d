"""A drainer that records calls, for checking what recovery re-began (passed by constructor)."""

from __future__ import annotations

from fleetscale.model import Instance


class RecordingDrainer:
    def __init__(self) -> None:
        self.begun: list[str] = []
        self.cancelled: list[str] = []

    def begin(self, instance: Instance) -> None:
        self.begun.append(instance.id)

    def cancel(self, instance: Instance) -> None:
        self.cancelled.append(instance.id)

    def sessions(self, instance: Instance) -> int | None:
        return 0
