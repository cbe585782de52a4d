"""A PoolRunner wired as ``fleetscale run`` wires it (SQL journal, write-ahead intents on the
same engine) over a real provider, for the fault tests: run cycles, read back what
``fleetscale explain`` prints for them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetscale.app import runner_for
from fleetscale.config import PoolConfig
from fleetscale.drainers.none import NoDrainer
from fleetscale.journal.explain import explain
from fleetscale.journal.intents import IntentLog
from fleetscale.journal.record import CycleRecord
from fleetscale.journal.sql import SqlJournal
from fleetscale.journal.state_store import SqlStateStore
from fleetscale.ports import Clock, Provider, Source
from fleetscale.runner import PoolRunner
from fleetscale.sources.fixed import FixedSource
from tests.contract import aws


def pool_config(types: Sequence[tuple[str, int]] = (("default", 1),), **over: Any) -> PoolConfig:
    """A pool tracking ``load`` at 1 per unit, shrinking without stabilisation delay."""
    base: dict[str, Any] = {
        "name": "web", "max": 20, "interval": 60, "provider": {"kind": "simulated"},
        "instance_types": [{"name": n, "weight": w} for n, w in types],
        "policies": [{"kind": "target", "target": 1}],
        "governor": {"down": {"stabilisation": 0}},
    }
    base.update(over)
    return PoolConfig.model_validate(base)


@dataclass
class FaultRunner:
    runner: PoolRunner
    journal: SqlJournal

    def cycle(self) -> CycleRecord:
        return self.runner.cycle()

    def errors(self, last: int = 1) -> list[str]:
        """The errors of the last cycles, as journaled."""
        return [e for rec in self.journal.cycles(self.runner.name, last) for e in rec.get("errors", [])]

    def explained(self, last: int = 1) -> str:
        """What ``fleetscale explain --last N`` prints for this pool."""
        return explain(self.journal.cycles(self.runner.name, last))


def fault_runner(tmp_path: Path, provider: Provider, clock: Clock, *, load: float | None = 3.0,
                 sources: Sequence[Source] | None = None, pool: PoolConfig | None = None) -> FaultRunner:
    pool = pool or pool_config()
    journal = SqlJournal(f"sqlite:///{tmp_path / 'journal.db'}")
    runner = runner_for(pool, sources=sources if sources is not None else [FixedSource(load)],
                        provider=provider, drainer=NoDrainer(), journals=[journal],
                        store=SqlStateStore(journal.engine), operator=journal, clock=clock,
                        intents=IntentLog(journal.engine, now=clock.now))
    return FaultRunner(runner, journal)


def made_in_moto(ec2_url: str) -> dict[str, str]:
    """Every instance moto ever made (terminated ones included): id -> state."""
    out = {}
    for res in aws.client(ec2_url).describe_instances()["Reservations"]:
        for i in res["Instances"]:
            out[str(i["InstanceId"])] = str(i["State"]["Name"])
    return out
