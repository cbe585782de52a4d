"""From the validated ``coordination:`` section to a running replica's parts."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from fleetscale.config import CoordinationConfig
from fleetscale.coordination.fence import Fence, TokenFence
from fleetscale.coordination.lease import LeaseBackend
from fleetscale.coordination.replica import Coordinator, OwnershipChange
from fleetscale.coordination.sql import SqlLeases


def default_replica() -> str:
    """``HOSTNAME-PID``: unique per process, readable in the journal."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class Coordination:
    """What the controller needs: the loop, its period, and the store-side fence."""

    coordinator: Coordinator
    backend: LeaseBackend
    #: call ``fence.guard(conn, pool, token)`` in every state write / intent transaction
    fence: Fence
    renew_every: float


def build(config: CoordinationConfig, journal_url: str, pools: Iterable[str],
          on_changes: Callable[[Sequence[OwnershipChange]], None] | None = None) -> Coordination:
    """Open the backend named by ``config``. The state store is the journal's database; its
    fence keeps a token high-water mark beside the state (``TokenFence``), whatever the
    backend. (``LeaseRowFence``, which locks the lease row itself in every guarded write, is not
    used: at thousands of pools those row locks held the bulk renewal back, leases lapsed and
    pools were dropped and taken again, ``bench/results/scale.md``.)"""
    backend: LeaseBackend
    fence: Fence
    if config.backend == "sql":
        backend = SqlLeases.from_url(config.url or journal_url)
        fence = TokenFence()
    else:
        from fleetscale.coordination.etcd import EtcdLeases

        backend = EtcdLeases(config.endpoints, prefix=config.prefix, timeout=max(0.5, config.every / 2))
        fence = TokenFence()
    coordinator = Coordinator(backend, pools, replica=config.replica or default_replica(), ttl=config.ttl,
                              safety_margin=config.margin, max_moves=config.max_moves, on_changes=on_changes)
    return Coordination(coordinator, backend, fence, config.every)
