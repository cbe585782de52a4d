"""The pure decision entry point: snapshot + spec + memory -> verdict.

``decide`` runs every policy, combines their proposals (the safest wins: up beats hold
beats down), then passes the winner through the governor (``governor/govern.py``).
A policy is any spec with ``metrics`` (the metric names it reads) and
``propose(snapshot, ctx, state, label) -> (Proposal, state)``; its state lives in
``Memory.policies[label]`` (label = the policy's ``name``, else its ``kind``, with ``#i``
appended when two share one). It never does I/O and never
reads a clock: time comes from ``snapshot.now``. The controller and the simulator both
call exactly this function (one decision code path).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
    readings: dict[str, Reading] = {m: read_metric(obs, m, now, stale_after) for m in metrics}
    problems = tuple(r.problem for r in readings.values() if r.problem is not None)
    ctx = PolicyContext(now, current, spec.unit_capacity, spec.min, spec.max, readings, pending)

    states = memory.policies
    changed: dict[str, Any] | None = None
    proposals: list[Proposal] = []
    for label, policy in pairs:
        old = states.get(label)
        proposal, new = policy.propose(snapshot, ctx, old, label)
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
    )
    desired = outcome.desired
    if desired > current:
        word = f"up {current} -> {desired}"
    elif desired < current:
        word = f"down {current} -> {desired}"
    else:
        word = f"hold at {current}"
    reason = f"{word}: {combined.reason}"
    if outcome.steps:
        reason = f"{reason}; {'; '.join(outcome.steps)}"
    policies = states if changed is None else MappingProxyType(changed)
    return Verdict(
        Decision(spec.pool, now, current, desired, reason),
        Memory(outcome.memory, policies),
        tuple(proposals),
        outcome.steps,
    )


_READY = InstanceState.READY
_PENDING = InstanceState.PENDING
#: one-entry memo of the last instances tuple counted (the simulator passes the same tuple
#: while the fleet does not change); a value cache only, it never changes an answer
_LAST_COUNT: list[Any] = [None, 0, 0]


def _count(instances: tuple[Instance, ...]) -> tuple[int, int]:
    """Units (ready, pending) of the pool."""
    last = _LAST_COUNT
    if last[0] is instances:
        return last[1], last[2]
    ready = pending = 0
    for inst in instances:
        state = inst.state
        if state is _READY:
            ready += inst.weight
        elif state is _PENDING:
            pending += inst.weight
    _LAST_COUNT[:] = [instances, ready, pending]
    return ready, pending


_CACHE: dict[int, tuple[DecisionSpec, tuple[tuple[str, Any], ...], tuple[str, ...]]] = {}


def policy_labels(policies: tuple[Any, ...]) -> tuple[str, ...]:
    """Each policy's label: its ``name``, else its ``kind`` (``kind#i`` when two share one)."""
    base = [p.name or p.kind for p in policies]
    return tuple(b if base.count(b) == 1 else f"{b}#{i}" for i, b in enumerate(base))


def _compiled(spec: DecisionSpec) -> tuple[tuple[tuple[str, Any], ...], tuple[str, ...]]:
    """Per-spec constants (labels, metrics to read), computed once per spec object."""
    hit = _CACHE.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1], hit[2]
    if len(_CACHE) > 256:
        _CACHE.clear()
    labels = policy_labels(spec.policies)
    metrics: list[str] = []
    for p in spec.policies:
        for m in p.metrics:
            if m not in metrics:
                metrics.append(m)
    pairs = tuple(zip(labels, spec.policies, strict=True))
    _CACHE[id(spec)] = (spec, pairs, tuple(metrics))
    return pairs, tuple(metrics)
