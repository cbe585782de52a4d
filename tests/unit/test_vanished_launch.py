"""Instances a launch made that the provider never lists (they died at once, or the cloud
dropped them) leave the view at the next listing, even when that listing is empty; the pool
then launches again instead of counting ghosts as ready forever."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from pathlib import Path

from fleetscale.app import runner_for
from fleetscale.drainers.none import NoDrainer
from fleetscale.journal.sql import SqlJournal
from fleetscale.journal.state_store import SqlStateStore
from fleetscale.model import Instance, InstanceState
from fleetscale.sim.clock import SimClock
from fleetscale.sources.fixed import FixedSource
from tests.unit.controller_kit import pool_config


class Vanishing:
    """A provider whose launches succeed but whose instances are never listed."""

    def __init__(self) -> None:
        self.launched = 0

    def list(self) -> list[Instance]:
        return []

    def launch(self, type: str, count: int, request_id: str) -> builtins.list[Instance]:
        self.launched += count
        return [Instance(id=f"ghost-{self.launched - i}", type=type, state=InstanceState.READY)
                for i in range(count)]

    def terminate(self, ids: Sequence[str], request_id: str) -> None:
        return None


class TestVanishedLaunch:
    """An empty listing after a launch is a fresh view, not 'the same listing'."""

    def test_ghosts_are_not_counted(self, tmp_path: Path) -> None:
        clock, provider = SimClock(), Vanishing()
        journal = SqlJournal(f"sqlite:///{tmp_path / 'journal.db'}")
        runner = runner_for(pool_config(), sources=[FixedSource(2.0)], provider=provider, drainer=NoDrainer(),
                            journals=[journal], store=SqlStateStore(journal.engine), operator=journal,
                            clock=clock)
        recs = []
        for _ in range(3):
            recs.append(runner.cycle())
            clock.advance(60)
        first, second, third = recs
        assert first.outcome and first.outcome[0].startswith("launched 2")
        assert second.instances == () and third.instances == ()
        assert provider.launched == 6, "each cycle sees an empty pool and launches again"
