"""What a replay needs to run a recorded cycle again through ``cycle.step``.

``CycleRecord.inputs`` (a JSON-able dict, written by ``encode_inputs``) keeps what the record
alone lacks: whether the cycle was scheduled or an extra one (``reaction.py``), the provider's
raw listing (the record's ``instances`` is the view with drains
and registrations overlaid), the sessions of draining instances, the operator controls in
force, a hash of the pool's configuration, and the state the cycle started from (its fleet
part, without the version counter, which moves every cycle; the decision memory only on a
runner's first cycle, after which a replay
carries it forward through ``step`` exactly as the controller did). A runner's first cycle also
keeps the pool's settings (its ``CycleSpec`` and interval), so a replay with the pool's own
configuration needs nothing but the journal. Values are encoded with
``journal.state_codec`` (typed, so a decode gives back equal values).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from fleetscale.decide import DecisionSpec, Memory, Override
from fleetscale.journal.state_codec import decode, encode
from fleetscale.model import Direction, Instance
from fleetscale.state import FleetState

FORMAT = 1


def spec_hash(decision: DecisionSpec, extra: object = ()) -> str:
    """A short hash of a pool's decision settings without the operator's runtime controls."""
    base = replace(decision, paused=frozenset(), override=None)
    return hashlib.sha256(repr((base, extra)).encode()).hexdigest()[:16]


def encode_inputs(before: FleetState, listed: tuple[Instance, ...] | None, sessions: Mapping[str, int | None],
                  decision: DecisionSpec, config_hash: str, with_memory: bool,
                  setup: tuple[Any, float] | None = None, scheduled: bool = True,
                  view: tuple[Instance, ...] | None = None) -> dict[str, Any]:
    """``setup``: the pool's ``(CycleSpec, interval)``, kept on a runner's first cycle; ``view``:
    the record's instances (a listing equal to them is written as ``"view"``, not again)."""
    # the version is left out (0): it moves every cycle, and a run of identical hold cycles must
    # stay one journal row (``journal/spans.py``); a replay needs the fleet, not the counter
    state = replace(before, version=0, listed=(), memory=before.memory if with_memory else Memory())
    out = {
        "format": FORMAT,
        "version": 0,
        "state": encode(state),
        "memory": with_memory,
        "listed": None if listed is None else "view" if listed == view else encode(listed),
        "sessions": encode(dict(sessions)),
        "paused": sorted(d.value for d in decision.paused),
        "override": encode(decision.override),
        "config_hash": config_hash,
        "scheduled": scheduled,
    }
    if setup is not None:
        out["spec"] = encode(setup[0])
        out["interval"] = setup[1]
    return out


@dataclass(frozen=True, slots=True)
class RecordedInputs:
    """``CycleRecord.inputs`` decoded."""

    version: int
    #: the state the cycle started from (its memory only when ``memory`` is True)
    state: FleetState
    memory: bool
    listed: tuple[Instance, ...] | None
    sessions: Mapping[str, int | None]
    paused: frozenset[Direction]
    override: Override | None
    config_hash: str
    #: the pool's ``CycleSpec`` and interval (a runner's first cycle only)
    spec: Any = None
    interval: float | None = None
    #: False for an extra cycle (``reaction.py``): rules counted in cycles skip it
    scheduled: bool = True


def decode_inputs(doc: Mapping[str, Any], view: tuple[Instance, ...] = ()) -> RecordedInputs:
    """``view``: the record's instances (what a listing written as ``"view"`` was)."""
    if doc.get("format") != FORMAT:
        raise ValueError(f"unknown recorded inputs format (expected {FORMAT}, got {doc.get('format')!r})")
    state = decode(doc["state"])
    if not isinstance(state, FleetState):
        raise ValueError("recorded inputs: not a fleet state")
    raw = doc["listed"]
    listed = None if raw is None else view if raw == "view" else tuple(decode(raw))
    override = decode(doc["override"])
    return RecordedInputs(
        version=int(doc["version"]), state=state, memory=bool(doc["memory"]), listed=listed,
        sessions=dict(decode(doc["sessions"])), paused=frozenset(Direction(p) for p in doc["paused"]),
        override=override if isinstance(override, Override) else None,
        config_hash=str(doc.get("config_hash", "")),
        spec=decode(doc["spec"]) if "spec" in doc else None,
        interval=float(doc["interval"]) if "interval" in doc else None,
        scheduled=bool(doc.get("scheduled", True)),
    )
