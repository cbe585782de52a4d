"""A replica's side of coordination: the small I/O loop around a ``LeaseBackend``.

Every ``tick`` (every ``renew_every`` seconds from the start of the previous one, a third of
the TTL by default):

1. heartbeat membership (``register_replica``);
2. renew every lease this replica holds in one round trip (``renew_all``); a lease that did
   not come back was lost (expired, or taken after an expiry) and is dropped at once;
3. read the live replicas; unless this replica holds exactly its rendezvous share already
   (the steady state: then the round ends here), read the current holders and compute the
   plan (``ownership.rebalance``: rendezvous targets, at most ``max_moves`` moves per round);
4. take the free pools the plan gives this replica; release the ones it gives to another.

Each round's changes are reported to ``on_changes`` (for the journal), all at once. When the
heartbeat, the renewal or the listing fails, ``tick`` raises ``CoordinationError``; the leases
then simply are not renewed, and ``may_act`` turns false when their local deadlines pass. A
failure to take or release one pool is logged and does not stop the round.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
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
                 on_changes: Callable[[Sequence[OwnershipChange]], None] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if not 0 <= safety_margin < ttl:
            raise ValueError(f"safety_margin must be in [0, ttl) (got {safety_margin}, ttl {ttl})")
        self.backend = backend
        self.pools = tuple(sorted(set(pools)))
        self.replica = replica
        self.ttl = ttl
        self.safety_margin = safety_margin
        self.max_moves = max_moves
        self._on_changes = on_changes
        self._monotonic = monotonic
        # replaced whole, never mutated: readers in other threads see one consistent snapshot
        self._owned: Mapping[str, Lease] = {}
        self._targets: tuple[frozenset[str], dict[str, str]] = (frozenset(), {})
        #: how many pools the targets give this replica
        self._share = 0
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
        changes.append(OwnershipChange(lease.pool, self.replica, kind, lease.token, reason))

    def _publish(self, changes: list[OwnershipChange]) -> None:
        """A round's changes, all at once: one log line per kind of change, one call of
        ``on_changes`` (one journal transaction, not one per pool: a round that takes 5,000
        pools must not take longer than the renewal period)."""
        if not changes:
            return
        for kind in ChangeKind:
            pools = [c.pool for c in changes if c.kind is kind]
            if pools:
                log.info("ownership", replica=self.replica, change=kind.value, pools=len(pools),
                         first=pools[:10], reason=next(c.reason for c in changes if c.kind is kind))
        if self._on_changes is not None:
            try:
                self._on_changes(changes)
            except FleetscaleError as exc:  # a journal outage must not stop the leases
                log.warning("ownership changes not journaled", changes=len(changes), error=str(exc))

    def _targets_for(self, live: frozenset[str]) -> dict[str, str]:
        if self._targets[0] != live or not self._targets[1]:
            self._targets = (live, ownership.assign(self.pools, live))
            self._share = sum(1 for r in self._targets[1].values() if r == self.replica)
        return self._targets[1]

    def tick(self) -> list[OwnershipChange]:
        """One round: heartbeat, renew, plan, take and give up. Returns the changes (also given
        to ``on_changes``, once, at the end of the round)."""
        changes: list[OwnershipChange] = []
        try:
            self._round(changes)
        finally:
            self._publish(changes)
        return changes

    def _round(self, changes: list[OwnershipChange]) -> None:
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
        targets = self._targets_for(live)
        if len(owned) == self._share and all(targets.get(p) == self.replica for p in owned):
            # steady: this replica holds its whole share and nothing else; nothing to take or
            # give, so no need to read every holder (10,000 rows) and plan
            return
        holders = {p: h.replica for p, h in self.backend.holders().items()}
        plan = ownership.rebalance(self.pools, live, holders, self.max_moves, targets)
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
        self._publish(changes)
        try:
            self.backend.deregister_replica(self.replica)
        except CoordinationError as exc:
            log.warning("leave failed; membership will expire", error=str(exc))
        return changes

    def run(self, stop: threading.Event, renew_every: float | None = None,
            gate: Callable[[float], AbstractContextManager[object]] | None = None) -> None:
        """Tick every ``renew_every`` seconds (default ttl / 3) until ``stop`` is set, then
        ``stop()``. A failed tick is logged; the next one tries again. Run it in its own thread.

        ``gate(limit)``, when given, is entered around each round (at most ``limit`` seconds:
        the time left before the leases' local deadlines minus the margin): the controller
        passes its scheduler's ``paused``, so no new cycle starts during a round and the
        renewal does not wait for the interpreter behind every busy cycle thread."""
        every = renew_every if renew_every is not None else self.ttl / 3
        while True:
            started = self._monotonic()
            try:
                if gate is None:
                    self.tick()
                else:
                    with gate(max(0.0, self.ttl - self.safety_margin - every)):
                        self.tick()
            except CoordinationError as exc:
                log.warning("coordination tick failed", replica=self.replica, error=str(exc))
            except Exception:  # keep heartbeating: a dead loop would silently idle every pool
                log.exception("coordination tick crashed", replica=self.replica)
            # every ``every`` seconds from the start of the last round, not from its end: a slow
            # round (a busy process, thousands of pools taken) must not stretch the renewals
            if stop.wait(max(0.0, started + every - self._monotonic())):
                break
        self.stop()
