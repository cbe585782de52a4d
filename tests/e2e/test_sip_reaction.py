"""Event-driven reaction end to end: Kamailio 5.6 relays registrations and calls over evapi,
the real controller runs (``Controller.run``, APScheduler) with a 60 s interval, and

1. a launched gateway joins the dispatcher set through its registration event (the watch's
   own sync), and an extra cycle sees it ready, without waiting for a scheduled cycle;
2. calls crossing the pool's capacity launch a gateway from an extra cycle triggered by the
   call events, long before the next scheduled cycle (60 s later);
3. only the first cycle was a scheduled one.

It asserts the mechanism (extra cycles named by their event, the single scheduled cycle),
not a tight time bound: ``bench/reaction.py`` measures the latencies.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fleetscale.app import build_controller
from fleetscale.config import parse
from fleetscale.journal.record import CycleRecord
from fleetscale.kamailio.rpc import KamailioRpc, RpcError
from fleetscale.sim.clock import WallClock
from tests.e2e.sip.harness import launched, pool_doc, ready
from tests.fixtures.kamailio import Caller, Kamailio, start_caller

pytestmark = pytest.mark.e2e

INTERVAL = 60.0


class Recorder:
    """A journal sink that keeps every record (cycles run on scheduler threads)."""

    def __init__(self) -> None:
        self.records: list[CycleRecord] = []
        self.lock = threading.Lock()

    def record(self, cycle: CycleRecord) -> None:
        with self.lock:
            self.records.append(cycle)

    def of(self, pool: str) -> list[CycleRecord]:
        with self.lock:
            return [r for r in self.records if r.pool == pool]

    def until(self, check: Callable[[CycleRecord], object], timeout: float, what: str,
              after: CycleRecord | None = None) -> CycleRecord:
        """The first record (after ``after``) that passes ``check``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            records = self.of("sip")
            skip = records.index(after) + 1 if after is not None else 0
            for r in records[skip:]:
                if check(r):
                    return r
            time.sleep(0.05)
        outcomes = [r.outcome for r in self.of("sip")]
        raise AssertionError(f"{what}: not within {timeout} s; outcomes {outcomes}")


def extra_reason(record: CycleRecord) -> str | None:
    for line in record.outcome:
        if line.startswith("extra cycle: "):
            return line[len("extra cycle: "):]
    return None


def wait_until(check: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


def members(rpc: KamailioRpc) -> set[str]:
    try:
        return {uri for (_, uri) in rpc.dispatcher_states()}
    except RpcError as exc:
        if "No Destination" in exc.message:
            return set()
        raise


@pytest.fixture
def rpc(kamailio: Kamailio) -> Iterator[KamailioRpc]:
    client = KamailioRpc(kamailio.rpc_url)
    yield client
    client.close()


def test_events_drive_extra_cycles(kamailio: Kamailio, tmp_path: Path, rpc: KamailioRpc) -> None:
    pool = pool_doc(kamailio, "sip", "gw-", 1, kamailio.registrar, tmp_path / "gw", interval=INTERVAL)
    pool["sources"][0]["evapi_address"] = kamailio.evapi_address
    doc = {"pools": [pool], "journal": {"sql": f"sqlite:///{tmp_path / 'journal.db'}", "log": False}}
    recorder = Recorder()
    controller = build_controller(parse(doc), WallClock(), extra_sinks=(recorder,))
    stop = threading.Event()
    runner = threading.Thread(target=controller.run, kwargs={"stop": stop, "install_signals": False})
    callers: list[Caller] = []
    started = time.monotonic()
    runner.start()
    try:
        # the first (scheduled) cycle launches the minimum, one gateway
        first = recorder.until(launched, 15, "first gateway launched")
        assert extra_reason(first) is None
        (gw_a,) = launched(first)
        address_a = next(i.address for i in controller.runners[0].provider.list() if i.id == gw_a)

        # 1. its registration event puts it into the dispatcher set (the watch's sync: no cycle)
        wait_until(lambda: f"sip:{address_a}" in members(rpc), 15, "first gateway in the dispatcher set")
        recorder.until(lambda r: gw_a in ready(r) and extra_reason(r) is not None, 15,
                       "an extra cycle sees the first gateway ready")

        # 2. three calls on one gateway (2 calls each): the call events launch a second one
        caller = start_caller(kamailio, tmp_path / "calls", calls=3, hold_ms=8000, rate=20)
        callers.append(caller)
        up = recorder.until(lambda r: launched(r), 15, "scale up on the call events", after=first)
        assert (extra_reason(up) or "").startswith("kamailio: "), up.outcome
        assert up.decision is not None and up.decision.desired == 2, up.decision
        (gw_b,) = launched(up)
        address_b = next(i.address for i in controller.runners[0].provider.list() if i.id == gw_b)
        wait_until(lambda: f"sip:{address_b}" in members(rpc), 15, "second gateway in the dispatcher set")

        # 3. all of it happened before the second scheduled cycle: one scheduled cycle only
        assert time.monotonic() - started < INTERVAL
        scheduled = [r for r in recorder.of("sip") if extra_reason(r) is None]
        assert len(scheduled) == 1, [r.outcome for r in scheduled]
        assert caller.wait(30) == 0 and caller.counts() == (3, 0), caller.output()[-1500:]
    finally:
        stop.set()
        runner.join(30)
        for c in callers:
            c.stop()
        for r in controller.runners:
            r.provider.terminate([i.id for i in r.provider.list()], "e2e-cleanup")
        controller.close()
    assert not runner.is_alive()
