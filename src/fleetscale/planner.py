"""The planner (pure): turns a decision into concrete actions."""

from __future__ import annotations

from fleetscale.model import Decision, InstanceType, Plan, Snapshot


def plan(decision: Decision, snapshot: Snapshot, types: tuple[InstanceType, ...], request_id: str) -> Plan:
    raise NotImplementedError  # implemented by the core-decision work
