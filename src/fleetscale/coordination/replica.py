"""A replica's side of coordination: the small I/O loop around a ``LeaseBackend``.

Every ``tick`` (every ``renew_every`` seconds, a third of the TTL by default):

1. heartbeat membership (``register_replica``);
2. renew every lease this replica holds in one round trip (``renew_all``); a lease that did
   not come back was lost (expired, or taken after an expiry) and is dropped at once;
3. read the live replicas and the current holders, and compute the plan
   (``ownership.rebalance``: rendezvous targets, at most ``max_moves`` moves per round);
4. take the free pools the plan gives this replica; release the ones it gives to another.

Each change is reported to ``on_change`` (for the journal) as an ``OwnershipChange``. When the
heartbeat, the renewal or the listing fails, ``tick`` raises ``CoordinationError``; the leases
then simply are not renewed, and ``may_act`` turns false when their local deadlines pass. A
failure to take or release one pool is logged and does not stop the round.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import structlog

from fleetscale.coordination import fence, ownership
from fleetscale.coordination.lease import Lease, LeaseBackend
from fleetscale.errors import CoordinationError, FleetscaleError

log = structlog.get_logger(__name__)


class ChangeKind(enum.Enum):
    ACQUIRED = "acquired"   # this replica took the pool (a new, higher token)
    RELEASED = "released"   # this replica gave the pool up on purpose (rebalance, stop)
    LOST = "lost"           # the lease was not renewed in time (expired or taken over)


@dataclass(frozen=True, slots=True)
class OwnershipChange:
    pool: str
    replica: str
    kind: ChangeKind
    token: int
    reason: str


class Coordinator:
    """Owns a share of ``pools`` for ``replica`` through ``backend``'s leases."""

    def __init__(self, backend: LeaseBackend, pools: Iterable[str], *, replica: str, ttl: float,
                 safety_margin: float, max_moves: int,
                 on_change: Callable[[OwnershipChange], None] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if not 0 <= safety_margin < ttl:
            raise ValueError(f"safety_margin must be in [0, ttl) (got {safety_margin}, ttl {ttl})")
        self.backend = backend
        self.pools = tuple(sorted(set(pools)))
        self.replica = replica
        self.ttl = ttl
        self.safety_margin = safety_margin
        self.max_moves = max_moves
        self._on_change = on_change
        self._monotonic = monotonic
        # replaced whole, never mutated: readers in other threads see one consistent snapshot
        self._owned: Mapping[str, Lease] = {}
        self._targets: tuple[frozenset[str], dict[str, str]] = (frozenset(), {})
        self.last_plan: ownership.Plan | None = None

    # --- what the controller reads ----------------------------------------------------

    def owned(self) -> dict[str, Lease]:
        """The pools this replica holds, with their leases (as of the last tick)."""
        return dict(self._owned)

    def lease(self, pool: str) -> Lease | None:
        return self._owned.get(pool)

    def may_act(self, pool: str, now_monotonic: float) -> bool:
        """True while this replica may act on ``pool``: it holds the lease and its local deadline
        minus the safety margin has not passed. Read ``time.monotonic()`` just before acting."""
        return fence.may_act(self._owned.get(pool), now_monotonic, self.safety_margin)

    # --- the loop ---------------------------------------------------------------------

    def _emit(self, changes: list[OwnershipChange], lease: Lease, kind: ChangeKind, reason: str) -> None:
        change = OwnershipChange(lease.pool, self.replica, kind, lease.token, reason)
        changes.append(change)
        log.info("ownership", pool=lease.pool, replica=self.replica, change=kind.value,
                 token=lease.token, reason=reason)
        if self._on_change is not None:
            try:
                self._on_change(change)
            except FleetscaleError as exc:  # a journal outage must not stop the leases
                log.warning("ownership change not journaled", pool=lease.pool, error=str(exc))

    def _targets_for(self, live: frozenset[str]) -> dict[str, str]:
        if self._targets[0] != live or not self._targets[1]:
            self._targets = (live, ownership.assign(self.pools, live))
        return self._targets[1]

    def tick(self) -> list[OwnershipChange]:
        """One round: heartbeat, renew, plan, take and give up. Returns the changes."""
        changes: list[OwnershipChange] = []
        before = self._owned
        self.backend.register_replica(self.replica, self.ttl)
        renewed = dict(self.backend.renew_all(self.replica, self.ttl))
        for pool, old in before.items():
            now = renewed.get(pool)
            if now is None or now.token != old.token:
                self._emit(changes, old, ChangeKind.LOST, "lease not renewed in time (expired or taken over)")
        owned = {p: lease for p, lease in renewed.items() if p in before and before[p].token == lease.token}
        self._owned = dict(owned)
        stray = {p: lease.token for p, lease in renewed.items() if p not in owned}
        if stray:  # held but not known here (a restart under the same name)
            try:
                self.backend.release_many(stray, self.replica)
            except CoordinationError as exc:
                log.warning("release failed", pools=len(stray), error=str(exc))

        live = self.backend.live_replicas() | {self.replica}
        holders = {p: h.replica for p, h in self.backend.holders().items()}
        plan = ownership.rebalance(self.pools, live, holders, self.max_moves, self._targets_for(live))
        self.last_plan = plan
        give = {p: owned.pop(p) for p, owner in plan.owners.items() if owner != self.replica and p in owned}
        if give:  # stop acting first, then give up
            self._owned = dict(owned)
        if give:
            try:
                self.backend.release_many({p: lease.token for p, lease in give.items()}, self.replica)
            except CoordinationError as exc:  # no longer acting on them; the leases will expire
                log.warning("release failed", pools=len(give), error=str(exc))
        for pool, lease in give.items():
            self._emit(changes, lease, ChangeKind.RELEASED,
                       f"rebalance: {plan.owners[pool]} is its owner now")
        wanted = [p for p, owner in plan.owners.items()
                  if owner == self.replica and p not in owned and p not in holders]
        taken: list[Lease] = []
        if wanted:
            try:
                taken = list(self.backend.acquire_many(wanted, self.replica, self.ttl).values())
            except CoordinationError as exc:  # e.g. a row locked by a paused writer: next round
                log.warning("take failed", pools=len(wanted), error=str(exc))
            owned.update((lease.pool, lease) for lease in taken)
        self._owned = dict(owned)
        for lease in taken:
            self._emit(changes, lease, ChangeKind.ACQUIRED,
                       f"rendezvous owner among {len(live)} live replicas")
        return changes

    def stop(self) -> list[OwnershipChange]:
        """Clean stop: release every pool and leave the live set, so the others take over at once
        instead of after the TTL."""
        changes: list[OwnershipChange] = []
        owned, self._owned = self._owned, {}
        try:  # one round trip per few hundred pools, not one per pool
            self.backend.release_many({p: lease.token for p, lease in owned.items()}, self.replica)
        except CoordinationError as exc:
            log.warning("release failed; the leases will expire", pools=len(owned), error=str(exc))
        else:
            for lease in owned.values():
                self._emit(changes, lease, ChangeKind.RELEASED, "replica stopping")
        try:
            self.backend.deregister_replica(self.replica)
        except CoordinationError as exc:
            log.warning("leave failed; membership will expire", error=str(exc))
        return changes

    def run(self, stop: threading.Event, renew_every: float | None = None) -> None:
        """Tick every ``renew_every`` seconds (default ttl / 3) until ``stop`` is set, then
        ``stop()``. A failed tick is logged; the next one tries again. Run it in its own thread."""
        every = renew_every if renew_every is not None else self.ttl / 3
        while True:
            try:
                self.tick()
            except CoordinationError as exc:
                log.warning("coordination tick failed", replica=self.replica, error=str(exc))
            except Exception:  # keep heartbeating: a dead loop would silently idle every pool
                log.exception("coordination tick crashed", replica=self.replica)
            if stop.wait(every):
                break
        self.stop()
