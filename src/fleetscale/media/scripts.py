"""The media protocol's Lua scripts (``fleetscale/lua/media_*.lua``), registered on a client.

redis-py's ``register_script`` runs each by SHA (``EVALSHA``) and reloads it after a
``SCRIPT FLUSH`` or on a new server, so callers just call them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import redis
from redis.commands.core import Script

NAMES = ("place", "release", "participants", "set_state", "register", "deregister", "snapshot", "update")


@cache
def source(name: str) -> str:
    """The text of ``fleetscale/lua/media_<name>.lua``."""
    return resources.files("fleetscale").joinpath("lua", f"media_{name}.lua").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Scripts:
    place: Script
    release: Script
    participants: Script
    set_state: Script
    register: Script
    deregister: Script
    snapshot: Script
    update: Script

    @staticmethod
    def on(client: redis.Redis) -> Scripts:
        return Scripts(**{name: client.register_script(source(name)) for name in NAMES})
