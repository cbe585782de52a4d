"""Provider kind ``simulated``: a fleet that exists only in memory, on a (simulated) clock.

An instance boots for ``boot_delay`` seconds (state ``pending``, no address), then is
``ready``. Each instance type carries its capacity weight and hourly price from the pool's
``instance_types``. Seeded failures: a launch call fails with ``launch_failure_rate``
(CapacityError), a launched instance never boots with ``boot_failure_rate`` (it stays pending
with no address until the reconciler's boot timeout removes it).

``SimulatedDrainer`` (``provider.drainer()``) models drains in one of two ways:

- without a session model (the default): an instance holds ``sessions_per_unit x weight``
  sessions when its drain begins and they fall linearly to zero over ``drain_time`` seconds;
- with a session model (``holding``: ``sim.sessions``): the fleet carries sessions, which the
  simulator moves along with the load (``carry``); a draining instance takes no new session and
  its drain ends when its own last session does, with ``drain_timeout`` (if given) as the
  cap: a drain still busy after ``drain_timeout`` seconds has its sessions cut.
  ``sessions_source()`` shows every instance's sessions to the controller, as a real session
  source does (the planner drains the least busy instances first).

It is built for speed (the simulator drives it for hundreds of thousands of steps): ``list()``
hands out the same tuple while nothing changed, and only pending instances are checked for
readiness. It is the one simulated fleet: ``fleetscale simulate``, ``demo`` and the tests all
run the controller's own cycle against it.

Example::

    provider: {kind: simulated, boot_delay: 90, drain_time: 120, initial: 2, seed: 7}
"""

from __future__ import annotations

import builtins
import math
import random
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt, PositiveInt

from fleetscale.errors import CapacityError, ProviderError
from fleetscale.model import Instance, InstanceState, InstanceType, Observation
from fleetscale.ports import Clock
from fleetscale.sim.sessions import Dispatch, Holding, Sessions

#: the tag every fleetscale-launched instance carries (value: the pool name)
POOL_TAG = "fleetscale:pool"
_REMEMBERED_REQUESTS = 256


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    boot_delay: NonNegativeFloat = Field(default=120.0, le=7 * 86400)
    drain_time: NonNegativeFloat = Field(default=60.0, le=7 * 86400)
    sessions_per_unit: NonNegativeInt = Field(default=10, le=1_000_000)
    #: ready instances present at start (of the first instance type)
    initial: NonNegativeInt = Field(default=0, le=1_000_000)
    launch_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    boot_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    seed: int = 0
    #: the simulated cloud's capacity: more live instances than this raises CapacityError
    max_instances: PositiveInt | None = Field(default=None, le=1_000_000)
    prefix: str = Field(default="sim", pattern=r"^[a-z][a-z0-9-]{0,15}$")


