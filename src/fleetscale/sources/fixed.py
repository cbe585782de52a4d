"""Source kind ``fixed``: a constant reading (tests, demos, a pool pinned by hand).

Example::

    sources:
      - {kind: fixed, value: 12}                      # pool-wide ``load`` = 12
      - {kind: fixed, metric: sessions, per_instance: {gw1.example: 3}}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat

from fleetscale.model import Observation


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: str = Field(default="load", min_length=1)
    #: the pool-wide value (None: only per-instance readings)
    value: NonNegativeFloat | None = Field(default=None, le=1e15)
    #: per-instance readings keyed by instance id or address
    per_instance: dict[str, Annotated[NonNegativeFloat, Field(le=1e15)]] = Field(default_factory=dict)
    name: str = "fixed"
    #: seconds each read takes (on the pool's clock): exercises slow sources in tests
    delay: NonNegativeFloat = Field(default=0.0, le=3600)


class FixedSource:
    def __init__(
        self,
        value: float | None,
        metric: str = "load",
        per_instance: Mapping[str, float] | None = None,
        name: str = "fixed",
        delay: float = 0.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.value = value
        self.delay = delay
        self._sleep = sleep
        self.metric = metric
        self.per_instance = dict(per_instance or {})
        self.name = name

    def read(self, pool: str, now: datetime) -> list[Observation]:
        if self.delay and self._sleep is not None:
            self._sleep(self.delay)
        out = []
        if self.value is not None:
            out.append(Observation(self.name, self.metric, float(self.value), now))
        out.extend(
            Observation(self.name, self.metric, float(v), now, instance_id=key)
            for key, v in self.per_instance.items()
        )
        return out


def build(settings: Settings, ctx: Any) -> FixedSource:
    return FixedSource(settings.value, settings.metric, settings.per_instance, settings.name,
                       delay=settings.delay, sleep=ctx.clock.sleep)
