"""SIP gateways end to end: Kamailio 5.6 (registrar, dispatcher, dialog) on MariaDB, gateways
that are sipp processes launched by fleetscale's ``local`` provider, calls placed by sipp callers
through Kamailio's dispatcher, and the real controller driven cycle by cycle.

What it shows:
1. rising calls -> fleetscale launches gateways and they register;
2. falling calls -> it drains the least busy gateway;
3. calls rise again during the drain -> the drain is cancelled, no gateway is launched;
4. calls fall again -> a gateway is drained, gets no new call, and is terminated only after its
   last call ended;
5. no call is ever cut: every sipp caller exits 0 with all calls successful (200 to each BYE);
6. a gateway that never registers (its registrar does not answer) is terminated after the
   pool's boot timeout.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetscale.app import build_controller
from fleetscale.config import parse
from fleetscale.model import InstanceState
from fleetscale.sim.clock import WallClock
from tests.e2e.sip.harness import Calls, Loop, launched, outcome_ids, pool_doc, ready, sessions_of
from tests.fixtures.kamailio import Caller, Kamailio, start_caller

pytestmark = pytest.mark.e2e

@pytest.fixture
def silent_registrar() -> Iterator[str]:
    """A UDP port that is bound but never answers: a gateway pointed at it never registers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{s.getsockname()[1]}"


