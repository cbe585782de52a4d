"""Source ``media_redis``: media gateways' states and rooms, read from Redis.

Reads the pool's entries under the key schema of ``fleetscale.media.keys`` in one Lua script
(a consistent snapshot) and reports, pool-wide, ``load`` (rooms or participants in use; the
name is ``metric``), ``rooms``, ``capacity``, and per gateway ``sessions`` (rooms) and
``registered``. A failed read or an entry that breaks the schema is an error observation: the
pool holds. Configuration::

    sources:
      - kind: media_redis
        url: redis://127.0.0.1:6379/0
        prefix: "fleetscale:media:{pool}:"
        load: rooms            # or participants
        metric: load
        rooms_per_gateway: 50  # capacity of a gateway whose hash has none

The source is also ``Watchable``: ``watch`` subscribes to the pool's ``<prefix>events``
channel, on which the media Lua scripts publish every placement, release and registration
(``media/watch.py``), so the controller runs an extra cycle within a second of a change.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

import redis
import structlog
from pydantic import Field

from fleetscale.media.connection import LoadBasis, RedisMediaSettings
from fleetscale.media.keys import KeySchema
from fleetscale.media.observe import observations
from fleetscale.media.registry import MediaRegistry
from fleetscale.media.watch import MediaWatch
from fleetscale.model import Observation
from fleetscale.ports import Closeable

log = structlog.get_logger(__name__)
NAME = "media_redis"


class Settings(RedisMediaSettings):
    #: what counts as load: rooms in use, or participants in those rooms
    load: LoadBasis = "rooms"
    #: the pool-wide metric name the load is reported as
    metric: str = Field(default="load", min_length=1, max_length=64)


class MediaRedisSource:
    def __init__(self, client: redis.Redis, prefix: str, basis: LoadBasis, metric: str,
                 default_capacity: int) -> None:
        self._client = client
        self._prefix = prefix
        self._basis: LoadBasis = basis
        self._metric = metric
        self._default_capacity = default_capacity
        self._registries: dict[str, MediaRegistry] = {}

    def _registry(self, pool: str) -> MediaRegistry:
        if pool not in self._registries:
            self._registries[pool] = MediaRegistry(self._client, KeySchema.for_pool(pool, self._prefix))
        return self._registries[pool]

    def read(self, pool: str, now: datetime) -> list[Observation]:
        try:
            view = self._registry(pool).view(participants=self._basis == "participants")
        except (redis.RedisError, OSError, ValueError, TypeError) as exc:
            log.warning("media_read_failed", pool=pool, error=str(exc))
            return [Observation(NAME, self._metric, None, now, error=f"redis read failed: {exc}")]
        if view.problems:
            log.warning("media_bad_data", pool=pool, problems=list(view.problems))
        return observations(view, source=NAME, at=now, metric=self._metric, basis=self._basis,
                            default_capacity=self._default_capacity)

    def watch(self, pool: str, notify: Callable[[str], None]) -> Closeable:
        """The pool's change channel -> ``notify``, until closed."""
        channel = KeySchema.for_pool(pool, self._prefix).events
        return MediaWatch(self._client, channel, notify, pool).start()

    def close(self) -> None:
        self._client.close()


def default_capacity(settings: RedisMediaSettings, ctx: Any) -> int:
    if settings.rooms_per_gateway is not None:
        return settings.rooms_per_gateway
    return max(1, math.ceil(float(ctx.pool.unit_capacity)))


def build(settings: Settings, ctx: Any) -> MediaRedisSource:
    return MediaRedisSource(settings.client(), settings.prefix, settings.load, settings.metric,
                            default_capacity(settings, ctx))
