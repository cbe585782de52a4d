"""Media gateways tracked in Redis: key schema, allocator protocol, registration.

- ``keys``: the key schema of a pool (``KeySchema``);
- ``allocator``: ``RoomAllocator.place/release`` — what applications call (the safe protocol);
- ``registry``: ``MediaRegistry`` — register, drain, remove and reconcile gateway entries;
- ``reconcile``: the pure repair plan against the provider's instances;
- ``observe``: the pure observations a source reports;
- ``scripts``: the Lua scripts in ``fleetscale/lua/media_*.lua``.

See docs/media-gateways.md.
"""

from fleetscale.media.allocator import Placement, Release, RoomAllocator
from fleetscale.media.keys import DEFAULT_PREFIX, KeySchema
from fleetscale.media.registry import MediaRegistry

__all__ = ["DEFAULT_PREFIX", "KeySchema", "MediaRegistry", "Placement", "Release", "RoomAllocator"]
