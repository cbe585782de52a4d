"""Drainer ``media_redis``: takes media gateways out of room placement.

``begin`` sets the gateway's state to ``draining`` with a Lua script that Redis orders against
every placement (``fleetscale.media.allocator``): no room placed after it lands there.
``sessions`` is the gateway's room count (drained at zero); ``cancel`` makes it ``ready``.
``reconcile(instances)`` registers ready instances, adopts self-registered gateways, and
removes entries of instances that are gone; the controller calls it once per cycle with the
provider's list. Configuration::

    drainer:
      kind: media_redis
      url: redis://127.0.0.1:6379/0
      prefix: "fleetscale:media:{pool}:"
      register_instances: true  # register ready instances (false: gateways self-register)
      unknown_gateways: remove  # or keep
      unknown_grace: 120        # seconds an entry may match no instance before removal
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import redis
import structlog
from pydantic import Field, NonNegativeFloat

from fleetscale.errors import DrainError
from fleetscale.media.connection import RedisMediaSettings
from fleetscale.media.keys import KeySchema
from fleetscale.media.reconcile import ReconcileOptions
from fleetscale.media.registry import MediaRegistry, StateChange
from fleetscale.model import Instance
from fleetscale.ports import Clock
from fleetscale.sources.media_redis import default_capacity

log = structlog.get_logger(__name__)


class Settings(RedisMediaSettings):
    register_instances: bool = True
    unknown_gateways: Literal["remove", "keep"] = "remove"
    unknown_grace: NonNegativeFloat = Field(default=120.0, le=7 * 86400)


class MediaRedisDrainer:
    def __init__(self, registry: MediaRegistry, clock: Clock, options: ReconcileOptions) -> None:
        self.registry = registry
        self._clock = clock
        self._options = options

    def _gateway(self, instance: Instance) -> str | None:
        return self.registry.find(instance)

    def begin(self, instance: Instance) -> None:
        self._change(instance, "drain")

    def cancel(self, instance: Instance) -> None:
        self._change(instance, "cancel")

    def _change(self, instance: Instance, what: Literal["drain", "cancel"]) -> StateChange | None:
        try:
            gateway = self._gateway(instance)
            if gateway is None:
                log.info("media_not_registered", instance=instance.id, action=what)
                return None
            change = self.registry.drain(gateway) if what == "drain" else self.registry.undrain(gateway)
        except redis.RedisError as exc:
            raise DrainError(f"media gateway of {instance.id}: {what} failed: {exc}") from exc
        if change.status == 0:
            raise DrainError(f"media gateway {gateway} of {instance.id}: cannot {what} from state "
                             f"{change.previous!r}")
        log.info("media_state", instance=instance.id, gateway=gateway, action=what, rooms=change.rooms,
                 seq=change.seq, previous=change.previous)
        return change

    def sessions(self, instance: Instance) -> int | None:
        """Rooms on the instance's gateway; 0 if it has no entry (no room can be placed there)."""
        try:
            gateway = self._gateway(instance)
            return 0 if gateway is None else self.registry.rooms(gateway)
        except redis.RedisError as exc:
            log.warning("media_sessions_failed", instance=instance.id, error=str(exc))
            return None

    def reconcile(self, instances: Sequence[Instance]) -> tuple[str, ...]:
        """Repair the pool's entries against the provider's instances (call once per cycle,
        only after a successful ``provider.list()``). Returns one line per repair."""
        try:
            return self.registry.reconcile(instances, self._clock.now().timestamp(), self._options)
        except redis.RedisError as exc:
            raise DrainError(f"media reconcile failed: {exc}") from exc

    def close(self) -> None:
        self.registry.close()


def build(settings: Settings, ctx: Any) -> MediaRedisDrainer:
    keys = KeySchema.for_pool(ctx.pool.name, settings.prefix)
    options = ReconcileOptions(register=settings.register_instances, unknown=settings.unknown_gateways,
                               unknown_grace=settings.unknown_grace,
                               rooms_per_unit=default_capacity(settings, ctx))
    return MediaRedisDrainer(MediaRegistry(settings.client(), keys), ctx.clock, options)
