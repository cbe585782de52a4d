"""The fleet as one controller knows it: one immutable, versioned value with one owner.

``FleetState`` holds everything a pool's cycles carry from one to the next: the instances as
the controller sees them (the provider's listing with drains and missing registrations
overlaid), the drains in progress and when each began, the instances this controller
launched or adopted (``known``), boot tracking (when each instance was first seen, which have
registered at least once) and the decision memory. Pending write-ahead intents live beside it
in the same database (``journal/intents.py``): an intent is an action in flight, the state is
what is known once it has landed.

Every change of an instance's state goes through ``model.check_transition``; the functions
below are the only ways to change the value, each returns a new value with ``version + 1``.
The controller's store (``journal/state_store.py``) persists it whole and loads it whole
after a restart. Nothing here does I/O or reads a clock.

Transitions of an instance in the controller's view::

    (first seen) ──▶ pending ──registered / provider ready──▶ ready ◀──cancel──┐
         │                                                    │ begin drain   │
         └──(adopted ready)──────────────────────────────────▶ │ ──────────▶ draining
    any ──provider no longer lists it / terminated──▶ gone (dropped from the value)
    any ──provider reports failed──▶ failed ──terminated──▶ gone
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType

from fleetscale.decide import Memory
from fleetscale.model import ALLOWED_TRANSITIONS, Instance, InstanceState, check_transition

_S = InstanceState
_NO_TIMES: Mapping[str, datetime] = MappingProxyType({})
_NO_KNOWN: Mapping[str, str] = MappingProxyType({})


def _frozen(d: dict[str, datetime]) -> Mapping[str, datetime]:
    return MappingProxyType(d)


def _follow(current: InstanceState, seen: InstanceState) -> InstanceState:
    """The view's next state when the listing shows ``seen``: directly when the state machine
    allows it, through ``ready`` for a booted instance whose drain is recorded (pending ->
    ready -> draining in one listing), else unchanged (the view never goes back, e.g. from
    ready to pending). Every step is checked by ``check_transition``."""
    if seen is current or seen in ALLOWED_TRANSITIONS[current]:
        return check_transition(current, seen)
    if current is _S.PENDING and seen is _S.DRAINING:
        return check_transition(check_transition(current, _S.READY), seen)
    return current


def _calm(instances: tuple[Instance, ...], drains: Mapping[str, datetime], known: Mapping[str, str]) -> bool:
    return not drains and all(i.state is _S.READY and i.id in known for i in instances)


@dataclass(frozen=True, slots=True)
class FleetState:
    """One pool's state between cycles (see the module docstring)."""

    pool: str
    version: int = 0
    #: the instances as this controller sees them, in the provider's listing order
    instances: tuple[Instance, ...] = ()
    #: the provider's listing ``instances`` was built from (a cycle whose listing is the very
    #: same tuple, with nothing else changed, reuses the view instead of rebuilding it)
    listed: tuple[Instance, ...] = ()
    #: draining instance id -> when its drain began
    drains: Mapping[str, datetime] = field(default_factory=lambda: _NO_TIMES)
    #: instance id -> "launched" | "adopted": the instances this controller owns
    known: Mapping[str, str] = field(default_factory=lambda: _NO_KNOWN)
    #: instance id -> when the controller first saw it listed (boot timeouts without launch time)
    first_seen: Mapping[str, datetime] = field(default_factory=lambda: _NO_TIMES)
    #: instances a source has reported registered at least once (never taken back to pending)
    registered: frozenset[str] = frozenset()
    memory: Memory = field(default_factory=Memory)
    #: every instance ready and known, and no drain in progress: nothing for the reconciler.
    #: Derived by the transitions when the instances, drains or known change; False (ask
    #: the reconciler) for a value built any other way.
    calm: bool = field(default=False, compare=False)

    # --- reading ---------------------------------------------------------------------

    def by_id(self) -> dict[str, Instance]:
        return {i.id: i for i in self.instances}

    def draining(self) -> tuple[Instance, ...]:
        return tuple(i for i in self.instances if i.id in self.drains)

    # --- transitions -----------------------------------------------------------------

    def _next(self, *, instances: tuple[Instance, ...] | None = None,
              listed: tuple[Instance, ...] | None = None,
              drains: Mapping[str, datetime] | None = None, known: Mapping[str, str] | None = None,
              first_seen: Mapping[str, datetime] | None = None, registered: frozenset[str] | None = None,
              memory: Memory | None = None) -> FleetState:
        """This value with the given parts replaced and the version one higher."""
        fleet = instances is not None or drains is not None or known is not None
        instances = self.instances if instances is None else instances
        drains = self.drains if drains is None else drains
        known = self.known if known is None else known
        return FleetState(
            self.pool, self.version + 1, instances,
            self.listed if listed is None else listed,
            drains, known,
            self.first_seen if first_seen is None else first_seen,
            self.registered if registered is None else registered,
            self.memory if memory is None else memory,
            _calm(instances, drains, known) if fleet else self.calm,
        )

    def seen(self, listed: tuple[Instance, ...], registered_now: frozenset[str],
             require_registration: bool, now: datetime) -> FleetState:
        """The provider's fresh listing, with drains and registrations overlaid.

        An instance the provider reports ready is ``pending`` in this view until a source has
        reported it registered (when the pool requires registration); once registered it is
        never taken back (the reconciler's boot timeout waits while reads fail). A change
        the state machine forbids (the provider reporting a ready instance as pending again)
        keeps the view's state."""
        prev = self.by_id()
        ids = {i.id for i in listed}
        registered = (self.registered | registered_now) & ids
        out: list[Instance] = []
        for inst in listed:
            old = prev.get(inst.id)
            target = inst.state
            if target is _S.READY:
                if inst.id in self.drains:
                    target = _S.DRAINING
                elif (require_registration and inst.id not in registered
                      and (old is None or old.state is _S.PENDING)):
                    target = _S.PENDING
            if old is not None:
                target = _follow(old.state, target)
            out.append(inst if target is inst.state else replace(inst, state=target))
        first_seen = {i: self.first_seen.get(i, now) for i in ids}
        return self._next(
            instances=tuple(out), listed=listed, registered=frozenset(registered),
            first_seen=_frozen(first_seen),
        )

    def begin_drain(self, iid: str, at: datetime) -> FleetState:
        return self._move(iid, _S.DRAINING, drains={**self.drains, iid: at})

    def drain_recorded(self, iid: str, at: datetime) -> FleetState:
        """A drain begun outside a cycle (replayed after a crash): recorded now, overlaid on
        the instance by the next ``seen`` (the view is rebuilt from the next listing)."""
        return self._next(drains=_frozen({**self.drains, iid: at}), listed=())

    def cancel_drain(self, iid: str) -> FleetState:
        drains = {k: v for k, v in self.drains.items() if k != iid}
        return self._move(iid, _S.READY, drains=drains)

    def launched(self, made: Iterable[Instance], at: datetime) -> FleetState:
        """Instances this controller just launched: known, and in the view as booting (they
        become ready through the next listing, registration included, like any other)."""
        made = tuple(made)
        if not made:
            return self
        have = {i.id for i in self.instances}
        fresh = tuple(i if i.state is _S.PENDING else replace(i, state=_S.PENDING)
                      for i in made if i.id not in have and i.state in (_S.PENDING, _S.READY))
        known = {**self.known, **{i.id: "launched" for i in made}}
        seen = {**self.first_seen, **{i.id: self.first_seen.get(i.id, at) for i in made}}
        return self._next(instances=self.instances + fresh, known=MappingProxyType(known),
                          first_seen=_frozen(seen))

    def adopted(self, ids: Iterable[str]) -> FleetState:
        ids = tuple(ids)
        if not ids:
            return self
        return self._next(known=MappingProxyType({**self.known, **{i: "adopted" for i in ids}}))

    def gone(self, ids: Iterable[str]) -> FleetState:
        """Instances terminated (or no longer listed): dropped from every part of the value."""
        drop = set(ids)
        if not drop:
            return self
        for inst in self.instances:
            if inst.id in drop:
                check_transition(inst.state, _S.GONE)
        return self._next(
            instances=tuple(i for i in self.instances if i.id not in drop),
            listed=tuple(i for i in self.listed if i.id not in drop),
            drains=_frozen({k: v for k, v in self.drains.items() if k not in drop}),
            known=MappingProxyType({k: v for k, v in self.known.items() if k not in drop}),
            first_seen=_frozen({k: v for k, v in self.first_seen.items() if k not in drop}),
            registered=self.registered - drop,
        )

    def forget_drains(self, ids: Iterable[str]) -> FleetState:
        """Drain records dropped (their instance vanished, or its drain was cancelled outside
        a cycle); an instance still in the view goes back to ready, as a cancelled drain."""
        drop = set(ids) & set(self.drains)
        if not drop:
            return self
        out = tuple(replace(i, state=check_transition(i.state, _S.READY))
                    if i.id in drop and i.state is _S.DRAINING else i for i in self.instances)
        kept = {k: v for k, v in self.drains.items() if k not in drop}
        return self._next(instances=out, drains=_frozen(kept))

    def remember(self, memory: Memory) -> FleetState:
        return self if memory is self.memory else self._next(memory=memory)

    def _move(self, iid: str, to: InstanceState, *, drains: dict[str, datetime]) -> FleetState:
        out = tuple(replace(i, state=check_transition(i.state, to))
                    if i.id == iid and i.state is not to else i for i in self.instances)
        return self._next(instances=out, drains=_frozen(drains))
