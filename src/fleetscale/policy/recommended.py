"""fleetscale's recommended default: what a pool gets when it names no policy.

- ``target`` tracking at 88 % of ``unit_capacity`` (reactive: any load gets capacity at once);
- ``predictive`` at 92 %: provisions ``horizon`` seconds ahead (boot delay + interval) for the
  load its daily/weekly history forecasts, plus half a standard deviation of the load's recent
  change over that horizon (noise headroom), never below the current load's need;
- governor: scale up at once with no step limit (fast up); scale down only to the highest
  desire of the last 5 minutes (slow down: a dip shorter than that keeps its instances, and
  noise does not make the pool flap).

Tuned on the kind of traffic (web, telephony, queues; ``bench/quality.py`` over the shared
traces) with one set of defaults for every trace, never per file. Where the cost/risk
trade-off sits (cost vs. oracle against under-provisioned time and unserved load) is in
``bench/results/quality.md`` and ``docs/simulator.md``.
"""

from __future__ import annotations

from fleetscale.governor.settings import DirectionRules, GovernorSettings
from fleetscale.policy.predictive import PredictivePolicy
from fleetscale.policy.specs import PolicySpec
from fleetscale.policy.target import TargetPolicy

UTILISATION = 0.88
FORECAST_UTILISATION = 0.92
VOLATILITY = 0.5
DOWN_WINDOW = 300.0


def recommended_policies(horizon: float = 180.0) -> tuple[PolicySpec, ...]:
    """``horizon``: seconds to provision ahead, the pool's boot delay plus its interval."""
    return (
        TargetPolicy(name="reactive", utilisation=UTILISATION),
        PredictivePolicy(name="predictive", utilisation=FORECAST_UTILISATION, horizon=horizon,
                         volatility=VOLATILITY),
    )


def recommended_governor() -> GovernorSettings:
    return GovernorSettings(up=DirectionRules(), down=DirectionRules(stabilisation=DOWN_WINDOW))
