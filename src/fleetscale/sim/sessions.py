"""Sessions on the simulated fleet: which instance carries which session, and when each ends.

A drained instance of a real session pool (SIP gateways, media servers) stays up, and paid for,
until *its own* last session ends. How long that is depends on how many sessions it carried
when its drain began and on how long sessions last, so the simulated fleet carries sessions:

- ``Holding``: the session-duration settings (mean holding time and its distribution:
  ``exponential``, ``fixed``, or ``lognormal`` with a coefficient of variation). A session in
  progress when it is first seen has the *residual* of a holding time (a length-biased holding
  time times a uniform fraction; for exponential holding that is again exponential).
- ``Sessions``: the world's sessions. ``carry(now, target, in_service)`` moves it to ``now``:
  sessions whose end passed are gone; if fewer than ``target`` remain, new ones start (each
  with a drawn holding time) and are dispatched to the instances in service (``round-robin``
  in instance order, as Kamailio's dispatcher algorithm 4, or to the ``least`` loaded per unit
  of weight); if more remain (the load fell faster), those due first end now. A draining
  instance takes no new session, so its count only falls: its drain ends when its last session
  does.

The target is the load the fleet carried during the step that just ended, never a later one
(``sim.run`` calls ``carry`` at the start of step ``k`` with the load of step ``k - 1``), so the
sessions a simulated cycle sees are the past's. Seeded: the same seed, settings and calls give
the same sessions. Cost: O(log n) per session started or ended.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Distribution = Literal["exponential", "fixed", "lognormal"]
Dispatch = Literal["round-robin", "least"]
DISTRIBUTIONS: tuple[str, ...] = ("exponential", "fixed", "lognormal")
DISPATCH: tuple[str, ...] = ("round-robin", "least")


@dataclass(frozen=True, slots=True)
class Holding:
    """How long sessions last: ``mean`` seconds, ``distribution``, and for ``lognormal`` the
    coefficient of variation ``cv`` (standard deviation / mean)."""

    mean: float
    distribution: Distribution = "exponential"
    cv: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.mean) and self.mean > 0):
            raise ValueError(f"session holding time must be a positive number of seconds (got {self.mean})")
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(f"session distribution must be one of {', '.join(DISTRIBUTIONS)} "
                             f"(got {self.distribution!r})")
        if not (math.isfinite(self.cv) and self.cv > 0):
            raise ValueError(f"session holding time cv must be positive (got {self.cv})")

    def draw(self, rng: random.Random) -> float:
        """The holding time of a session starting now."""
        if self.distribution == "exponential":
            return rng.expovariate(1.0 / self.mean)
        if self.distribution == "fixed":
            return self.mean
        sigma2 = math.log1p(self.cv * self.cv)
        return rng.lognormvariate(math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2))

    def residual(self, rng: random.Random) -> float:
        """The time left of a session found in progress (the length-biased holding time times
        a uniform fraction)."""
        if self.distribution == "exponential":
            return rng.expovariate(1.0 / self.mean)  # memoryless
        u = rng.random()
        if self.distribution == "fixed":
            return u * self.mean
        sigma2 = math.log1p(self.cv * self.cv)
        return u * rng.lognormvariate(math.log(self.mean) + sigma2 / 2, math.sqrt(sigma2))


class Sessions:
    """The sessions each instance carries (times in seconds on one axis, e.g. since the run's
    start). Instances are named by id; ``in_service`` lists ``(id, weight)`` in dispatch order."""

    def __init__(self, holding: Holding, dispatch: Dispatch = "round-robin", seed: int = 0) -> None:
        if dispatch not in DISPATCH:
            raise ValueError(f"session dispatch must be one of {', '.join(DISPATCH)} (got {dispatch!r})")
        self.holding = holding
        self.dispatch = dispatch
        self._rng = random.Random(seed)
        self._ends: list[tuple[float, int, str]] = []  # (end, sequence, instance id), a heap
        self._count: dict[str, int] = {}
        self._seq = 0
        self._next = 0  # round-robin position
        self._started = False
        self.total = 0
        #: sessions that found no instance in service (not carried)
        self.lost = 0

    def count(self, iid: str) -> int:
        return self._count.get(iid, 0)

    def forget(self, iid: str) -> None:
        """The instance is gone: its sessions with it (cut)."""
        n = self._count.pop(iid, 0)
        self.total -= n

    def carry(self, now: float, target: int, in_service: Sequence[tuple[str, int]]) -> None:
        """Move to ``now``: end the sessions due, then start or end sessions so that ``target``
        are live (see the module docstring)."""
        while self._ends and self._ends[0][0] <= now:
            self._end_first()
        surplus = self.total - max(0, target)
        while surplus > 0 and self._ends:
            if self._end_first():
                surplus -= 1
        if surplus < 0:
            self._start(now, -surplus, in_service)
        self._started = True

    def _end_first(self) -> bool:
        """End the session due first; False if it belonged to a forgotten instance."""
        _, _, iid = heapq.heappop(self._ends)
        n = self._count.get(iid)
        if not n:
            return False
        if n == 1:
            del self._count[iid]
        else:
            self._count[iid] = n - 1
        self.total -= 1
        return True

    def _start(self, now: float, n: int, in_service: Sequence[tuple[str, int]]) -> None:
        if not in_service:
            self.lost += n
            return
        # in progress already when the run began: residual holding times
        duration = self.holding.draw if self._started else self.holding.residual
        for iid in self._targets(n, in_service):
            self._seq += 1
            heapq.heappush(self._ends, (now + duration(self._rng), self._seq, iid))
            self._count[iid] = self._count.get(iid, 0) + 1
        self.total += n

    def _targets(self, n: int, in_service: Sequence[tuple[str, int]]) -> list[str]:
        if self.dispatch == "round-robin":
            k = len(in_service)
            start = self._next % k
            self._next = start + n
            return [in_service[(start + j) % k][0] for j in range(n)]
        heap = [(self.count(iid) / max(w, 1), pos, iid, max(w, 1)) for pos, (iid, w) in enumerate(in_service)]
        heapq.heapify(heap)
        out: list[str] = []
        for _ in range(n):
            load, pos, iid, w = heapq.heappop(heap)
            out.append(iid)
            heapq.heappush(heap, (load + 1 / w, pos, iid, w))
        return out
