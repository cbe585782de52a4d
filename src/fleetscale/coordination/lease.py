"""Lease values and the port every lease backend implements.

A lease gives one replica the right to act on one pool until it expires. Its ``token`` (the
SQL row's epoch, or the etcd key's mod_revision) increases strictly on every change of holder
and stays the same while the holder renews in time, so a store can refuse a write that carries
an older token (``fence.py``).

``expires_monotonic`` is a deadline on *this process's* monotonic clock: the monotonic time read
just before the request that took or renewed the lease, plus the TTL. The backend computes the
real expiry with its own clock (the database's ``NOW``, etcd's lease timer) when it handles the
request, which is later, so the local deadline is never after the real one; the safety margin
in ``fence.may_act`` absorbs clock-rate differences and the time a write takes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Lease:
    """``holder`` owns ``pool`` with fencing ``token`` until ``expires_monotonic`` (local clock)."""

    pool: str
    holder: str
    token: int
    expires_monotonic: float


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a pool's lease now, as the backend sees it."""

    replica: str
    token: int


class LeaseBackend(Protocol):
    """Leases with fencing tokens, plus replica membership, in one shared service.

    Every method may raise ``CoordinationError`` when the service cannot be reached; a replica
    that cannot renew simply lets its local deadlines pass (``fence.may_act`` turns false).
    """

    def acquire_or_renew(self, pool: str, replica: str, ttl: float) -> Lease | None:
        """Take ``pool`` if it is free or its lease expired (new, higher token), renew it if
        ``replica`` holds it (same token), else ``None``. One atomic operation."""
        ...

    def acquire_many(self, pools: Sequence[str], replica: str, ttl: float) -> Mapping[str, Lease]:
        """``acquire_or_renew`` for many pools in few round trips (a takeover of a dead
        replica's share); returns the pools taken or renewed."""
        ...

    def renew_all(self, replica: str, ttl: float) -> Mapping[str, Lease]:
        """Renew every unexpired lease ``replica`` holds, in one round trip; returns them.
        Tokens are unchanged; a lease that expired is not renewed (take it again)."""
        ...

    def release(self, pool: str, replica: str, token: int) -> None:
        """Give ``pool`` up at once if ``replica`` still holds it with ``token``. The next
        holder gets a higher token."""
        ...

    def release_many(self, tokens: Mapping[str, int], replica: str) -> None:
        """``release`` for each pool in ``tokens`` (pool -> token), in as few round trips as the
        backend allows (a clean stop gives up every pool)."""
        ...

    def holders(self) -> Mapping[str, Holder]:
        """Every pool with an unexpired lease, and its holder."""
        ...

    def check(self, pool: str, token: int) -> bool:
        """True if ``token`` is the current, unexpired token of ``pool``."""
        ...

    def register_replica(self, replica: str, ttl: float) -> None:
        """Membership heartbeat: ``replica`` is alive for ``ttl`` more seconds."""
        ...

    def deregister_replica(self, replica: str) -> None:
        """``replica`` is leaving (clean stop): drop it from the live set at once."""
        ...

    def live_replicas(self) -> frozenset[str]:
        """Replicas whose membership heartbeat has not expired."""
        ...

    def close(self) -> None:
        """Release connections (not leases)."""
        ...
