"""The pure decision entry point: snapshot + spec + memory -> verdict.

``decide`` runs every policy, combines their proposals (the safest wins: up beats hold
beats down), then passes the winner through the governor (``governor/govern.py``).
A policy is any spec with ``kind``, ``name``, ``metrics`` (the metric names it reads; their
failures and staleness stop scale-down) and ``propose(snapshot, ctx, state) -> (Proposal,
state)`` (or ``propose(snapshot, ctx, state, label)``, which names the proposal itself). Its
state lives in ``Memory.policies[label]``; label = the policy's ``name``, else its ``kind``,
with ``#i`` appended when two share one. It never does I/O and never
reads a clock: time comes from ``snapshot.now``. The controller and the simulator both
call exactly this function (one decision code path).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from fleetscale.governor.govern import govern
from fleetscale.governor.memory import GovernorMemory
from fleetscale.governor.settings import GovernorSettings
from fleetscale.model import Decision, Direction, Instance, InstanceState, Proposal, Snapshot
from fleetscale.policy.combine import combine
from fleetscale.policy.context import PolicyContext, Reading, read_metric
from fleetscale.policy.specs import PolicySpec


@dataclass(frozen=True, slots=True)
class Override:
    """Operator's manual override: hold the pool at ``hold`` units until ``until``."""

    hold: int
    until: datetime


@dataclass(frozen=True, slots=True)
class DecisionSpec:
    """The pure part of one pool's configuration."""

    pool: str
    min: int
    max: int
    policies: tuple[PolicySpec, ...]
    governor: GovernorSettings = field(default_factory=GovernorSettings)
    unit_capacity: float = 1.0
    paused: frozenset[Direction] = frozenset()
    override: Override | None = None

    def __post_init__(self) -> None:
        # defence in depth: an infinite capacity per unit would make every load need 0 units
        if not (math.isfinite(self.unit_capacity) and self.unit_capacity > 0):
            raise ValueError(f"unit_capacity must be a finite number > 0 (got {self.unit_capacity})")


@dataclass(frozen=True, slots=True)
class Memory:
    """Everything the pure core remembers between cycles, as a value."""

    governor: GovernorMemory = field(default_factory=GovernorMemory)
    policies: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    memory: Memory
    proposals: tuple[Proposal, ...]
    steps: tuple[str, ...]


def decide(snapshot: Snapshot, spec: DecisionSpec, memory: Memory) -> Verdict:
    """One decision: policies -> combine -> governor. Pure: time is ``snapshot.now``."""
    pairs, metrics = _compiled(spec)
    now = snapshot.now
    ready, pending = _count(snapshot.instances)
    current = ready + pending
    stale_after = spec.governor.stale_after
    obs = snapshot.observations
    readings: dict[str, Reading] = {}
    problems: tuple[str, ...] = ()
    for m in metrics:
        r = readings[m] = read_metric(obs, m, now, stale_after)
        if r.problem is not None:
            problems += (r.problem,)
    ctx = _tuple_new(PolicyContext, (
        now, current, spec.unit_capacity, spec.min, spec.max, readings, pending, obs, stale_after
    ))

    states = memory.policies
    changed: dict[str, Any] | None = None
    proposals: list[Proposal] = []
    for label, policy, named in pairs:
        old = states.get(label)
        if named:
            proposal, new = policy.propose(snapshot, ctx, old, label)
        else:
            proposal, new = policy.propose(snapshot, ctx, old)
            if proposal.policy != label:
                proposal = replace(proposal, policy=label)
        proposals.append(proposal)
        if new is not old and new != old:
            if changed is None:
                changed = dict(states)
            changed[label] = new
    combined = combine(proposals)
    override = spec.override
    outcome = govern(
        now,
        current,
        pending,
        combined,
        spec.min,
        spec.max,
        spec.governor,
        memory.governor,
        problems,
        spec.paused,
        override.hold if override is not None else None,
        override.until if override is not None else None,
        snapshot.scheduled,
    )
    desired, _, governed, steps = outcome
    if desired > current:
        word = f"up {current} -> {desired}"
    elif desired < current:
        word = f"down {current} -> {desired}"
    else:
        word = f"hold at {current}"
    reason = f"{word}: {combined.reason}; {'; '.join(steps)}" if steps else f"{word}: {combined.reason}"
    if changed is None and governed is memory.governor:
        new_memory = memory
    else:
        new_memory = Memory(governed, states if changed is None else MappingProxyType(changed))
    return Verdict(
        Decision(spec.pool, now, current, desired, reason),
        new_memory,
        tuple(proposals),
        steps,
    )


#: ``NamedTuple(*fields)`` without the generated ``__new__`` frame (the same value)
_tuple_new = tuple.__new__
_READY = InstanceState.READY
_PENDING = InstanceState.PENDING
#: one-entry memo of the last instances tuple counted (the simulator passes the same tuple
#: while the fleet does not change). A value cache only: it never changes an answer, holds a
#: strong reference (so the id cannot be reused) and is replaced as one tuple (thread-safe).
_LAST_COUNT: list[tuple[Any, int, int]] = [((), 0, 0)]


def _count(instances: tuple[Instance, ...]) -> tuple[int, int]:
    """Units (ready, pending) of the pool."""
    last = _LAST_COUNT[0]
    if last[0] is instances:
        return last[1], last[2]
    ready = pending = 0
    for inst in instances:
        state = inst.state
        if state is _READY:
            ready += inst.weight
        elif state is _PENDING:
            pending += inst.weight
    _LAST_COUNT[0] = (instances, ready, pending)
    return ready, pending


_Pairs = tuple[tuple[str, Any, bool], ...]
_CACHE: dict[int, tuple[DecisionSpec, _Pairs, tuple[str, ...]]] = {}


def policy_labels(policies: tuple[Any, ...]) -> tuple[str, ...]:
    """Each policy's label: its ``name``, else its ``kind`` (``kind#i`` when two share one)."""
    base = [getattr(p, "name", None) or p.kind for p in policies]
    return tuple(b if base.count(b) == 1 else f"{b}#{i}" for i, b in enumerate(base))


def _takes_label(policy: Any) -> bool:
    try:
        params = inspect.signature(policy.propose).parameters
    except (TypeError, ValueError):
        return False
    return len(params) >= 4 or "label" in params


def _compiled(spec: DecisionSpec) -> tuple[_Pairs, tuple[str, ...]]:
    """Per-spec constants (labels, metrics to read), computed once per spec object."""
    hit = _CACHE.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1], hit[2]
    if len(_CACHE) > 256:
        _CACHE.clear()
    labels = policy_labels(spec.policies)
    metrics: list[str] = []
    for p in spec.policies:
        for m in getattr(p, "metrics", ()):
            if m not in metrics:
                metrics.append(m)
    pairs = tuple((label, p, _takes_label(p)) for label, p in zip(labels, spec.policies, strict=True))
    _CACHE[id(spec)] = (spec, pairs, tuple(metrics))
    return pairs, tuple(metrics)
