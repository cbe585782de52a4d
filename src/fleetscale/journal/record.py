"""One cycle of one pool, as recorded by every journal sink."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fleetscale.model import Decision, Instance, Observation, Plan, Proposal


@dataclass(frozen=True, slots=True)
class CycleRecord:
    pool: str
    #: the plan's request id; unique per pool and cycle
    cycle_id: str
    started_at: datetime
    finished_at: datetime
    dry_run: bool
    observations: tuple[Observation, ...]
    instances: tuple[Instance, ...]
    proposals: tuple[Proposal, ...]
    #: the governor's steps, readable ("hysteresis: down 2/3, hold")
    steps: tuple[str, ...]
    decision: Decision | None
    plan: Plan | None
    #: what acting did ("launched 2 x c5.large: i-1, i-2", "drain begun on i-3")
    outcome: tuple[str, ...] = ()
    #: what went wrong (source errors, provider errors, a failing pool)
    errors: tuple[str, ...] = ()
    #: what a replay needs beyond the above (``journal/cycle_inputs.py``): the raw listing,
    #: sessions, operator controls, configuration hash and the state the cycle started from
    inputs: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (datetimes as ISO 8601 strings, enums as their values)."""
        out: dict[str, Any] = _plain(self)
        return out


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, Decision):
            out["direction"] = value.direction.value
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list | frozenset | set):
        return [_plain(v) for v in value]
    return value
