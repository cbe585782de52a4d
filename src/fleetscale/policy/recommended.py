"""fleetscale's recommended default policy (what a pool gets when it names none)."""

from __future__ import annotations

from fleetscale.policy.specs import PolicySpec
from fleetscale.policy.target import TargetPolicy


def recommended_policies() -> tuple[PolicySpec, ...]:
    return (TargetPolicy(name="recommended"),)