class SimulatedProvider:
    def __init__(
        self,
        clock: Clock,
        types: Sequence[InstanceType],
        *,
        pool: str = "sim",
        boot_delay: float = 120.0,
        drain_time: float = 60.0,
        sessions_per_unit: int = 10,
        initial: int = 0,
        launch_failure_rate: float = 0.0,
        boot_failure_rate: float = 0.0,
        seed: int = 0,
        max_instances: int | None = None,
        prefix: str = "sim",
        holding: Holding | None = None,
        dispatch: Dispatch = "round-robin",
        drain_timeout: float | None = None,
    ) -> None:
        if not types:
            raise ProviderError("simulated provider needs at least one instance type")
        self.clock = clock
        self.types = {t.name: t for t in types}
        self.pool = pool
        self.boot_delay = timedelta(seconds=boot_delay)
        self.drain_time = drain_time
        self.sessions_per_unit = sessions_per_unit
        self.launch_failure_rate = launch_failure_rate
        self.boot_failure_rate = boot_failure_rate
        self.max_instances = max_instances
        self.prefix = prefix
        self._rng = random.Random(seed)
        self._seq = 0
        self._live: dict[str, Instance] = {}
        self._ready_at: dict[str, datetime | None] = {}  # pending ids only; None = never boots
        #: drain start per instance (world state, so a new drainer or controller sees it)
        self.drains_began: dict[str, datetime] = {}
        self._requests: OrderedDict[tuple[str, str], builtins.list[Instance]] = OrderedDict()
        #: the listing handed out while nothing changes (None: rebuild on the next list())
        self._listing: tuple[Instance, ...] | None = None
        self._closed_cost = 0.0
        self._closed_seconds = 0.0
        self.launched = 0
        self.terminated = 0
        now = clock.now()
        self._epoch = now
        #: the sessions the fleet carries (None: no session model)
        self.sessions = Sessions(holding, dispatch, seed) if holding is not None else None
        self.drain_timeout = drain_timeout
        first = next(iter(self.types.values()))
        for _ in range(initial):
            inst = self._new(first, now - self.boot_delay)
            self._live[inst.id] = replace(inst, state=InstanceState.READY, address=self._address(inst.id))

    # --- Provider port ----------------------------------------------------------------

    def list(self) -> tuple[Instance, ...]:
        if self._ready_at:
            now = self.clock.now()
            for iid, ready_at in builtins.list(self._ready_at.items()):
                if ready_at is not None and ready_at <= now:
                    inst = self._live[iid]
                    self._live[iid] = replace(inst, state=InstanceState.READY, address=self._address(iid))
                    del self._ready_at[iid]
                    self._listing = None
        if self._listing is None:
            self._listing = tuple(self._live.values())
        return self._listing

    def launch(self, type: str, count: int, request_id: str) -> builtins.list[Instance]:
        key = (request_id, type)
        if key in self._requests:
            return list(self._requests[key])
        if type not in self.types:
            raise ProviderError(f"simulated: unknown instance type {type!r} (have {sorted(self.types)})")
        if count <= 0:
            return []
        if self.max_instances is not None and len(self._live) + count > self.max_instances:
            raise CapacityError(
                f"simulated: no capacity for {count} x {type} "
                f"({len(self._live)} of {self.max_instances} used)"
            )
        if self.launch_failure_rate and self._rng.random() < self.launch_failure_rate:
            raise CapacityError(f"simulated: launch of {count} x {type} failed (seeded failure)")
        now = self.clock.now()
        made = []
        for _ in range(count):
            inst = self._new(self.types[type], now)
            self._live[inst.id] = inst
            never = self.boot_failure_rate and self._rng.random() < self.boot_failure_rate
            self._ready_at[inst.id] = None if never else now + self.boot_delay
            made.append(inst)
        self._listing = None
        self.launched += count
        self._requests[key] = made
        while len(self._requests) > _REMEMBERED_REQUESTS:
            self._requests.popitem(last=False)
        return list(made)

    def terminate(self, ids: Sequence[str], request_id: str) -> None:
        now = self.clock.now()
        for iid in ids:
            inst = self._live.pop(iid, None)
            if inst is None:
                continue  # already gone: terminate is idempotent
            self._listing = None
            self._ready_at.pop(iid, None)
            self.drains_began.pop(iid, None)
            if self.sessions is not None:
                self.sessions.forget(iid)
            seconds = self._age(inst, now)
            self._closed_seconds += seconds
            self._closed_cost += seconds / 3600.0 * self.types[inst.type].price
            self.terminated += 1

    # --- for the simulator and the demo -----------------------------------------------

    def instance_seconds(self) -> float:
        """Instance-seconds billed so far (every launched instance, until terminated)."""
        now = self.clock.now()
        return self._closed_seconds + sum(self._age(i, now) for i in self._live.values())

    def cost(self) -> float:
        """Money spent so far (hourly ``price`` of each type, billed per second)."""
        now = self.clock.now()
        live = sum(self._age(i, now) / 3600.0 * self.types[i.type].price for i in self._live.values())
        return self._closed_cost + live

    def ready_units(self) -> int:
        return sum(i.weight for i in self.list() if i.state is InstanceState.READY)

    def drainer(self) -> SimulatedDrainer:
        return SimulatedDrainer(self)

    def carry(self, sessions: int) -> None:
        """The fleet carried ``sessions`` sessions up to now (needs a session model): the world
        moves to now (``sim.sessions``), new sessions going to the ready instances not draining."""
        if self.sessions is None:
            raise ProviderError("simulated: carry() needs a session model (holding)")
        began = self.drains_began
        in_service = [(i.id, i.weight) for i in self.list()
                      if i.state is InstanceState.READY and i.id not in began]
        self.sessions.carry((self.clock.now() - self._epoch).total_seconds(), sessions, in_service)

    def session_count(self, iid: str) -> int:
        """The instance's sessions (session model); 0 once its drain is past ``drain_timeout``
        (what is left is cut when it goes)."""
        if self.sessions is None:
            raise ProviderError("simulated: session_count() needs a session model (holding)")
        began = self.drains_began.get(iid)
        cap = self.drain_timeout
        if began is not None and cap is not None and (self.clock.now() - began).total_seconds() >= cap:
            return 0
        return self.sessions.count(iid)

    def sessions_source(self) -> SimulatedSessions:
        return SimulatedSessions(self)

    # --- internals --------------------------------------------------------------------

    def _new(self, itype: InstanceType, launched_at: datetime) -> Instance:
        self._seq += 1
        return Instance(
            id=f"{self.prefix}-{self._seq:05d}",
            type=itype.name,
            state=InstanceState.PENDING,
            weight=itype.weight,
            launched_at=launched_at,
            tags={POOL_TAG: self.pool},
        )

    @staticmethod
    def _address(iid: str) -> str:
        return f"{iid}.sim.invalid"

    @staticmethod
    def _age(inst: Instance, now: datetime) -> float:
        return max(0.0, (now - inst.launched_at).total_seconds()) if inst.launched_at else 0.0


class SimulatedDrainer:
    """Sessions on a draining simulated instance: its own sessions (session model; cut after
    ``drain_timeout`` if given) or falling linearly to zero over ``drain_time``."""

    def __init__(self, provider: SimulatedProvider) -> None:
        self.provider = provider

    def begin(self, instance: Instance) -> None:
        self.provider.drains_began.setdefault(instance.id, self.provider.clock.now())

    def cancel(self, instance: Instance) -> None:
        self.provider.drains_began.pop(instance.id, None)

    def sessions(self, instance: Instance) -> int | None:
        if self.provider.sessions is not None:
            return self.provider.session_count(instance.id)
        began = self.provider.drains_began.get(instance.id)
        full = instance.weight * self.provider.sessions_per_unit
        if began is None:
            return full
        if self.provider.drain_time <= 0:
            return 0
        left = 1.0 - (self.provider.clock.now() - began).total_seconds() / self.provider.drain_time
        return max(0, math.ceil(full * left))


class SimulatedSessions:
    """Source of every listed instance's sessions (metric ``sessions``), from the session model."""

    def __init__(self, provider: SimulatedProvider, name: str = "simulated") -> None:
        self.provider = provider
        self.name = name

    def read(self, pool: str, now: datetime) -> builtins.list[Observation]:
        p = self.provider
        if p.sessions is None:
            return []
        return [Observation(self.name, "sessions", float(p.session_count(i.id)), now, instance_id=i.id)
                for i in p.list() if i.state is InstanceState.READY]


def build(settings: Settings, ctx: Any) -> SimulatedProvider:
    return SimulatedProvider(
        ctx.clock,
        ctx.pool.types(),
        pool=ctx.pool.name,
        **settings.model_dump(),
    )
