"""Helpers shared by the media integration tests (not collected: no ``test_`` prefix)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fleetscale.config import PoolConfig
from fleetscale.registry import BuildContext


@dataclass
class FakeClock:
    """A clock tests move by hand."""

    at: datetime = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def context(pool: str = "conf", unit_capacity: float = 10.0, clock: Any = None) -> BuildContext:
    config = PoolConfig.model_validate({"name": pool, "max": 10, "unit_capacity": unit_capacity,
                                        "provider": {"kind": "simulated"}})
    return BuildContext(pool=config, clock=clock or FakeClock(), journal_url="sqlite://")
