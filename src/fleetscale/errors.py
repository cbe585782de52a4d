"""The one exception tree.

::

    FleetscaleError
    ├── ConfigError          bad configuration; carries one line per problem
    ├── TransitionError      an instance state change that is not allowed
    ├── PlanError            the planner cannot build a plan (e.g. no instance type configured)
    ├── SourceError          a source could not read (wrapped driver error)
    ├── ProviderError        a provider could not list / launch / terminate
    │   └── CapacityError    the cloud has no capacity for a type (try the next one)
    ├── DrainError           a drainer could not begin / cancel / check a drain
    ├── JournalError         a journal sink could not record
    ├── TraceError           a malformed load trace (names the line)
    ├── CoordinationError    a lease backend (SQL lease table, etcd) could not be reached
    └── FencingError         a write carried a fencing token that is no longer current

Adapters wrap driver errors with ``raise XError(...) from exc``.
"""

from __future__ import annotations


class FleetscaleError(Exception):
    """Base of every error fleetscale raises on purpose."""


class ConfigError(FleetscaleError):
    """Invalid configuration. ``problems`` holds lines ``path.to.field: message (got VALUE)``."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class TransitionError(FleetscaleError):
    pass


class PlanError(FleetscaleError):
    pass


class SourceError(FleetscaleError):
    pass


class ProviderError(FleetscaleError):
    pass


class CapacityError(ProviderError):
    pass


class DrainError(FleetscaleError):
    pass


class JournalError(FleetscaleError):
    pass


class TraceError(FleetscaleError):
    pass


class CoordinationError(FleetscaleError):
    """A lease backend could not take, renew, release or list leases (wrapped driver error)."""


class FencingError(FleetscaleError):
    """A write carried a lease token that is no longer current: another replica owns the pool
    (or the lease expired). The write was refused in the same transaction; nothing changed."""
