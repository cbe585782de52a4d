"""One media gateway as stored in Redis, parsed strictly.

``parse_gateway`` is pure: it turns the raw strings read from Redis into a ``Gateway`` or
raises ``BadGatewayData`` naming the gateway, the field and the value. A source that meets
bad data reports an error observation (the pool holds); it never guesses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from fleetscale.media.keys import STATES

_MAX_ID = 200


class BadGatewayData(ValueError):
    """A gateway entry in Redis that does not follow the key schema."""


@dataclass(frozen=True, slots=True)
class Gateway:
    id: str
    state: str
    #: rooms this gateway may hold; None = the configured default
    capacity: int | None
    address: str | None
    instance_id: str | None
    rooms: int
    participants: int
    #: the clock value of the last state change (0 if never changed by a script)
    state_seq: int = 0
    #: epoch seconds since which no provider instance matches it (None = matched)
    unknown_since: float | None = None

    @property
    def key(self) -> str:
        """How observations name it: the provider's instance id, else its address, else its id."""
        return self.instance_id or self.address or self.id

    def capacity_or(self, default: int) -> int:
        return self.capacity if self.capacity is not None else default


def _int(gateway_id: str, name: str, raw: str | None, minimum: int = 0) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadGatewayData(f"gateway {gateway_id!r}: {name} is not an integer (got {raw!r})") from None
    if value < minimum:
        raise BadGatewayData(f"gateway {gateway_id!r}: {name} must be >= {minimum} (got {raw!r})")
    return value


def _float(gateway_id: str, name: str, raw: str | None) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise BadGatewayData(f"gateway {gateway_id!r}: {name} is not a number (got {raw!r})") from None
    if not math.isfinite(value):
        raise BadGatewayData(f"gateway {gateway_id!r}: {name} is not finite (got {raw!r})")
    return value


def parse_gateway(gateway_id: str, fields: Mapping[str, str], rooms: int, participants: int = 0) -> Gateway:
    """A ``Gateway`` from its hash ``fields`` and its room count; raises ``BadGatewayData``."""
    if not gateway_id or len(gateway_id) > _MAX_ID or any(c.isspace() for c in gateway_id):
        raise BadGatewayData(f"gateway id is empty, too long or has spaces (got {gateway_id[:80]!r})")
    if not fields:
        raise BadGatewayData(f"gateway {gateway_id!r}: listed in the index but its hash is missing")
    state = fields.get("state")
    if state not in STATES:
        known = ", ".join(sorted(STATES))
        raise BadGatewayData(f"gateway {gateway_id!r}: state must be one of {known} (got {state!r})")
    capacity = _int(gateway_id, "capacity", fields.get("capacity"), minimum=0)
    if rooms < 0 or participants < 0:
        raise BadGatewayData(
            f"gateway {gateway_id!r}: negative count (rooms {rooms}, participants {participants})")
    return Gateway(
        id=gateway_id,
        state=state,
        capacity=capacity,
        address=fields.get("address") or None,
        instance_id=fields.get("instance_id") or None,
        rooms=rooms,
        participants=participants,
        state_seq=_int(gateway_id, "state_seq", fields.get("state_seq")) or 0,
        unknown_since=_float(gateway_id, "unknown_since", fields.get("unknown_since")),
    )
