"""The pure half of a cycle: decide, then plan. The controller and the simulator both call
``think`` (one decision code path) with a spec compiled once (``decide.compile_spec``)."""

from __future__ import annotations

from fleetscale.decide import CompiledSpec, Memory, Verdict, decide
from fleetscale.model import InstanceType, Plan, Snapshot
from fleetscale.planner import plan


def think(
    snapshot: Snapshot,
    compiled: CompiledSpec,
    memory: Memory,
    types: tuple[InstanceType, ...],
    request_id: str,
) -> tuple[Verdict, Plan]:
    verdict = decide(snapshot, compiled, memory)
    return verdict, plan(verdict.decision, snapshot, types, request_id)
