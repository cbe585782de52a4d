"""The simulated fleet the harness acts on: boot delay, drain time, prices, seeded failures.

Lean on purpose (the benchmark runs millions of steps): instances live in a dict and an
``Instance`` value is only rebuilt when its state changes; ``instances()`` is cached between
changes. Semantics (the same as ``sim.provider``'s, the simulated Provider of ``run``):

- ``launch`` at ``t`` creates ``pending`` instances that are ``ready`` from the first step at
  or after ``t + boot_delay``; with ``boot_failure_rate`` an instance never boots and is
  removed ``boot_timeout`` seconds after launch (paid for until then);
- ``begin_drain`` moves a ready instance to ``draining`` (no new work); ``finish_drains``
  (called after each step's plan, as the controller's reconciler runs after acting)
  terminates it at the first *later* step at which ``drain_time`` has passed, so a drain
  costs at least one interval even with ``drain_time`` 0 and can still be cancelled by the
  next decision; ``cancel_drain`` puts it back in service;
- ``terminate`` removes an instance at once;
- every instance is paid for from launch to removal (``price`` per hour of its type).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from fleetscale.model import Instance, InstanceState, InstanceType, Plan, check_transition

_P, _R, _D = InstanceState.PENDING, InstanceState.READY, InstanceState.DRAINING


def _moved(inst: Instance, state: InstanceState) -> Instance:
    """``inst.moved_to(state)`` without ``dataclasses.replace`` (the same value, the same
    transition check; several times faster, and the simulator moves instances often)."""
    return Instance(inst.id, inst.type, check_transition(inst.state, state), inst.weight,
                    inst.launched_at, inst.address, inst.tags)


class World:
    def __init__(
        self,
        types: tuple[InstanceType, ...],
        *,
        boot_delay: float,
        drain_time: float = 0.0,
        boot_failure_rate: float = 0.0,
        boot_timeout: float = 600.0,
        seed: int = 0,
    ) -> None:
        self.types = {t.name: t for t in types}
        self.boot_delay = boot_delay
        self.drain_time = drain_time
        self.boot_failure_rate = boot_failure_rate
        self.boot_timeout = boot_timeout
        self._rng = random.Random(seed)
        self._live: dict[str, Instance] = {}
        #: seconds (sim time) at which a pending instance becomes ready
        self._due: dict[str, float] = {}
        #: draining instance -> (step time its drain began, time its drain is over)
        self._drains: dict[str, tuple[float, float]] = {}
        self._fails: set[str] = set()
        self._seq = 0
        self._cache: tuple[Instance, ...] | None = None
        self.ready_units = 0
        self.paid_units = 0
        self.paid_price = 0.0
        self.launched = 0
        self.failed = 0

    # --- reading ------------------------------------------------------------------------

    def instances(self) -> tuple[Instance, ...]:
        if self._cache is None:
            self._cache = tuple(self._live.values())
        return self._cache

    # --- time ---------------------------------------------------------------------------

    def advance(self, t: float) -> None:
        """Apply every boot completion due at or before ``t`` seconds."""
        if not self._due:
            return
        for iid, due in list(self._due.items()):
            if due > t + 1e-9:
                continue
            del self._due[iid]
            inst = self._live[iid]
            if inst.state is _P:
                if iid in self._fails:
                    self._fails.discard(iid)
                    self.failed += 1
                    self._remove(iid)
                else:
                    self._set(iid, _moved(inst, _R))

    def finish_drains(self, t: float) -> None:
        """Terminate drains begun before this step whose ``drain_time`` has passed."""
        if not self._drains:
            return
        for iid, (began, over) in list(self._drains.items()):
            if began < t - 1e-9 and over <= t + 1e-9:
                del self._drains[iid]
                self._remove(iid)

    # --- acting -------------------------------------------------------------------------

    def apply(self, plan: Plan, t: float, at: datetime) -> None:
        for iid in plan.cancel_drain:
            inst = self._live.get(iid)
            if inst is not None and inst.state is _D:
                self._drains.pop(iid, None)
                self._set(iid, _moved(inst, _R))
        for launch in plan.launch:
            for _ in range(launch.count):
                self._launch(launch.type, t, at)
        for iid in plan.begin_drain:
            inst = self._live.get(iid)
            if inst is not None and inst.state is _R:
                self._set(iid, _moved(inst, _D))
                self._drains[iid] = (t, t + self.drain_time)
        for iid in plan.terminate:
            if iid in self._live:
                self._due.pop(iid, None)
                self._drains.pop(iid, None)
                self._remove(iid)
        self.advance(t)

    def seed_ready(self, type_name: str, count: int, at: datetime) -> None:
        """Instances in service before the run starts."""
        for _ in range(count):
            self._launch(type_name, 0.0, at - timedelta(seconds=self.boot_delay), ready=True)

    # --- internals ----------------------------------------------------------------------

    def _launch(self, type_name: str, t: float, at: datetime, ready: bool = False) -> None:
        itype = self.types[type_name]
        self._seq += 1
        iid = f"sim-{self._seq:06d}"
        inst = Instance(iid, itype.name, _R if ready else _P, itype.weight, launched_at=at)
        self._live[iid] = inst
        self._cache = None
        self.paid_units += itype.weight
        self.paid_price += itype.price
        self.launched += 0 if ready else 1
        if ready:
            self.ready_units += itype.weight
            return
        if self.boot_failure_rate and self._rng.random() < self.boot_failure_rate:
            self._fails.add(iid)
            self._due[iid] = t + self.boot_timeout
        else:
            self._due[iid] = t + self.boot_delay

    def _set(self, iid: str, inst: Instance) -> None:
        old = self._live[iid]
        if old.state is _R:
            self.ready_units -= old.weight
        if inst.state is _R:
            self.ready_units += inst.weight
        self._live[iid] = inst
        self._cache = None

    def _remove(self, iid: str) -> None:
        inst = self._live.pop(iid)
        if inst.state is _R:
            self.ready_units -= inst.weight
        self.paid_units -= inst.weight
        self.paid_price -= self.types[inst.type].price
        self._cache = None


