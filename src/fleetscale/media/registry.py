"""Registration and reconciliation of a pool's gateways in Redis.

``MediaRegistry`` is the I/O side: it reads the pool's entries (one Lua script, a consistent
snapshot), registers and removes gateways, changes their state (drain, cancel) atomically with
respect to room placement, and applies ``plan_reconcile``'s repairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import redis
import structlog

from fleetscale.media.gateway import BadGatewayData, Gateway, parse_gateway
from fleetscale.media.keys import DRAINING, PENDING, READY, STATES, KeySchema
from fleetscale.media.reconcile import ReconcileActions, ReconcileOptions, describe, plan_reconcile
from fleetscale.media.scripts import Scripts
from fleetscale.model import Instance

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PoolView:
    """What the pool's keys held at one instant."""

    gateways: tuple[Gateway, ...]
    #: entries that break the key schema, one readable line each
    problems: tuple[str, ...] = ()
    #: ids in the index whose hash is missing
    dangling: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StateChange:
    #: 1 changed (or already there), 0 refused, -1 the gateway is not registered
    status: int
    rooms: int
    seq: int
    previous: str | None

    @property
    def done(self) -> bool:
        return self.status == 1


def _pairs(flat: Sequence[str]) -> dict[str, str]:
    return {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}


class MediaRegistry:
    """The pool's gateway entries. Raises redis errors unchanged; adapters wrap them."""

    def __init__(self, client: redis.Redis, keys: KeySchema) -> None:
        self._client = client
        self._keys = keys
        self._scripts = Scripts.on(client)

    @property
    def keys(self) -> KeySchema:
        return self._keys

    def view(self, participants: bool = False) -> PoolView:
        k = self._keys
        rows = self._scripts.snapshot(keys=[k.index, k.participants],
                                      args=[k.prefix, "1" if participants else "0"])
        gateways: list[Gateway] = []
        problems: list[str] = []
        dangling: list[str] = []
        for gateway_id, flat, rooms, people, bad in rows:
            fields = _pairs(flat)
            if not fields:
                dangling.append(str(gateway_id))
            try:
                if int(bad):
                    raise BadGatewayData(f"gateway {gateway_id!r}: {bad} room(s) have a participant count "
                                         "that is not an integer >= 0")
                gateways.append(parse_gateway(str(gateway_id), fields, int(rooms), int(people)))
            except BadGatewayData as exc:
                problems.append(str(exc))
        gateways.sort(key=lambda g: g.id)
        return PoolView(tuple(gateways), tuple(problems), tuple(dangling))

    def find(self, instance: Instance, gateways: Sequence[Gateway] | None = None) -> str | None:
        """The id of ``instance``'s entry: by id, then address, then a linked ``instance_id``."""
        k = self._keys
        for candidate in (instance.id, instance.address):
            if candidate and self._client.exists(k.gateway(candidate)):
                return candidate
        for gw in gateways if gateways is not None else self.view().gateways:
            if gw.instance_id == instance.id or (instance.address and gw.address == instance.address):
                return gw.id
        return None

    def register(self, gateway_id: str, *, address: str | None = None, capacity: int | None = None,
                 instance_id: str | None = None, state: str = READY) -> bool:
        """Add (or update) an entry; an existing entry keeps its state. True if it is new."""
        if state not in STATES:
            raise ValueError(f"state: must be one of {sorted(STATES)} (got {state!r})")
        parse_gateway(gateway_id, {"state": state}, 0)  # checks the id
        k = self._keys
        args: list[str | int] = [gateway_id, state]
        for name, value in (("address", address), ("capacity", capacity), ("instance_id", instance_id)):
            if value is not None:
                args += [name, str(value)]
        return bool(self._scripts.register(keys=[k.index, k.gateway(gateway_id)], args=args))

    def deregister(self, gateway_id: str, only_if_empty: bool = False) -> int:
        """Remove an entry and release its rooms; returns how many it held (-1: refused)."""
        k = self._keys
        return int(self._scripts.deregister(
            keys=[k.index, k.assignments, k.participants, k.gateway(gateway_id), k.gateway_rooms(gateway_id)],
            args=[gateway_id, "1" if only_if_empty else "0"],
        ))

    def set_state(self, gateway_id: str, state: str, allowed_from: Sequence[str]) -> StateChange:
        k = self._keys
        status, rooms, seq, previous = self._scripts.set_state(
            keys=[k.gateway(gateway_id), k.gateway_rooms(gateway_id), k.clock], args=[state, *allowed_from]
        )
        return StateChange(int(status), int(rooms), int(seq), str(previous) or None)

    def drain(self, gateway_id: str) -> StateChange:
        return self.set_state(gateway_id, DRAINING, (READY, PENDING))

    def undrain(self, gateway_id: str) -> StateChange:
        return self.set_state(gateway_id, READY, (DRAINING,))

    def rooms(self, gateway_id: str) -> int:
        return int(self._client.scard(self._keys.gateway_rooms(gateway_id)))

    def reconcile(self, instances: Sequence[Instance], now: float,
                  options: ReconcileOptions) -> tuple[str, ...]:
        """Repair the entries against the provider's instances; returns one line per repair."""
        view = self.view()
        actions = plan_reconcile(instances, view.gateways, now, options)
        self.apply(actions, now)
        lines = describe(actions)
        for gateway_id in view.dangling:
            self._client.srem(self._keys.index, gateway_id)
            lines += (f"media: removed {gateway_id} from the index (its hash is missing)",)
        if lines:
            log.info("media_reconcile", prefix=self._keys.prefix, repairs=list(lines))
        return lines

    def apply(self, actions: ReconcileActions, now: float) -> None:
        for reg in actions.register:
            self.register(reg.gateway_id, address=reg.address, capacity=reg.capacity,
                          instance_id=reg.instance_id, state=reg.state)
        for gateway_id, instance_id, address in actions.adopt:
            self.update(gateway_id, instance_id=instance_id, **({"address": address} if address else {}))
        for gateway_id in actions.drain:
            self.drain(gateway_id)
        for removal in actions.remove:
            self.deregister(removal.gateway_id)
        for gateway_id in actions.mark_unknown:
            self.update(gateway_id, unknown_since=repr(now))
        for gateway_id in actions.clear_unknown:
            self.update(gateway_id, unknown_since="")

    def update(self, gateway_id: str, **fields: str) -> bool:
        """Set fields of an existing entry ('' deletes one); never creates an entry."""
        args = [x for pair in fields.items() for x in pair]
        return bool(self._scripts.update(keys=[self._keys.gateway(gateway_id)], args=args))

    def close(self) -> None:
        self._client.close()
