"""The oracle: the cheapest schedule that is never under-provisioned, from perfect foresight.

Computed directly from the demand series (no policy, no governor). Instances are
interchangeable, so the demand curve is cut into *slots*: slot ``j`` (1-based) is busy in
every interval where ``d_k >= j``. Each slot is served on its own:

- a busy run of slot ``j`` that starts at interval ``s > 0`` needs an instance launched
  ``b = ceil(boot_delay / dt)`` intervals earlier (it is paid for, pending, from ``s - b``);
  runs busy from the first interval are ready at the start (every policy starts with the
  first interval's demand in service);
- between two busy runs of a slot, a gap of ``g`` intervals is bridged (the instance is kept)
  when ``g <= b + r``, with ``r = ceil(drain_time / dt)``: releasing it would save ``g`` paid
  intervals but cost ``r`` draining and ``b`` booting ones again; otherwise the instance is
  released at the end of the run (paid ``r`` more intervals while it drains) and a new one is
  launched ``b`` intervals before the next run.

Per slot this is optimal (each gap's choice is independent and the cheaper one is taken), and
because slots are nested (busy(j+1) is within busy(j)) the per-slot schedules stack into a
pool schedule whose paid capacity is their sum. It is never under-provisioned: every busy
interval of every slot has an instance in service.

With a pool maximum ``top`` it is the *feasible* oracle: a pool never holds more than ``top``
instances, so the slots above ``top`` are not served (no causal policy could serve them
either) and the schedule is the one above for the demand capped at ``top``. It is then
under-provisioned exactly where the demand exceeds ``top``, and nowhere else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class OracleSchedule:
    ready: IntArray
    provisioned: IntArray
    #: launches (instance starts after the first interval) and releases
    launches: int
    releases: int


def _runs(busy: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Half-open [start, end) runs of True."""
    padded = np.concatenate(([False], busy, [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True))


def oracle_schedule(
    demand: IntArray, dt: float, boot_delay: float, drain_time: float = 0.0, top: int | None = None
) -> OracleSchedule:
    d = np.asarray(demand, dtype=np.int64)
    if top is not None:
        d = np.minimum(d, top)
    n = len(d)
    b = math.ceil(boot_delay / dt - 1e-9) if boot_delay > 0 else 0
    r = math.ceil(drain_time / dt - 1e-9) if drain_time > 0 else 0
    ready = np.zeros(n + 1, dtype=np.int64)  # difference arrays
    paid = np.zeros(n + 1, dtype=np.int64)
    launches = releases = 0
    top = int(d.max()) if n else 0
    for j in range(1, top + 1):
        runs = _runs(d >= j)
        merged: list[list[int]] = []
        for start, end in runs:
            if merged and start - merged[-1][1] <= b + r:
                merged[-1][1] = end
            else:
                merged.append([start, end])
        for start, end in merged:
            ready[start] += 1
            ready[end] -= 1
            first = max(0, start - b)
            if start > 0:
                launches += 1
            last = end + r if end < n else n
            last = min(last, n)
            if end < n:
                releases += 1
            paid[first] += 1
            paid[last] -= 1
    return OracleSchedule(
        ready=np.cumsum(ready[:n]),
        provisioned=np.cumsum(paid[:n]),
        launches=launches,
        releases=releases,
    )
