"""Reproduction: each recorded cycle run again through the same pure ``cycle.step``.

Each cycle is fed what the controller fed it (the recorded observations, the provider's raw
listing, the sessions of draining instances, the operator controls in force) from the state
it started from, as the journal recorded it. The decision memory is carried forward from one
replayed cycle to the next, exactly as the controller carried it, starting from the memory
recorded on a runner's first cycle (a restart records it again). A cycle is reproduced when
the replayed decision (direction, desired units) and plan equal the recorded ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from fleetscale.cycle import CycleSpec, Inputs, step
from fleetscale.decide import Memory
from fleetscale.journal.cycle_inputs import spec_hash
from fleetscale.journal.record import _plain
from fleetscale.replay.journal import Recorded


@dataclass(frozen=True, slots=True)
class Replayed:
    """One cycle's recorded and replayed decision."""

    cycle_id: str
    at: datetime
    recorded: Mapping[str, Any] | None
    replayed: Mapping[str, Any] | None
    same: bool
    #: why the cycle could not be replayed ("" when it was)
    unreplayable: str = ""


@dataclass(frozen=True, slots=True)
class Reproduction:
    cycles: tuple[Replayed, ...]
    #: cycles whose recorded configuration hash differs from the one replayed
    config_differs: int
    #: replayed without the decision memory the controller had (it was never recorded)
    memory_unknown: bool

    @property
    def total(self) -> int:
        return len(self.cycles)

    @property
    def reproduced(self) -> int:
        return sum(1 for c in self.cycles if c.same)

    def as_dict(self, show: int = 20) -> dict[str, Any]:
        differ = [c for c in self.cycles if not c.same]
        return {
            "decisions_total": self.total,
            "decisions_reproduced": self.reproduced,
            "decisions_reproduced_percent": 100.0 * self.reproduced / self.total if self.total else 100.0,
            "cycles_not_replayable": sum(1 for c in self.cycles if c.unreplayable),
            "config_differs_cycles": self.config_differs,
            "memory_unknown_at_start": self.memory_unknown,
            "first_differences": [
                {"cycle_id": c.cycle_id, "at": c.at.isoformat(), "recorded": c.recorded,
                 "replayed": c.replayed, **({"unreplayable": c.unreplayable} if c.unreplayable else {})}
                for c in differ[:show]
            ],
        }


def decision_of(decision: Mapping[str, Any] | None, plan: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What reproduction compares: direction, desired units and the plan."""
    if decision is None:
        return None
    return {"direction": decision["direction"], "current": decision["current"],
            "desired": decision["desired"], "plan": plan}


def _same(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a["direction"], a["desired"], a["plan"]) == (b["direction"], b["desired"], b["plan"])


def _hash(spec: CycleSpec) -> str:
    return spec_hash(spec.decision, (spec.types, spec.rules, spec.require_registration))


def reproduce(cycles: Sequence[Recorded], spec: CycleSpec | None = None) -> Reproduction:
    """Replay ``cycles`` (in recording order) with ``spec``, or (None) with the configuration
    each cycle ran with, as recorded on its runner's first cycle."""
    own = spec is None
    want_hash = "" if spec is None else _hash(spec)
    memory: Memory | None = None
    unknown = False
    differs = 0
    out: list[Replayed] = []
    for rec in cycles:
        recorded = decision_of(rec.decision, rec.plan)
        ri = rec.inputs
        if ri is None:
            out.append(Replayed(rec.cycle_id, rec.at, recorded, None, False,
                                "the journal kept no inputs for this cycle (recorded before replay support)"))
            memory = None
            continue
        if own and ri.spec is not None:
            spec, want_hash = ri.spec, ri.config_hash
        if spec is None:
            out.append(Replayed(rec.cycle_id, rec.at, recorded, None, False,
                                "no configuration recorded before this cycle (give --config)"))
            continue
        if ri.memory:
            memory = ri.state.memory
        elif memory is None:
            memory, unknown = Memory(), True
        if ri.config_hash and ri.config_hash != want_hash:
            differs += 1
        state = replace(ri.state, memory=memory)
        decision_spec = replace(spec.decision, paused=ri.paused, override=ri.override)
        inputs = Inputs(rec.at, rec.cycle_id, rec.observations, ri.listed, ri.sessions,
                        scheduled=ri.scheduled)
        st = step(state, inputs, replace(spec, decision=decision_spec))
        memory = st.state.memory
        replayed = None
        if st.verdict is not None:
            replayed = decision_of(_plain(st.verdict.decision), _plain(st.plan) if st.plan else None)
        out.append(Replayed(rec.cycle_id, rec.at, recorded, replayed, _same(recorded, replayed)))
    return Reproduction(tuple(out), differs, unknown)
