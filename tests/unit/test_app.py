"""Wiring: the controller ``fleetscale run`` builds, exercised off the main thread as APScheduler
runs it."""

from __future__ import annotations

import threading

from fleetscale.app import build_controller
from fleetscale.config import parse
from fleetscale.journal.record import CycleRecord
from fleetscale.sim.clock import SimClock


def test_in_memory_journal_serves_the_scheduler_threads() -> None:
    """``--journal sqlite://``: the write-ahead intents live in the same in-memory database."""
    loaded = parse({"journal": {"sql": "sqlite://"}, "pools": [{
        "name": "web", "max": 5, "provider": {"kind": "simulated"},
        "sources": [{"kind": "fixed", "value": 3}], "policies": [{"kind": "target", "target": 1}]}]})
    controller = build_controller(loaded, SimClock(), log=False)
    records: list[CycleRecord] = []
    try:
        worker = threading.Thread(target=lambda: records.extend(controller.cycle()))
        worker.start()
        worker.join(timeout=30)
    finally:
        controller.close()
    (record,) = records
    assert record.errors == ()
    assert record.outcome[0].startswith("launched 3 x default")
