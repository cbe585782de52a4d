"""fleetscale's recommended default: what a pool gets when it names no policy.

- ``target`` tracking at 75 % of ``unit_capacity`` (reactive: any load gets capacity at once);
- ``predictive`` at the same utilisation, provisioning ``horizon`` seconds ahead (boot delay +
  interval) from the pool's own daily/weekly history, never below the reactive need;
- governor: scale up at once, no step limit; scale down only to the highest desire of the
  last 15 minutes (a stabilisation window: a dip shorter than that keeps its instances, which
  costs less than relaunching and waiting for boot again), at most 10 % (or 1 unit) per minute.

Tuned on the kind of traffic (web, telephony, queue) in ``bench/quality.py`` with the same
defaults for every trace; ``bench/results/quality.md`` holds the figures.
"""

from __future__ import annotations

from fleetscale.governor.settings import DirectionRules, GovernorSettings
from fleetscale.policy.predictive import PredictivePolicy
from fleetscale.policy.specs import PolicySpec
from fleetscale.policy.target import TargetPolicy

UTILISATION = 0.75
DOWN_WINDOW = 900.0


def recommended_policies(horizon: float = 180.0) -> tuple[PolicySpec, ...]:
    return (
        TargetPolicy(name="reactive", utilisation=UTILISATION),
        PredictivePolicy(name="predictive", utilisation=UTILISATION, horizon=horizon),
    )


def recommended_governor() -> GovernorSettings:
    return GovernorSettings(
        up=DirectionRules(),
        down=DirectionRules(stabilisation=DOWN_WINDOW, max_step_count=1, max_step_percent=10.0,
                            step_period=60.0),
    )
