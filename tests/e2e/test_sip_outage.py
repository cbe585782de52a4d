"""Losing sight of registrations never cuts a call (real Kamailio, sipp gateways and callers):

- a Kamailio database outage (the ``location`` table unreachable for a few cycles): the pool
  holds: no gateway is taken for unregistered, none is terminated, none is launched; the calls
  in progress complete, and the gateways keep running through the registrar's 500 answers;
- a gateway that has registered once and loses its registration is not terminated by the boot
  timeout (that rule is for gateways that never came up)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fleetscale.app import build_controller
from fleetscale.config import parse
from fleetscale.model import InstanceState
from fleetscale.sim.clock import WallClock
from tests.e2e.sip.harness import Calls, Loop, launched, outcome_ids, pool_doc, ready
from tests.fixtures.kamailio import Kamailio, start_caller

pytestmark = pytest.mark.e2e


def test_registration_read_failure_holds_the_pool(kamailio: Kamailio, tmp_path: Path) -> None:
    pool = pool_doc(kamailio, "sip", "gw-", 1, kamailio.registrar, tmp_path / "gw",
                    policies=[{"kind": "fixed", "units": 2}], boot_timeout=1)
    loop = Loop(build_controller(parse({"pools": [pool], "journal": {
        "sql": f"sqlite:///{tmp_path / 'journal.db'}", "log": False}}), WallClock()))
    provider = loop.controller.runners[0].provider
    calls = Calls(kamailio)
    caller = None
    renamed = False
    try:
        loop.until(lambda r: len(ready(r)) == 2, 10, "two gateways registered")
        gateways = ready(loop.records[-1])
        caller = start_caller(kamailio, tmp_path / "calls", calls=2, hold_ms=5000, rate=50)
        calls.wait_total(2)
        loop.pause = 0.5
        time.sleep(1)  # past the 1 s boot timeout: an unregistered view would terminate them

        kamailio.query("RENAME TABLE location TO location_offline")
        renamed = True
        outage = []
        for _ in range(4):
            outage.append(loop.cycle()["sip"])
            time.sleep(loop.pause)
        kamailio.query("RENAME TABLE location_offline TO location")
        renamed = False

        for rec in outage:
            assert any("registered" in e for e in rec.errors), rec.errors
            assert ready(rec) == gateways, [e[:150] for e in rec.errors]
            assert not launched(rec) and not outcome_ids(rec, "terminated "), rec.outcome
        assert caller.wait(20) == 0 and caller.counts() == (2, 0), caller.output()[-1500:]
        after = loop.until(lambda r: not r.errors, 10, "reads recover")
        assert ready(after) == gateways
        assert all(i.state is InstanceState.READY for i in after.instances)

        # a gateway that was registered and loses its registration (until its next refresh) is
        # not taken for one that never came up: it is not terminated, its call completes
        caller = start_caller(kamailio, tmp_path / "calls2", calls=2, hold_ms=3000, rate=50)
        calls.wait_total(2)
        kamailio.rpc("ul.rm", "location", gateways[0])
        lapse = loop.cycle()["sip"]
        seen = {o.instance_id for o in lapse.observations if o.metric == "registered"}
        assert gateways[0] not in seen, "the registration is gone for now"
        assert ready(lapse) == gateways and not outcome_ids(lapse, "terminated "), lapse.outcome
        assert caller.wait(20) == 0 and caller.counts() == (2, 0), caller.output()[-1500:]
    finally:
        if renamed:
            kamailio.query("RENAME TABLE location_offline TO location")
        if caller is not None:
            caller.stop()
        provider.terminate([i.id for i in provider.list()], "e2e-cleanup")
        loop.controller.close()
        calls.rpc.close()
