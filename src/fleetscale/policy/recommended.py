"""fleetscale's recommended default: what a pool gets when it names no policy.

One ``predictive`` policy that learns the pool's own noise online, at 90 % per unit:

- point forecast for the next ``horizon`` seconds (boot delay + interval): the seasonal
  daily/weekly bucket-peak forecast times today's level, never below the current reading;
- learnt headroom: the 99th percentile of the policy's own forecast errors over the lead time
  (highest reading over the ``horizon`` after a forecast, minus that forecast) over its last
  2880 forecasts (two days of 1-minute cycles: every hour of the day twice, ~29 errors above
  the 99th percentile), taken over the errors made at a similar load (a reading within a factor
  2 of the current one, as 4 quarter-octave levels either way, when 100 of them are in the
  window; else over all of them): a quiet
  night learns from quiet hours, a busy hour from busy ones. A smooth seasonal pool learns almost
  no headroom, a bursty one a lot, and the headroom follows when the traffic changes kind. Until 100
  errors are known (a quantile of fewer is just their maximum) the headroom is half a standard
  deviation of the load's recent change over the horizon (the volatility prior);
- desired = ceil((point forecast + headroom) / (0.9 x unit capacity)): the 10 % left per unit
  is the share of the noise that grows with the load (the learnt headroom is additive);
- governor: scale up at once with no step limit (fast up); scale down only to the highest
  desire of the last 5 minutes (slow down: a dip shorter than that keeps its instances, and
  noise does not make the pool flap).

Chosen on the kind of traffic (web, telephony, queues, VM fleets; ``bench/quality.py`` over the
shared traces) with one set of defaults for every trace, never per file; the search and its
reasoning are in ``docs/decisions.md``, the figures in ``bench/results/quality.md``.
"""

from __future__ import annotations

from fleetscale.governor.settings import DirectionRules, GovernorSettings
from fleetscale.policy.predictive import PredictivePolicy
from fleetscale.policy.specs import PolicySpec

UTILISATION = 0.90
#: the learnt headroom: this quantile of the last ERROR_WINDOW forecast errors, once
#: ERROR_MIN are known; until then VOLATILITY standard deviations of the recent change
ERROR_QUANTILE = 0.99
ERROR_WINDOW = 2880
ERROR_MIN = 100
#: ... over the errors made at a reading within this factor of the current one (when ERROR_MIN)
ERROR_BAND = 2.0
VOLATILITY = 0.5
DOWN_WINDOW = 300.0


def recommended_policies(horizon: float = 180.0) -> tuple[PolicySpec, ...]:
    """``horizon``: seconds to provision ahead, the pool's boot delay plus its interval."""
    return (
        PredictivePolicy(name="predictive", utilisation=UTILISATION, horizon=horizon, volatility=VOLATILITY,
                         error_quantile=ERROR_QUANTILE, error_window=ERROR_WINDOW, error_min=ERROR_MIN,
                         error_band=ERROR_BAND),
    )


def recommended_governor() -> GovernorSettings:
    return GovernorSettings(up=DirectionRules(), down=DirectionRules(stabilisation=DOWN_WINDOW))
