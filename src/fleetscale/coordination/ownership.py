"""Which replica should own which pool (pure: no I/O, no clock).

**Rendezvous hashing** (highest random weight): each pool goes to the live replica with the
highest ``score(replica, pool)``. Every replica computes the same answer from the same live set,
with no coordination; when a replica joins, only the pools it now wins move to it (about
``1/n`` of them); when one leaves, only its own pools move, spread over the others.

**Bounded rebalancing**: ``rebalance`` starts from who holds what now. A pool that nobody
(live) holds goes to its target at once, because availability comes first. A pool that a live
replica holds but whose target is another replica is a *move*. Pools that nobody holds are
counted as moves in flight (a replica released them and their new owner has not taken them
yet), so a round starts at most ``max_moves - free`` new moves (the first ones in pool-name
order) and the rest wait for a later round: however the replicas' rounds interleave, no more
than ``max_moves`` pools are between owners at once (a failover, where many pools are free,
starts no voluntary move). Every replica that sees the same holders and live set computes the
same plan.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


def score(replica: str, pool: str) -> int:
    """The rendezvous weight of ``replica`` for ``pool``: a 64-bit hash of both names."""
    digest = hashlib.blake2b(f"{replica}\x00{pool}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def assign(pools: Iterable[str], replicas: Iterable[str]) -> dict[str, str]:
    """Each pool's target: the replica with the highest score (ties: the greater name).
    No replicas: no assignment."""
    names = sorted(set(replicas))
    if not names:
        return {}
    return {pool: max(names, key=lambda r: (score(r, pool), r)) for pool in pools}


@dataclass(frozen=True, slots=True)
class Plan:
    """One rebalancing round: who should own each pool now."""

    #: every pool -> the replica that should hold it after this round
    owners: Mapping[str, str]
    #: pools taken from a live holder this round, in order
    moves: tuple[str, ...]
    #: pools still away from their target, left for later rounds
    deferred: int
    #: pools nobody holds now (in flight between owners, or never taken)
    free: int = 0


def rebalance(pools: Iterable[str], live: Iterable[str], holders: Mapping[str, str], max_moves: int,
              targets: Mapping[str, str] | None = None) -> Plan:
    """The owner of every pool after one round, moving at most ``max_moves - free`` pools away
    from a live holder. ``holders`` maps pool -> replica holding its lease now (missing: free).
    ``targets`` may pass a precomputed ``assign(pools, live)``."""
    if max_moves < 0:
        raise ValueError(f"max_moves must be >= 0 (got {max_moves})")
    live_set = frozenset(live)
    pool_list = sorted(set(pools))
    target = targets if targets is not None else assign(pool_list, live_set)
    if not live_set:
        return Plan(owners={}, moves=(), deferred=0)
    owners: dict[str, str] = {}
    wanted: list[str] = []
    for pool in pool_list:
        holder = holders.get(pool)
        if holder is not None and holder in live_set and holder != target[pool]:
            wanted.append(pool)
            owners[pool] = holder
        else:
            owners[pool] = target[pool]
    free = sum(1 for pool in pool_list if pool not in holders)
    moves = tuple(wanted[:max(0, max_moves - free)])
    for pool in moves:
        owners[pool] = target[pool]
    return Plan(owners=owners, moves=moves, deferred=len(wanted) - len(moves), free=free)
