"""Reconciliation of a pool's gateway entries against the provider's instances (pure).

``plan_reconcile`` compares what Redis says (``Gateway`` entries) with what the provider
lists (``Instance``) and returns the repairs; ``MediaRegistry.reconcile`` applies them.
Every repair moves toward safety: entries of instances that are draining are drained, never
un-drained; entries of instances that are gone are removed (the allocator must not place rooms
on a dead gateway); an entry no instance matches is removed only after ``unknown_grace``
seconds (a self-registered gateway may appear in Redis before the provider lists it), or at
once if it is draining with no room left (its instance was terminated after its drain).

An entry matches an instance when its ``instance_id`` or its id is the instance's id, or its
``address`` or its id is the instance's address.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from fleetscale.media.gateway import Gateway
from fleetscale.media.keys import DRAINING, PENDING, READY
from fleetscale.model import Instance, InstanceState

_DEAD = frozenset({InstanceState.GONE, InstanceState.FAILED, InstanceState.TERMINATING})


@dataclass(frozen=True, slots=True)
class ReconcileOptions:
    #: register READY/DRAINING instances that have no entry (False: gateways self-register)
    register: bool = True
    #: what to do with an entry no instance matches, after the grace period
    unknown: Literal["remove", "keep"] = "remove"
    unknown_grace: float = 120.0
    #: rooms per capacity unit, for the ``capacity`` of entries fleetscale registers
    rooms_per_unit: int = 1


@dataclass(frozen=True, slots=True)
class Registration:
    gateway_id: str
    instance_id: str
    address: str | None
    capacity: int
    state: str


@dataclass(frozen=True, slots=True)
class Removal:
    gateway_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ReconcileActions:
    register: tuple[Registration, ...] = ()
    #: entries to link to their instance: (gateway id, instance id, instance address)
    adopt: tuple[tuple[str, str, str | None], ...] = ()
    drain: tuple[str, ...] = ()
    remove: tuple[Removal, ...] = ()
    mark_unknown: tuple[str, ...] = ()
    clear_unknown: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.register or self.adopt or self.drain or self.remove
                    or self.mark_unknown or self.clear_unknown)


def _match(gw: Gateway, by_id: dict[str, Instance], by_address: dict[str, Instance]) -> Instance | None:
    tries = ((gw.instance_id, by_id), (gw.id, by_id), (gw.address, by_address), (gw.id, by_address))
    for key, table in tries:
        if key and key in table:
            return table[key]
    return None


def plan_reconcile(instances: Sequence[Instance], gateways: Sequence[Gateway], now: float,
                   options: ReconcileOptions) -> ReconcileActions:
    by_id = {i.id: i for i in instances}
    by_address = {i.address: i for i in instances if i.address}
    register: list[Registration] = []
    adopt: list[tuple[str, str, str | None]] = []
    drain: list[str] = []
    remove: list[Removal] = []
    mark: list[str] = []
    clear: list[str] = []
    claimed: dict[str, str] = {}  # instance id -> gateway id
    # entries that name the instance exactly come first, then the busier ones
    ordered = sorted(gateways, key=lambda g: (g.instance_id is None and g.id not in by_id, -g.rooms, g.id))
    for gw in ordered:
        inst = _match(gw, by_id, by_address)
        if inst is None:
            if gw.state == DRAINING and gw.rooms == 0:
                remove.append(Removal(gw.id, "no instance matches it and it is drained"))
            elif options.unknown == "remove" and now - (gw.unknown_since or now) >= options.unknown_grace:
                since = now - (gw.unknown_since or now)
                remove.append(Removal(gw.id, f"no instance has matched it for {since:.0f} s"))
            elif gw.unknown_since is None:
                mark.append(gw.id)
            continue
        if inst.id in claimed:
            if gw.rooms == 0:
                remove.append(Removal(gw.id, f"duplicate entry of {inst.id} (kept {claimed[inst.id]})"))
            continue
        claimed[inst.id] = gw.id
        if inst.state in _DEAD:
            remove.append(Removal(gw.id, f"instance {inst.id} is {inst.state.value}"))
            continue
        if inst.state is InstanceState.DRAINING and gw.state in (READY, PENDING):
            drain.append(gw.id)
        if gw.instance_id != inst.id or (inst.address is not None and gw.address != inst.address):
            adopt.append((gw.id, inst.id, inst.address))
        if gw.unknown_since is not None:
            clear.append(gw.id)
    if options.register:
        for inst in instances:
            if inst.id in claimed or inst.state not in (InstanceState.READY, InstanceState.DRAINING):
                continue
            state = READY if inst.state is InstanceState.READY else DRAINING
            register.append(Registration(inst.id, inst.id, inst.address,
                                         options.rooms_per_unit * inst.weight, state))
    return ReconcileActions(tuple(register), tuple(adopt), tuple(drain), tuple(remove),
                            tuple(mark), tuple(clear))


def describe(actions: ReconcileActions) -> tuple[str, ...]:
    """One readable line per repair, for the journal's outcome."""
    lines = [f"media: registered gateway {r.gateway_id} ({r.state}, {r.capacity} rooms)"
             for r in actions.register]
    lines += [f"media: adopted gateway {g} as instance {i}" for g, i, _ in actions.adopt]
    lines += [f"media: drained gateway {g} (its instance is draining)" for g in actions.drain]
    lines += [f"media: removed gateway {r.gateway_id}: {r.reason}" for r in actions.remove]
    lines += [f"media: gateway {g} matches no instance (watching)" for g in actions.mark_unknown]
    return tuple(lines)
