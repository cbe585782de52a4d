"""The union of every policy specification, discriminated by ``kind``."""

from __future__ import annotations

from fleetscale.policy.backlog import BacklogPolicy
from fleetscale.policy.cycles import CyclesPolicy
from fleetscale.policy.fixed import FixedPolicy
from fleetscale.policy.predictive import PredictivePolicy
from fleetscale.policy.schedule import SchedulePolicy
from fleetscale.policy.step import StepPolicy
from fleetscale.policy.target import TargetPolicy

PolicySpec = (
    TargetPolicy | SchedulePolicy | StepPolicy | FixedPolicy | CyclesPolicy | BacklogPolicy | PredictivePolicy
)
