"""SIP gateways across controller restarts (real Kamailio, sipp gateways and callers):

1. a controller begins a drain and stops; the next controller (same journal) keeps the gateway
   locked, launches nothing, and terminates it only after its last call ended;
2. a controller with a fresh journal adopts the running, registered gateway it finds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fleetscale.app import build_controller
from fleetscale.config import parse
from fleetscale.journal.sql import SqlJournal
from fleetscale.model import InstanceState
from fleetscale.sim.clock import WallClock
from tests.e2e.sip.harness import Calls, Loop, launched, outcome_ids, pool_doc, ready, sessions_of
from tests.fixtures.kamailio import Kamailio, start_caller

pytestmark = pytest.mark.e2e


def test_drain_survives_a_restart_and_a_fresh_journal_adopts(kamailio: Kamailio, tmp_path: Path) -> None:
    pool = pool_doc(kamailio, "sip", "gw-", 1, kamailio.registrar, tmp_path / "gw",
                    policies=[{"kind": "fixed", "units": 2}])
    journal = f"sqlite:///{tmp_path / 'journal.db'}"

    def controller(url: str) -> Loop:
        return Loop(build_controller(parse({"pools": [pool], "journal": {"sql": url, "log": False}}),
                                     WallClock()))

    calls = Calls(kamailio)
    first = controller(journal)
    provider = first.controller.runners[0].provider
    caller = None
    try:
        first.until(lambda r: len(ready(r)) == 2, 10, "two gateways registered")
        caller = start_caller(kamailio, tmp_path / "calls", calls=2, hold_ms=5000, rate=50)
        calls.wait_total(2)
        # the operator holds the pool at 1: the first controller drains one gateway, then stops
        store = SqlJournal(journal)
        now = datetime.now(UTC)
        store.hold("sip", 1, now + timedelta(minutes=5), now)
        store.close()
        drained = first.until(lambda r: outcome_ids(r, "drain begun on "), 10, "drain begun")
        (victim,) = outcome_ids(drained, "drain begun on ")
        first.controller.close()

        # a new controller on the same journal: the drain goes on, nothing is launched
        second = controller(journal)
        rec = second.cycle()["sip"]
        states = {i.id: i.state for i in rec.instances}
        assert states[victim] is InstanceState.DRAINING and not launched(rec), rec.outcome
        assert sessions_of(rec, victim) == 1
        done = second.until(lambda r: outcome_ids(r, "terminated "), 20, "drained gateway terminated")
        assert outcome_ids(done, "terminated ") == [victim]
        assert any("drained: 0 sessions" in line for line in done.outcome)
        assert caller.wait(20) == 0 and caller.counts() == (2, 0), caller.output()[-1500:]
        assert not [r for r in second.records if launched(r)]
        (kept,) = [i.id for i in provider.list()]
        second.controller.close()

        # a fresh journal: the running gateway is found (tagged, registered) and adopted
        third = controller(f"sqlite:///{tmp_path / 'fresh.db'}")
        store = SqlJournal(f"sqlite:///{tmp_path / 'fresh.db'}")
        store.hold("sip", 1, now + timedelta(minutes=5), now)
        store.close()
        rec = third.until(lambda r: any(line.startswith("adopted") for line in r.outcome), 10, "adopted")
        assert any(kept in line for line in rec.outcome if line.startswith("adopted"))
        rec = third.until(lambda r: ready(r) == [kept], 10, "the adopted gateway is ready")
        assert not [r for r in third.records if launched(r) or outcome_ids(r, "terminated ")]
        third.controller.close()
    finally:
        if caller is not None:
            caller.stop()
        provider.terminate([i.id for i in provider.list()], "e2e-cleanup")
        calls.rpc.close()
