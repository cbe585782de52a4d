"""Shared set-up for the controller tests: a pool on a simulated clock, provider and journal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetscale.app import runner_for
from fleetscale.config import PoolConfig
from fleetscale.journal.record import CycleRecord
from fleetscale.journal.sql import SqlJournal
from fleetscale.journal.state_store import SqlStateStore
from fleetscale.model import InstanceState
from fleetscale.ports import Source
from fleetscale.runner import PoolRunner
from fleetscale.sim.clock import SimClock
from fleetscale.sim.provider import SimulatedProvider
from fleetscale.sources.fixed import FixedSource
from fleetscale.state import FleetState


def pool_config(**over: Any) -> PoolConfig:
    """A pool tracking ``load`` at 1 per unit, scaling down without stabilisation delay."""
    base: dict[str, Any] = {
        "name": "web", "max": 10, "interval": 60, "provider": {"kind": "simulated"},
        "policies": [{"kind": "target", "target": 1}],
        "governor": {"down": {"stabilisation": 0}},
    }
    base.update(over)
    return PoolConfig.model_validate(base)


@dataclass
class Kit:
    clock: SimClock
    provider: SimulatedProvider
    source: FixedSource
    journal: SqlJournal
    runner: PoolRunner

    def step(self, n: int = 1) -> list[CycleRecord]:
        """Run ``n`` cycles, the clock advancing one interval after each."""
        out = []
        for _ in range(n):
            out.append(self.runner.cycle())
            self.clock.advance(self.runner.interval)
        return out

    def states(self) -> dict[str, int]:
        recs = self.journal.cycles(self.runner.name, 1)
        counts: dict[str, int] = {}
        for inst in recs[-1]["instances"]:
            counts[inst["state"]] = counts.get(inst["state"], 0) + 1
        return counts

    def saved(self) -> FleetState:
        """The pool's state as saved in the journal's database."""
        state = SqlStateStore(self.journal.engine).load(self.runner.name)
        assert state is not None
        return state

    def live(self) -> set[str]:
        return {i.id for i in self.provider.list()}

    def ready(self) -> int:
        return sum(1 for i in self.provider.list() if i.state is InstanceState.READY)


def kit(tmp_path: Path, load: float | None = 0.0, *, pool: PoolConfig | None = None,
        sources: Sequence[Source] | None = None, journals: Sequence[Any] | None = None,
        dry_run: bool = False, clock: SimClock | None = None, provider: SimulatedProvider | None = None,
        journal: SqlJournal | None = None, **provider_kw: Any) -> Kit:
    pool = pool or pool_config()
    clock = clock or SimClock()
    kw = {"boot_delay": 60.0, "drain_time": 120.0} | provider_kw
    provider = provider or SimulatedProvider(clock, pool.types(), pool=pool.name, **kw)
    journal = journal or SqlJournal(f"sqlite:///{tmp_path / 'journal.db'}")
    source = FixedSource(load)
    runner = runner_for(pool, sources=sources if sources is not None else [source], provider=provider,
                        drainer=provider.drainer(), journals=journals if journals is not None else [journal],
                        store=SqlStateStore(journal.engine), operator=journal, clock=clock, dry_run=dry_run)
    return Kit(clock, provider, source, journal, runner)
