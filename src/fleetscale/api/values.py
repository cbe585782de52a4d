"""What the HTTP API answers: frozen dataclasses (FastAPI derives the OpenAPI schema from them).

Times are ISO 8601 strings in UTC; ``t`` in a series is Unix seconds (what a chart wants).
Counts of instances are instances; ``*_units`` are capacity units (instances x weight).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Hold:
    units: int
    until: str


@dataclass(frozen=True, slots=True)
class OperatorAction:
    """One pause, resume or hold, as journaled: who, when, why."""

    at: str
    who: str
    action: str
    detail: str
    reason: str


@dataclass(frozen=True, slots=True)
class PoolView:
    """A pool at a glance, as of its last journaled cycle."""

    name: str
    #: the time of the last cycle (None: the pool has not cycled yet)
    as_of: str | None
    #: units in service and wanted by the last decision
    current: int | None
    desired: int | None
    #: instances by state, and units ready
    ready: int
    booting: int
    draining: int
    ready_units: int
    #: the last good pool-wide reading of ``load`` (None: no reading)
    load: float | None
    #: units the load needs at the pool's capacity per unit (None: capacity unknown)
    demanded: int | None
    #: up, down or hold; None when the last cycle made no decision
    direction: str | None
    reason: str | None
    #: directions paused by an operator (``up``, ``down``)
    paused: tuple[str, ...]
    held: Hold | None
    #: what went wrong in the last cycle
    errors: tuple[str, ...]
    #: the replica holding the pool and its fencing token (coordination); None when one
    #: controller runs everything, or while no replica holds the pool
    owner: str | None
    owner_token: int | None
    min: int | None
    max: int | None
    unit_capacity: float | None
    interval: float | None
    provider: str | None
    dry_run: bool


@dataclass(frozen=True, slots=True)
class PoolList:
    pools: tuple[PoolView, ...]


@dataclass(frozen=True, slots=True)
class PoolDetail:
    pool: PoolView
    #: the last operator actions, oldest first
    operator_actions: tuple[OperatorAction, ...]


@dataclass(frozen=True, slots=True)
class InstanceView:
    id: str
    type: str
    state: str
    weight: int
    #: live sessions (calls, rooms, jobs) as last read; None when no source or drainer counts them
    sessions: int | None
    launched_at: str | None
    #: seconds since launch, as of the snapshot (``as_of``)
    age_seconds: float | None
    address: str | None


@dataclass(frozen=True, slots=True)
class InstanceList:
    pool: str
    as_of: str | None
    instances: tuple[InstanceView, ...]


@dataclass(frozen=True, slots=True)
class ProposalView:
    policy: str
    desired: int | None
    reason: str
    floor: int | None
    ceiling: int | None


@dataclass(frozen=True, slots=True)
class DecisionView:
    """One journaled cycle: the decision, its reason, each policy's proposal, the governor's steps."""

    #: the journal row id: pass it as ``before`` to page back
    id: int
    cycle_id: str
    started_at: str
    finished_at: str
    dry_run: bool
    current: int | None
    desired: int | None
    direction: str | None
    reason: str | None
    proposals: tuple[ProposalView, ...]
    steps: tuple[str, ...]
    plan: str
    outcome: tuple[str, ...]
    errors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DecisionPage:
    pool: str
    decisions: tuple[DecisionView, ...]
    #: pass as ``before`` for the next (older) page; None at the oldest
    next_before: int | None


@dataclass(frozen=True, slots=True)
class Marker:
    """A decision that changed the pool (up or down), for the chart."""

    t: float
    direction: str
    current: int
    desired: int
    reason: str


@dataclass(frozen=True, slots=True)
class Series:
    """Per cycle, columns of equal length (load in the source's units, the rest in capacity units)."""

    pool: str
    t: tuple[float, ...]
    load: tuple[float | None, ...]
    demanded: tuple[int | None, ...]
    ready: tuple[int, ...]
    provisioned: tuple[int, ...]
    desired: tuple[int | None, ...]
    markers: tuple[Marker, ...]
    #: 1 when every cycle is present; n when every n-th was kept to stay under ``max_points``
    stride: int


@dataclass(frozen=True, slots=True)
class ActionDone:
    """What a write endpoint did, and the pool's operator controls after it."""

    pool: str
    action: OperatorAction
    paused: tuple[str, ...]
    held: Hold | None


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    journal: str
    #: cycles this process has completed (None under ``serve``, which runs none)
    cycles: int | None
    why: str | None
