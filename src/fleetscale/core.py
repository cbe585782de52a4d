"""The pure half of a cycle: decide, then plan. The controller and the simulator both call
``think`` (one decision code path)."""

from __future__ import annotations

from fleetscale.decide import DecisionSpec, Memory, Verdict, decide
from fleetscale.model import InstanceType, Plan, Snapshot
from fleetscale.planner import plan


def think(
    snapshot: Snapshot,
    spec: DecisionSpec,
    memory: Memory,
    types: tuple[InstanceType, ...],
    request_id: str,
) -> tuple[Verdict, Plan]:
    verdict = decide(snapshot, spec, memory)
    return verdict, plan(verdict.decision, snapshot, types, request_id)