def test_gateways_follow_the_calls(kamailio: Kamailio, tmp_path: Path, silent_registrar: str) -> None:
    doc = {"pools": [
        pool_doc(kamailio, "sip", "gw-", 1, kamailio.registrar, tmp_path / "gw"),
        pool_doc(kamailio, "broken", "bad-", 2, silent_registrar, tmp_path / "bad", boot_timeout=3,
                 policies=[{"kind": "fixed", "units": 1}], max=1),
    ], "journal": {"sql": f"sqlite:///{tmp_path / 'journal.db'}", "log": False}}
    controller = build_controller(parse(doc), WallClock())
    loop = Loop(controller)
    calls = Calls(kamailio)
    callers: list[Caller] = []

    def call(name: str, n: int, hold_s: float) -> Caller:
        c = start_caller(kamailio, tmp_path / name, calls=n, hold_ms=int(hold_s * 1000), rate=50)
        callers.append(c)
        return c

    try:
        # 0. min 1: one gateway is launched and counts as ready only once it has registered
        first = loop.until(lambda r: launched(r), 10, "first gateway launched")
        (gw_a,) = launched(first)
        loop.until(lambda r: ready(r) == [gw_a], 10, "first gateway registered")
        usernames = {u for (u,) in kamailio.query("SELECT username FROM location")}
        assert gw_a in usernames

        # 1. rising calls: 5 calls (all on A) -> ceil(5/2) = 3 gateways; B and C launch and register
        long_calls = call("long", 5, 14)
        calls.wait_total(5)
        up = loop.until(lambda r: launched(r), 10, "scale up")
        new = launched(up)
        assert len(new) == 2, up.outcome
        assert up.decision is not None and up.decision.desired == 3, up.decision
        loop.until(lambda r: len(ready(r)) == 3, 10, "three gateways registered")
        assert {u for (u,) in kamailio.query("SELECT username FROM location")} >= {gw_a, *new}
        addresses = {i.id: i.address for i in loop.of("sip")[-1].instances}

        # three more calls, one on each gateway (round robin over the dispatcher set)
        spread = call("spread", 3, 30)
        calls.wait_total(8)
        assert [calls.on(addresses[g]) for g in (gw_a, *new)] == [6, 1, 1]

        # 2. falling calls: the 5 long calls end -> 3 calls -> 2 gateways: drain the least busy
        #    (all have 1 call: the newest goes first)
        #    the controller keeps cycling meanwhile: nothing is drained while the calls last
        drained = loop.until(lambda r: outcome_ids(r, "drain begun on "), 30, "first drain")
        assert long_calls.wait(5) == 0 and long_calls.counts() == (5, 0), long_calls.output()[-1500:]
        (victim,) = outcome_ids(drained, "drain begun on ")
        assert victim in new
        assert kamailio.query("SELECT flags FROM dispatcher WHERE destination=%s",
                              (f"sip:{addresses[victim]}",)) == [(1,)]
        assert kamailio.query("SELECT locked, to_stop FROM fleetscale_gateway WHERE address=%s",
                              (addresses[victim],)) == [(1, 1)]

        # 3. calls rise during the drain: the new calls avoid the draining gateway, and the next
        #    cycle cancels the drain instead of launching a gateway
        count_before = len({i.id for i in loop.of("sip")[-1].instances})
        burst = call("burst", 3, 6)
        calls.wait_total(6)
        assert calls.on(addresses[victim]) == 1, "a locked gateway gets no new call"
        back = loop.until(lambda r: outcome_ids(r, "drain cancelled on "), 10, "drain cancelled")
        assert outcome_ids(back, "drain cancelled on ") == [victim]
        assert not launched(back), back.outcome
        assert kamailio.query("SELECT flags FROM dispatcher WHERE destination=%s",
                              (f"sip:{addresses[victim]}",)) == [(0,)]
        loop.until(lambda r: len(ready(r)) == 3, 10, "the cancelled drain's gateway ready again")

        # 4. calls fall again: the burst ends -> drain; one more call arrives during the drain and
        #    avoids it; the drained gateway is terminated only once its last call has ended
        drained = loop.until(lambda r: outcome_ids(r, "drain begun on "), 20, "second drain")
        assert burst.wait(5) == 0 and burst.counts() == (3, 0), burst.output()[-1500:]
        (victim,) = outcome_ids(drained, "drain begun on ")
        late = call("late", 1, 2)
        calls.wait_total(4)
        assert calls.on(addresses[victim]) == 1, "the draining gateway keeps its call and gets no new one"
        done = loop.until(lambda r: outcome_ids(r, "terminated "), 40, "drained gateway terminated")
        # on a loaded machine the calls can end early enough that a second gateway drains and
        # reaches zero in the same cycle; each terminated gateway must have drained to zero
        gone = outcome_ids(done, "terminated ")
        assert victim in gone, done.outcome
        assert all(any(line.startswith(f"terminated {g} (drained: 0 sessions") for line in done.outcome)
                   for g in gone), done.outcome
        history = loop.of("sip")
        draining = history[history.index(drained) + 1:history.index(done)]
        assert draining and all((sessions_of(r, victim) or 0) >= 1 for r in draining), \
            [sessions_of(r, victim) for r in draining]
        assert spread.wait(30) == 0 and spread.counts() == (3, 0), spread.output()[-1500:]
        assert late.wait(30) == 0 and late.counts() == (1, 0)
        assert victim not in {i.id for i in loop.controller.runners[0].provider.list()}

        # every call ended: the pool shrinks to its minimum, one gateway
        loop.until(lambda r: len([i for i in r.instances if i.state is not InstanceState.GONE]) == 1, 20,
                   "back to one gateway")
        history = loop.of("sip")
        assert count_before == 3 and not [r for r in history[history.index(up) + 1:] if launched(r)]

        # 6. the broken pool's gateway never registered: terminated after its boot timeout
        broken = loop.of("broken")
        killed = [r for r in broken if outcome_ids(r, "terminated ")]
        assert killed, [r.outcome for r in broken][-5:]
        (bad,) = outcome_ids(killed[0], "terminated ")
        assert any("not registered" in line and "boot_timeout 3" in line for line in killed[0].outcome)
        assert all(i.state is not InstanceState.READY for r in broken for i in r.instances if i.id == bad)
        assert bad.startswith("bad-")
        assert not [r for r in loop.of("sip") if r.errors], [r.errors for r in loop.of("sip") if r.errors][:3]
    finally:
        for c in callers:
            c.stop()
        for runner in controller.runners:
            runner.provider.terminate([i.id for i in runner.provider.list()], "e2e-cleanup")
        controller.close()
        calls.rpc.close()
