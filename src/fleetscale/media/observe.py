"""Observations from a pool's gateway entries (pure).

Pool-wide: ``<metric>`` (default ``load``) = rooms or participants in use on every registered
gateway (ready and draining: a draining gateway's rooms are still served), plus ``rooms``,
``participants`` (when counted) and ``capacity`` (rooms the ready gateways may hold).
Per gateway (``instance_id`` = its instance id, else its address, else its id): ``sessions``
= its rooms, ``registered`` = 1 when it is ready or draining, 0 while pending.

Any entry that breaks the schema turns the pool-wide readings into errors: the pool holds.
"""

from __future__ import annotations

from datetime import datetime

from fleetscale.media.connection import LoadBasis
from fleetscale.media.keys import DRAINING, READY
from fleetscale.media.registry import PoolView
from fleetscale.model import Observation


def observations(view: PoolView, *, source: str, at: datetime, metric: str, basis: LoadBasis,
                 default_capacity: int) -> list[Observation]:
    out: list[Observation] = []
    for gw in view.gateways:
        out.append(Observation(source, "sessions", float(gw.rooms), at, instance_id=gw.key))
        out.append(Observation(source, "registered", 1.0 if gw.state in (READY, DRAINING) else 0.0, at,
                               instance_id=gw.key))
    if view.problems:
        cause = "; ".join(view.problems[:5]) + (f" (and {len(view.problems) - 5} more)"
                                                if len(view.problems) > 5 else "")
        names = [metric, "rooms", "capacity"] + (["participants"] if basis == "participants" else [])
        error = f"bad media gateway data: {cause}"
        out += [Observation(source, name, None, at, error=error) for name in dict.fromkeys(names)]
        return out
    rooms = sum(gw.rooms for gw in view.gateways)
    participants = sum(gw.participants for gw in view.gateways)
    capacity = sum(gw.capacity_or(default_capacity) for gw in view.gateways if gw.state == READY)
    totals = {"rooms": float(rooms), "capacity": float(capacity)}
    if basis == "participants":
        totals["participants"] = float(participants)
    totals[metric] = float(rooms if basis == "rooms" else participants)
    out += [Observation(source, name, value, at) for name, value in totals.items()]
    return out
