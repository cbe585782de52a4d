"""Scores of one simulated run against the demand implied by its trace (pure, numpy).

A run is a *timeline*: one row per decision interval ``k`` of length ``dt_k`` seconds with the
load ``L_k``, the demanded units ``d_k = max(min, ceil(L_k / capacity))``, the units in service
(``ready``, ``s_k``) and the units paid for (``provisioned``: pending + ready + draining).

The supply the SPEC metrics compare with the demand is ``ready``: only an instance in
service serves load (a booting one does not, a draining one takes no new work).

SPEC Research Group elasticity metrics (Herbst et al., "Ready for Rain? A View from SPEC
Research on the Future of Cloud Metrics", SPEC-RG-2016-01, sec. 3; the BUNGEE framework),
with ``T = sum dt_k``, all in percent:

- ``theta_under = 100/T * sum(max(d_k - s_k, 0) / d_k * dt_k)``   (under-provisioning accuracy)
- ``theta_over  = 100/T * sum(max(s_k - d_k, 0) / d_k * dt_k)``   (over-provisioning accuracy)
- ``tau_under   = 100/T * sum([d_k > s_k] * dt_k)``                (under-provisioning timeshare)
- ``tau_over    = 100/T * sum([s_k > d_k] * dt_k)``                (over-provisioning timeshare)
- ``instability = 100/(T - dt_0) * sum_{k>=1}(min(|sgn(s_k - s_{k-1}) - sgn(d_k - d_{k-1})|, 1) * dt_k)``
  (share of time the supply and demand curves do not move the same way)
- ``jitter = (E_S - E_D) / T`` in adaptations per hour, ``E_S``/``E_D`` the number of
  changes of the supply/demand curves (negative: supply smoother than demand).

Zero demand (``d_k = 0``, possible only with ``min = 0`` and zero load): nothing can be under-
provisioned, and the relative over-provisioning uses the denominator ``max(d_k, 1)`` (one
instance, the smallest unit demand comes in), so idle instances at zero demand still count.

Beyond SPEC: ``unserved_fraction = sum(max(L_k - s_k * capacity, 0) * dt_k) / sum(L_k * dt_k)``,
``instance_hours = sum(provisioned_k * dt_k) / 3600``, ``demand_instance_hours =
sum(d_k * dt_k) / 3600``, ``cost_ratio = instance_hours / demand_instance_hours`` and
``scale_actions`` (the number of intervals in which the provisioned or ready count changed
because the controller acted, counted by the harness).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
#: unit counts per step (integers; floats are accepted too)
Counts = npt.NDArray[np.int64] | npt.NDArray[np.float64]


def demanded(load: Array, capacity: float, minimum: int) -> npt.NDArray[np.int64]:
    """``max(min, ceil(load / capacity))`` per interval (float noise forgiven)."""
    need = np.ceil(np.asarray(load, dtype=np.float64) / capacity - 1e-9)
    return np.maximum(need, minimum).astype(np.int64)


@dataclass(frozen=True, slots=True)
class Scores:
    theta_under: float
    theta_over: float
    tau_under: float
    tau_over: float
    jitter: float
    instability: float
    unserved_fraction: float
    instance_hours: float
    demand_instance_hours: float
    cost_ratio: float
    scale_actions: int
    cost: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def score(
    load: Array,
    demand: Counts,
    ready: Counts,
    provisioned: Counts,
    dt: Array | float,
    capacity: float,
    *,
    scale_actions: int = 0,
    price: float = 1.0,
) -> Scores:
    """Score one timeline. ``dt`` is the length of each interval in seconds (or one number)."""
    load = np.asarray(load, dtype=np.float64)
    d = np.asarray(demand, dtype=np.float64)
    s = np.asarray(ready, dtype=np.float64)
    p = np.asarray(provisioned, dtype=np.float64)
    n = len(d)
    if not (len(load) == len(s) == len(p) == n) or n == 0:
        raise ValueError(f"timeline columns must have one equal, non-zero length (got {len(load)}, {n}, "
                         f"{len(s)}, {len(p)})")
    w = np.broadcast_to(np.asarray(dt, dtype=np.float64), (n,))
    total = float(w.sum())
    denom = np.maximum(d, 1.0)
    under = np.maximum(d - s, 0.0)
    over = np.maximum(s - d, 0.0)
    theta_u = 100.0 * float((under / denom * w).sum()) / total
    theta_o = 100.0 * float((over / denom * w).sum()) / total
    tau_u = 100.0 * float(((d > s) * w).sum()) / total
    tau_o = 100.0 * float(((s > d) * w).sum()) / total
    if n > 1:
        ds = np.sign(np.diff(s))
        dd = np.sign(np.diff(d))
        apart = np.minimum(np.abs(ds - dd), 1.0)
        rest = total - float(w[0])
        instability = 100.0 * float((apart * w[1:]).sum()) / rest if rest > 0 else 0.0
        changes = int(np.count_nonzero(ds)) - int(np.count_nonzero(dd))
    else:
        instability, changes = 0.0, 0
    jitter = changes / (total / 3600.0)
    served = np.minimum(load, s * capacity)
    load_total = float((load * w).sum())
    unserved = float(((load - served) * w).sum()) / load_total if load_total > 0 else 0.0
    ih = float((p * w).sum()) / 3600.0
    dih = float((d * w).sum()) / 3600.0
    return Scores(
        theta_under=theta_u,
        theta_over=theta_o,
        tau_under=tau_u,
        tau_over=tau_o,
        jitter=jitter,
        instability=instability,
        unserved_fraction=unserved,
        instance_hours=ih,
        demand_instance_hours=dih,
        cost_ratio=ih / dih if dih > 0 else math.inf,
        scale_actions=scale_actions,
        cost=ih * price,
    )


def geometric_mean(values: list[float], floor: float = 1e-9) -> float:
    """Geometric mean; zeros are lifted to ``floor`` so one perfect score does not zero the mean."""
    if not values:
        return math.nan
    logs = [math.log(max(v, floor)) for v in values]
    return math.exp(sum(logs) / len(logs))


def summary(rows: Mapping[str, Mapping[str, float]], key: str) -> float:
    return geometric_mean([float(r[key]) for r in rows.values()])
