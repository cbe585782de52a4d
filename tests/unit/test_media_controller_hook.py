"""The controller's optional drainer hook ``reconcile(instances)`` (used by media_redis)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fleetscale.app import runner_for
from fleetscale.errors import DrainError, ProviderError
from fleetscale.journal.sql import SqlJournal
from fleetscale.journal.state_store import SqlStateStore
from fleetscale.model import Instance
from fleetscale.runner import PoolRunner
from fleetscale.sim.clock import SimClock
from fleetscale.sim.provider import SimulatedDrainer, SimulatedProvider
from fleetscale.sources.fixed import FixedSource
from tests.unit.controller_kit import pool_config


class ReconcilingDrainer(SimulatedDrainer):
    """The simulated drainer plus the hook; records what it was given."""

    def __init__(self, provider: SimulatedProvider, fail: bool = False) -> None:
        super().__init__(provider)
        self.calls: list[tuple[Instance, ...]] = []
        self.fail = fail

    def reconcile(self, instances: Sequence[Instance]) -> tuple[str, ...]:
        self.calls.append(tuple(instances))
        if self.fail:
            raise DrainError("redis down")
        return (f"registry: {len(instances)} instances",)


class BrokenList(SimulatedProvider):
    def list(self) -> list[Instance]:
        raise ProviderError("cloud API down")


def runner(tmp_path: Path, load: float, *, fail: bool = False, dry_run: bool = False,
           provider_cls: type[SimulatedProvider] = SimulatedProvider,
           ) -> tuple[PoolRunner, ReconcilingDrainer]:
    pool = pool_config()
    clock = SimClock()
    provider = provider_cls(clock, pool.types(), pool=pool.name, initial=3, drain_time=600)
    drainer = ReconcilingDrainer(provider, fail)
    journal = SqlJournal(f"sqlite:///{tmp_path / 'j.db'}")
    r = runner_for(pool, sources=[FixedSource(load)], provider=provider, drainer=drainer,
                   journals=[journal], store=SqlStateStore(journal.engine), operator=journal, clock=clock,
                   dry_run=dry_run)
    return r, drainer


class TestDrainerReconcileHook:
    """Called once per cycle after a good list, with drains overlaid; lines journaled; never raises."""

    def test_called_each_cycle_with_the_controllers_view(self, tmp_path: Path) -> None:
        r, drainer = runner(tmp_path, load=1)
        first = r.cycle()  # 3 ready, load 1 -> drain 2
        assert "registry: 3 instances" in first.outcome
        r.clock.advance(60)
        r.cycle()
        assert len(drainer.calls) == 2
        states = sorted(i.state.value for i in drainer.calls[1])
        assert states == ["draining", "draining", "ready"]

    def test_failure_is_a_cycle_error(self, tmp_path: Path) -> None:
        r, _ = runner(tmp_path, load=3, fail=True)
        rec = r.cycle()
        assert "drainer reconcile failed: DrainError: redis down" in rec.errors
        assert rec.decision is not None  # the cycle went on

    def test_not_called_in_dry_run_nor_after_a_failed_list(self, tmp_path: Path) -> None:
        r, drainer = runner(tmp_path, load=3, dry_run=True)
        r.cycle()
        assert drainer.calls == []
        (tmp_path / "b").mkdir()
        r2, drainer2 = runner(tmp_path / "b", load=3, provider_cls=BrokenList)
        rec = r2.cycle()
        assert drainer2.calls == [] and any("provider list failed" in e for e in rec.errors)
