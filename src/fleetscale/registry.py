"""Where each adapter kind lives.

Every adapter module named here exposes:

- ``Settings``: a pydantic model (``extra="forbid"``) of its options, validated by
  ``config.py`` at the boundary, so a bad option is reported as ``pools.0.source.host: ...``;
- ``build(settings, ctx: BuildContext)``: returns the adapter (a Source, Provider, Drainer or
  Journal sink). Modules are imported lazily, only for the kinds a configuration names.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from fleetscale.errors import ConfigError

if TYPE_CHECKING:
    from fleetscale.config import PoolConfig
    from fleetscale.ports import Clock

SOURCES = {
    "fixed": "fleetscale.sources.fixed",
    "trace": "fleetscale.sources.trace",
    "kamailio": "fleetscale.sources.kamailio",
    "media_redis": "fleetscale.sources.media_redis",
    "sqs": "fleetscale.sources.sqs",
}
PROVIDERS = {
    "simulated": "fleetscale.sim.provider",
    "local": "fleetscale.providers.local",
    "ec2": "fleetscale.providers.ec2",
    "libcloud": "fleetscale.providers.libcloud",
    "heroku": "fleetscale.providers.heroku",
}
DRAINERS = {
    "none": "fleetscale.drainers.none",
    "kamailio": "fleetscale.drainers.kamailio",
    "media_redis": "fleetscale.drainers.media_redis",
}
SINKS = {
    "elasticsearch": "fleetscale.journal.elasticsearch",
}
KINDS = {"source": SOURCES, "provider": PROVIDERS, "drainer": DRAINERS, "sink": SINKS}


@dataclass(frozen=True)
class BuildContext:
    """What an adapter's ``build`` may use besides its own settings."""

    pool: PoolConfig
    clock: Clock
    #: SQLAlchemy URL of the SQL journal (adapters that keep tables beside it use it)
    journal_url: str


def module_for(role: str, kind: str) -> ModuleType:
    table = KINDS[role]
    if kind not in table:
        known = ", ".join(sorted(table))
        raise ConfigError(f"{role}.kind: unknown {role} kind (got {kind!r}; known: {known})")
    return importlib.import_module(table[kind])


def build(role: str, kind: str, settings: Any, ctx: BuildContext) -> Any:
    return module_for(role, kind).build(settings, ctx)
