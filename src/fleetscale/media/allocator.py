"""The allocator side of the media protocol: what applications call to place rooms.

An application (the conference front end, a signalling server) creates one
``RoomAllocator`` per pool and calls ``place(room)`` when a conference starts and
``release(room)`` when it ends::

    alloc = RoomAllocator(redis.Redis(decode_responses=True), pool="conf", default_capacity=50)
    p = alloc.place("room-42")
    if p.ok:
        connect_to(p.address)          # the gateway that now hosts room-42
    ...
    alloc.release("room-42")

The protocol, and why it is safe:

1. ``place`` is one Lua script: it reads every gateway's state and room count and adds the
   room to the least loaded ``ready`` gateway with room to spare, in one atomic step.
2. fleetscale's drainer changes a gateway's state with another Lua script. Redis runs scripts
   one at a time, so every placement is ordered either before the drain (the room is counted in
   the drain's ``sessions`` and the gateway is terminated only after it is released) or after
   it (the script sees ``draining`` and chooses another gateway). A client that reads the
   states and then writes the room in a second command has a window in which a drain can
   commit; ``tests/integration/test_media_allocator_race.py`` shows rooms landing on a
   draining gateway that way.
3. Placing a room that is already placed returns its gateway (``new`` False): retries never
   double count. Releasing is idempotent too.

Capacity: a gateway's hash field ``capacity`` (rooms), else ``default_capacity``. A room is
placed only on a gateway below its capacity; least loaded = lowest rooms/capacity, ties by id.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from fleetscale.media.keys import DEFAULT_PREFIX, KeySchema
from fleetscale.media.scripts import Scripts


@dataclass(frozen=True, slots=True)
class Placement:
    room: str
    #: the gateway's id in the pool's index; None when no ready gateway had room
    gateway: str | None
    #: the gateway's address from its hash (None if it has none or nothing was placed)
    address: str | None
    #: False when the room was already placed (a retry) or not placed at all
    new: bool
    #: the pool clock value at which the placement committed (0 when not new)
    seq: int

    @property
    def ok(self) -> bool:
        return self.gateway is not None


@dataclass(frozen=True, slots=True)
class Release:
    room: str
    #: the gateway the room was on; None if it was not placed
    gateway: str | None
    seq: int


def _check_room(room: str) -> str:
    if not isinstance(room, str) or not room or len(room) > 512:
        raise ValueError(f"room: must be a non-empty string of at most 512 characters (got {room!r})")
    return room


class RoomAllocator:
    """Places and releases rooms on a pool's gateways following the safe protocol."""

    def __init__(self, client: redis.Redis, pool: str, default_capacity: int,
                 prefix: str = DEFAULT_PREFIX) -> None:
        if default_capacity < 1:
            raise ValueError(f"default_capacity: must be >= 1 (got {default_capacity})")
        self._client = client
        self._keys = KeySchema.for_pool(pool, prefix)
        self._default_capacity = default_capacity
        self._scripts = Scripts.on(client)

    @classmethod
    def from_url(cls, url: str, pool: str, default_capacity: int, prefix: str = DEFAULT_PREFIX,
                 socket_timeout: float = 2.0) -> RoomAllocator:
        """An allocator on its own client (``redis://host:port/db``)."""
        client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=socket_timeout,
                                      socket_connect_timeout=socket_timeout)
        return cls(client, pool, default_capacity, prefix)

    @property
    def keys(self) -> KeySchema:
        return self._keys

    def place(self, room: str) -> Placement:
        k = self._keys
        gateway, new, seq, address = self._scripts.place(
            keys=[k.index, k.assignments, k.clock],
            args=[k.prefix, _check_room(room), self._default_capacity],
        )
        return Placement(room, _text(gateway), _text(address) if gateway else None, bool(new), int(seq))

    def release(self, room: str) -> Release:
        k = self._keys
        gateway, seq = self._scripts.release(
            keys=[k.assignments, k.participants, k.clock], args=[k.prefix, _check_room(room)]
        )
        return Release(room, _text(gateway), int(seq))

    def set_participants(self, room: str, participants: int) -> bool:
        """Record how many people are in a placed room (for ``load: participants``)."""
        if isinstance(participants, bool) or not isinstance(participants, int) or participants < 0:
            raise ValueError(f"participants: must be an integer >= 0 (got {participants!r})")
        k = self._keys
        done = self._scripts.participants(keys=[k.assignments, k.participants],
                                          args=[_check_room(room), participants])
        return bool(done)

    def where(self, room: str) -> str | None:
        """The gateway a room is placed on, if any."""
        return _text(self._client.hget(self._keys.assignments, _check_room(room)))


def _text(value: object) -> str | None:
    if value is None or value == "" or value == b"":
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
