"""The pure decision entry point: snapshot + spec + memory -> verdict.

``decide`` runs every policy, combines their proposals (the safest wins: up beats hold
beats down), then passes the winner through the governor. It never does I/O and never
reads a clock: time comes from ``snapshot.now``. The controller and the simulator both
call exactly this function (one decision code path).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from fleetscale.governor.memory import GovernorMemory
from fleetscale.governor.settings import GovernorSettings
from fleetscale.model import Decision, Direction, Proposal, Snapshot
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
    raise NotImplementedError  # implemented by the core-decision work
