"""Named policies for the simulator: comparison baselines expressed as policy + governor
settings of fleetscale's own engine (like for like), plus ``recommended`` and ``oracle``.

Each baseline takes the pool's ``unit_capacity`` from the pool; what it changes is the policy
set, the governor and (for HPA and KEDA) the decision period. Sources of each setting:

- ``hpa``: Kubernetes HPA v2 defaults (kubernetes.io, "Horizontal Pod Autoscaling",
  "Default Behavior"): sync period 15 s, tolerance 0.1, scale up at most max(4 pods, 100 %)
  per 15 s with no stabilisation, scale down at most 100 % per 15 s after a 300 s
  stabilisation window (the highest desire in the window wins); target utilisation 0.7.
  HPA's ``ceil(current * avg / target)`` with ``avg = load / current`` is
  ``ceil(load / target)``: the ``target`` policy in ``total`` mode with tolerance 0.1.
- ``keda``: a ScaledObject with an AverageValue target (0.7 x capacity per pod), polling
  every 30 s; KEDA then hands the metric to the HPA, so the same HPA behaviour applies at a
  30 s period.
- ``aws-target-tracking``: EC2 Auto Scaling target tracking, target 0.7: the scale-out
  alarm needs 3 of 3 one-minute datapoints above the target, the scale-in alarm 15 of 15
  below (AWS docs, "Target tracking scaling policies"): up hysteresis 3, down hysteresis 15
  at a 60 s period.
- ``nomad-target-value``: Nomad Autoscaler ``target-value`` strategy (threshold 0.01: act
  when the usage ratio leaves 1 +/- 0.01) and the policy's default cooldown of 5 min after
  an action (here per direction), target 0.7, evaluated every interval.
- ``dynoscaler``: the seed's counters (``cycles`` policy on the load per instance, threshold
  0.7 x capacity, 1 cycle up, 5 down): one instance per action.
- ``gateway-scaler``: the seed's ``auto_scale_threshold`` rule as a ``schedule`` policy
  (the seed README's example map: 00:00 unlockedMin 2 / loadMax 0.7, 08:00 unlockedMin 10 /
  loadMax 0.75), acting at once in both directions.
- ``static-peak``: a ``fixed`` policy at the trace's peak demand, in service from the start.
- ``recommended``: ``fleetscale.policy.recommended`` (what a pool gets when it names none).
- ``oracle``: not a policy; ``sim.oracle`` computes its schedule from the demand.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from fleetscale.decide import DecisionSpec
from fleetscale.governor.settings import DirectionRules, GovernorSettings
from fleetscale.policy.cycles import CyclesPolicy
from fleetscale.policy.fixed import FixedPolicy
from fleetscale.policy.recommended import recommended_governor, recommended_policies
from fleetscale.policy.schedule import SchedulePolicy, Threshold
from fleetscale.policy.specs import PolicySpec
from fleetscale.policy.target import TargetPolicy

NAMES = ("oracle", "static-peak", "hpa", "keda", "aws-target-tracking", "nomad-target-value",
         "dynoscaler", "gateway-scaler", "recommended")
TARGET = 0.7


@dataclass(frozen=True, slots=True)
class Named:
    """A named policy set: what replaces the pool's policies, governor and period."""

    name: str
    policies: tuple[PolicySpec, ...]
    governor: GovernorSettings
    #: decision period in seconds (None: the pool's interval)
    interval: float | None = None
    #: units in service at the start (None: the first step's demand)
    initial: int | None = None

    def spec(self, base: DecisionSpec) -> DecisionSpec:
        return replace(base, policies=self.policies, governor=self.governor)


def _hpa_governor(period: float) -> GovernorSettings:
    return GovernorSettings(
        up=DirectionRules(max_step_count=4, max_step_percent=100.0, step_period=15.0),
        down=DirectionRules(stabilisation=300.0, max_step_percent=100.0, step_period=15.0),
        stale_after=max(300.0, 3 * period),
    )


def named(name: str, *, unit_capacity: float = 1.0, peak_units: int = 1, horizon: float = 180.0,
          pool_interval: float = 60.0) -> Named:
    """The named policy ``name`` for a pool whose unit carries ``unit_capacity``.

    ``peak_units`` is static-peak's size; ``horizon`` the boot delay + interval the recommended
    set provisions ahead for."""
    stale = max(300.0, 3 * pool_interval)
    if name == "hpa":
        return Named(name, (TargetPolicy(name="hpa", utilisation=TARGET, tolerance=0.1),),
                     _hpa_governor(15.0), interval=15.0)
    if name == "keda":
        return Named(name, (TargetPolicy(name="keda", utilisation=TARGET, tolerance=0.1),),
                     _hpa_governor(30.0), interval=30.0)
    if name == "aws-target-tracking":
        return Named(name, (TargetPolicy(name="aws-target-tracking", utilisation=TARGET),),
                     GovernorSettings(up=DirectionRules(hysteresis=3), down=DirectionRules(hysteresis=15),
                                      stale_after=stale), interval=60.0)
    if name == "nomad-target-value":
        return Named(name, (TargetPolicy(name="nomad-target-value", utilisation=TARGET, tolerance=0.01),),
                     GovernorSettings(up=DirectionRules(cooldown=300.0), down=DirectionRules(cooldown=300.0),
                                      stale_after=stale))
    if name == "dynoscaler":
        return Named(name, (CyclesPolicy(name="dynoscaler", metric="load", threshold=TARGET * unit_capacity,
                                         up_cycles=1, down_cycles=5),),
                     GovernorSettings(down=DirectionRules(), stale_after=stale))
    if name == "gateway-scaler":
        seed_map = {"00:00:00": Threshold(unlockedMin=2, loadMax=0.7),
                    "08:00:00": Threshold(unlockedMin=10, loadMax=0.75)}
        return Named(name, (SchedulePolicy(name="gateway-scaler", auto_scale_threshold=seed_map),),
                     GovernorSettings(down=DirectionRules(), stale_after=stale))
    if name == "static-peak":
        return Named(name, (FixedPolicy(name="static-peak", units=peak_units),),
                     GovernorSettings(down=DirectionRules(), stale_after=stale), initial=peak_units)
    if name == "recommended":
        return Named(name, recommended_policies(horizon=horizon), recommended_governor())
    if name == "oracle":
        raise ValueError("the oracle is not a policy: use fleetscale.sim.oracle")
    raise ValueError(f"unknown policy name (got {name!r}; known: {', '.join(NAMES)})")
