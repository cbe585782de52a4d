"""Values that cross boundaries: instances, observations, snapshots, decisions, plans.

Everything here is a frozen dataclass or an enum. Nothing here does I/O or reads a clock.

Units: a pool's capacity is counted in *capacity units*. An instance type carries a
``weight`` (units per instance, default 1), so for a homogeneous pool one unit is one
instance. ``min``/``max`` and every desired capacity are in units.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from fleetscale.errors import TransitionError

_EMPTY: Mapping[str, str] = MappingProxyType({})


class InstanceState(enum.StrEnum):
    PENDING = "pending"
    READY = "ready"
    DRAINING = "draining"
    TERMINATING = "terminating"
    GONE = "gone"
    FAILED = "failed"


_S = InstanceState
ALLOWED_TRANSITIONS: Mapping[InstanceState, frozenset[InstanceState]] = MappingProxyType(
    {
        _S.PENDING: frozenset({_S.READY, _S.FAILED, _S.TERMINATING, _S.GONE}),
        _S.READY: frozenset({_S.DRAINING, _S.FAILED, _S.TERMINATING, _S.GONE}),
        _S.DRAINING: frozenset({_S.READY, _S.TERMINATING, _S.FAILED, _S.GONE}),
        _S.TERMINATING: frozenset({_S.GONE, _S.FAILED}),
        _S.FAILED: frozenset({_S.TERMINATING, _S.GONE}),
        _S.GONE: frozenset(),
    }
)


def check_transition(current: InstanceState, new: InstanceState) -> InstanceState:
    """The one owner of instance state changes: return ``new`` or raise TransitionError.

    Staying in the same state is always allowed (a no-op observation).
    ``draining -> ready`` is the cancelled drain.
    """
    if current is new or new in ALLOWED_TRANSITIONS[current]:
        return new
    raise TransitionError(f"instance state cannot go from {current.value} to {new.value}")


#: States that are paid for (provisioned) and count toward capacity while the pool decides.
IN_SERVICE = frozenset({_S.READY})
WARMING = frozenset({_S.PENDING})
PROVISIONED = frozenset({_S.PENDING, _S.READY, _S.DRAINING, _S.TERMINATING})


@dataclass(frozen=True, slots=True)
class Instance:
    id: str
    type: str
    state: InstanceState
    weight: int = 1
    launched_at: datetime | None = None
    address: str | None = None
    tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    def moved_to(self, state: InstanceState) -> Instance:
        from dataclasses import replace

        return replace(self, state=check_transition(self.state, state))


@dataclass(frozen=True, slots=True)
class Observation:
    """One reading from a source. A failed read is an Observation with ``error`` set.

    ``instance_id`` is set for per-instance readings (active calls of one gateway, rooms of
    one media server); ``None`` means a pool-wide value.
    """

    source: str
    metric: str
    value: float | None
    at: datetime
    instance_id: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.value is not None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a decision may see at one instant."""

    pool: str
    now: datetime
    instances: tuple[Instance, ...]
    observations: tuple[Observation, ...] = ()
    #: False for an extra cycle (a source reported a change between scheduled cycles): rules
    #: counted in cycles (hysteresis, the ``cycles`` and ``step`` policies) count and act on
    #: scheduled cycles only, so extra cycles never make a pool move faster
    scheduled: bool = True

    def in_state(self, *states: InstanceState) -> tuple[Instance, ...]:
        return tuple(i for i in self.instances if i.state in states)

    def units(self, *states: InstanceState) -> int:
        return sum(i.weight for i in self.instances if i.state in states)

    @property
    def errors(self) -> tuple[Observation, ...]:
        return tuple(o for o in self.observations if not o.ok)

    def metric(self, name: str) -> Observation | None:
        """The pool-wide reading of ``name`` (the newest if several sources gave one)."""
        found = [o for o in self.observations if o.metric == name and o.instance_id is None]
        return max(found, key=lambda o: o.at) if found else None

    def sessions(self) -> Mapping[str, int]:
        """Active sessions per instance (metric ``sessions``), for victim choice. A garbage
        count (NaN, infinite, negative) is left out: that instance's sessions are unknown,
        which the planner treats as busy."""
        counts: dict[str, int] = {}
        for o in self.observations:
            if o.metric == "sessions" and o.instance_id is not None:
                n = session_count(o)
                if n is not None:
                    counts[o.instance_id] = n
        return counts


def session_count(o: Observation) -> int | None:
    """A readable session count, or None for a failed or garbage (NaN, inf, negative) reading."""
    v = o.value
    if o.error is not None or v is None or not math.isfinite(v) or v < 0:
        return None
    return int(v)


class Direction(enum.StrEnum):
    UP = "up"
    HOLD = "hold"
    DOWN = "down"

    @staticmethod
    def of(current: int, desired: int) -> Direction:
        if desired > current:
            return Direction.UP
        if desired < current:
            return Direction.DOWN
        return Direction.HOLD


@dataclass(frozen=True, slots=True)
class Proposal:
    """What one policy wants: a desired capacity in units, with a reason.

    ``desired`` None means the policy abstains (for example, no data for its metric).
    ``floor``/``ceiling`` are bounds a policy imposes (a schedule window's min and max).
    """

    policy: str
    desired: int | None
    reason: str
    floor: int | None = None
    ceiling: int | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    pool: str
    at: datetime
    current: int
    desired: int
    reason: str

    @property
    def direction(self) -> Direction:
        return Direction.of(self.current, self.desired)


@dataclass(frozen=True, slots=True)
class Launch:
    type: str
    count: int


@dataclass(frozen=True, slots=True)
class Plan:
    """Concrete actions for one cycle. ``request_id`` makes a retried plan idempotent."""

    pool: str
    request_id: str
    launch: tuple[Launch, ...] = ()
    cancel_drain: tuple[str, ...] = ()
    begin_drain: tuple[str, ...] = ()
    terminate: tuple[str, ...] = ()
    reason: str = ""

    @property
    def empty(self) -> bool:
        return not (self.launch or self.cancel_drain or self.begin_drain or self.terminate)


@dataclass(frozen=True, slots=True)
class InstanceType:
    """A launchable type: ``weight`` capacity units per instance, ``price`` per hour."""

    name: str
    weight: int = 1
    price: float = 1.0
