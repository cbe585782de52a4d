"""The Redis key schema of a media pool.

Every key of one pool starts with the same *prefix*, made from a template in which ``{pool}``
stands for the pool's name (default ``fleetscale:media:{pool}:`` -> ``fleetscale:media:conf:``).
On Redis Cluster, wrap the pool in a hash tag (``fleetscale:media:{{pool}}:`` ->
``fleetscale:media:{conf}:``) so that all of a pool's keys share one slot and the Lua scripts
may touch them together.

=============================  ======  =====================================================
key                            type    holds
=============================  ======  =====================================================
``<prefix>gateways``           set     the index: ids of every registered gateway
``<prefix>gw:<id>``            hash    one gateway: ``state``, ``capacity``, ``address``,
                                       ``instance_id``, ``state_seq``, ``unknown_since``
``<prefix>gw:<id>:rooms``      set     the rooms placed on that gateway
``<prefix>rooms``              hash    room -> gateway id (one entry per placed room)
``<prefix>participants``       hash    room -> participants (optional, set by the application)
``<prefix>clock``              string  a counter: every placement, release and state change
                                       takes the next value, so their commit order is known
``<prefix>events``             channel the Lua scripts PUBLISH each placement, release,
                                       participants change, registration, removal and state
                                       change (``place <gw>``, ``release <gw>``, ...)
=============================  ======  =====================================================

The Lua scripts in ``fleetscale/lua/`` build the per-gateway keys from the same prefix
(passed as ``ARGV[1]``); ``gateway()``/``gateway_rooms()`` below are the Python side of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from fleetscale.errors import ConfigError

DEFAULT_PREFIX = "fleetscale:media:{pool}:"

#: gateway states the allocator, drainer and reconciler understand
PENDING = "pending"
READY = "ready"
DRAINING = "draining"
STATES = frozenset({PENDING, READY, DRAINING})


def render_prefix(template: str, pool: str) -> str:
    """The key prefix of ``pool``. The template must name ``{pool}`` so pools never collide."""
    if "{pool}" not in template:
        raise ConfigError(f"prefix: must contain {{pool}} so that pools do not share keys (got {template})")
    return template.replace("{pool}", pool)


@dataclass(frozen=True, slots=True)
class KeySchema:
    """The keys of one pool, all under ``prefix``."""

    prefix: str

    @staticmethod
    def for_pool(pool: str, template: str = DEFAULT_PREFIX) -> KeySchema:
        return KeySchema(render_prefix(template, pool))

    @property
    def index(self) -> str:
        return f"{self.prefix}gateways"

    @property
    def assignments(self) -> str:
        return f"{self.prefix}rooms"

    @property
    def participants(self) -> str:
        return f"{self.prefix}participants"

    @property
    def clock(self) -> str:
        return f"{self.prefix}clock"

    @property
    def events(self) -> str:
        """The pub/sub channel of the pool's changes (a channel, not a key)."""
        return f"{self.prefix}events"

    def gateway(self, gateway_id: str) -> str:
        return f"{self.prefix}gw:{gateway_id}"

    def gateway_rooms(self, gateway_id: str) -> str:
        return f"{self.prefix}gw:{gateway_id}:rooms"
