"""The pure decision entry point: snapshot + compiled spec + memory -> verdict.

``compile_spec(spec)`` turns a pool's ``DecisionSpec`` into a ``CompiledSpec`` once: each
policy's label and compiled ``Proposer`` (``policy/protocol.py``), the metrics to read, and
the governor's constants. The caller (controller, simulator) keeps it and compiles again only
when the spec changes (an operator's pause or override is a new spec). Nothing is cached in
this module.

``decide`` runs every policy, combines their proposals (the safest wins: up beats hold beats
down), then passes the winner through the governor (``governor/govern.py``). A policy's state
lives in ``Memory.policies[label]``; label = the policy's ``name``, else its ``kind``, with
``#i`` appended when two share one. It never does I/O and never reads a clock: time comes from
``snapshot.now``. The controller and the simulator both call exactly this function (one
decision code path).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from fleetscale.governor.compiled import CompiledGovernor, compile_governor
from fleetscale.governor.govern import Demand, govern
from fleetscale.governor.manual import Override
from fleetscale.governor.memory import GovernorMemory
from fleetscale.governor.settings import GovernorSettings
from fleetscale.model import Decision, Direction, Instance, InstanceState, Proposal, Snapshot
from fleetscale.policy.combine import combine
from fleetscale.policy.context import PolicyContext, Reading, read_metric
from fleetscale.policy.protocol import Policy, Proposer

__all__ = (
    "CompiledSpec",
    "DecisionSpec",
    "Memory",
    "Override",
    "Verdict",
    "compile_spec",
    "decide",
    "policy_labels",
)


@dataclass(frozen=True, slots=True)
class DecisionSpec:
    """The pure part of one pool's configuration."""

    pool: str
    min: int
    max: int
    policies: tuple[Policy, ...]
    governor: GovernorSettings = field(default_factory=GovernorSettings)
    unit_capacity: float = 1.0
    paused: frozenset[Direction] = frozenset()
    override: Override | None = None

    def __post_init__(self) -> None:
        # defence in depth: an infinite capacity per unit would make every load need 0 units
        if not (math.isfinite(self.unit_capacity) and self.unit_capacity > 0):
            raise ValueError(f"unit_capacity must be a finite number > 0 (got {self.unit_capacity})")


@dataclass(frozen=True, slots=True)
class CompiledSpec:
    """A ``DecisionSpec`` with everything derived from it computed once (``compile_spec``)."""

    spec: DecisionSpec
    #: each policy's label (its memory key and the name its proposal carries)
    labels: tuple[str, ...]
    #: each policy compiled for the pool's ``unit_capacity``, in the spec's order
    proposers: tuple[Proposer, ...]
    #: the metrics the policies declare, each once: read once per cycle; their problems
    #: (failed, missing, stale) stop scale-down
    metrics: tuple[str, ...]
    governor: CompiledGovernor


def compile_spec(spec: DecisionSpec) -> CompiledSpec:
    metrics: list[str] = []
    for p in spec.policies:
        for m in p.metrics:
            if m not in metrics:
                metrics.append(m)
    return CompiledSpec(
        spec=spec,
        labels=policy_labels(spec.policies),
        proposers=tuple(p.compile(spec.unit_capacity) for p in spec.policies),
        metrics=tuple(metrics),
        governor=compile_governor(spec.governor, spec.min, spec.max, spec.paused, spec.override),
    )


@dataclass(frozen=True, slots=True)
class Memory:
    """Everything the pure core remembers between cycles, as a value."""

    governor: GovernorMemory = field(default_factory=GovernorMemory)
    policies: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    memory: Memory
    proposals: tuple[Proposal, ...]
    steps: tuple[str, ...]


def decide(snapshot: Snapshot, compiled: CompiledSpec, memory: Memory) -> Verdict:
    """One decision: policies -> combine -> governor. Pure: time is ``snapshot.now``."""
    spec = compiled.spec
    now = snapshot.now
    ready, pending = _count(snapshot.instances)
    current = ready + pending
    stale_after = spec.governor.stale_after
    obs = snapshot.observations
    readings: dict[str, Reading] = {}
    problems: tuple[str, ...] = ()
    for m in compiled.metrics:
        r = readings[m] = read_metric(obs, m, now, stale_after)
        if r.problem is not None:
            problems += (r.problem,)
    ctx = PolicyContext(
        now, current, spec.unit_capacity, spec.min, spec.max, readings, pending, obs, stale_after
    )

    states = memory.policies
    changed: dict[str, object] | None = None
    proposals: list[Proposal] = []
    for label, proposer in zip(compiled.labels, compiled.proposers, strict=True):
        old = states.get(label)
        proposal, new = proposer.propose(snapshot, ctx, old, label)
        proposals.append(proposal)
        if new is not old and new != old:
            if changed is None:
                changed = dict(states)
            changed[label] = new
    combined = combine(proposals)
    demand = Demand(now, current, pending, combined, problems, snapshot.scheduled)
    outcome = govern(demand, compiled.governor, memory.governor)
    desired, governed, steps = outcome.desired, outcome.memory, outcome.steps
    why = f"{combined.reason}; {'; '.join(steps)}" if steps else combined.reason
    if desired > current:
        reason = f"up {current} -> {desired}: {why}"
    elif desired < current:
        reason = f"down {current} -> {desired}: {why}"
    else:
        reason = f"hold at {current}: {why}"
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


_READY = InstanceState.READY
_PENDING = InstanceState.PENDING


def _count(instances: tuple[Instance, ...]) -> tuple[int, int]:
    """Units (ready, pending) of the pool."""
    ready = pending = 0
    for inst in instances:
        if inst.state is _READY:
            ready += inst.weight
        elif inst.state is _PENDING:
            pending += inst.weight
    return ready, pending


def policy_labels(policies: tuple[Policy, ...]) -> tuple[str, ...]:
    """Each policy's label: its ``name``, else its ``kind`` (``kind#i`` when two share one)."""
    base = [p.name or p.kind for p in policies]
    return tuple(b if base.count(b) == 1 else f"{b}#{i}" for i, b in enumerate(base))
