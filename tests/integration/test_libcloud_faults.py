"""Provider ``libcloud`` fault matrix: libcloud's EC2 driver against moto behind the
fault-injecting proxy (tests/fixtures/fault_proxy.py), driven by a PoolRunner cycle as
``fleetscale run`` drives it (SQL journal, write-ahead intents).

Each fault: retried within bounds or the pool holds, never a node created twice for one
decision (moto's count of every instance ever made), the cause in ``fleetscale explain``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetscale.providers import libcloud as lc
from fleetscale.sim.clock import SimClock
from tests.contract import aws, libcloud_moto
from tests.fixtures.fault_proxy import Fault, FaultProxy
from tests.integration.fault_runner import FaultRunner, fault_runner, made_in_moto, pool_config

pytestmark = pytest.mark.integration

WANT = 3
RETRIES = 3


@dataclass
class Rig:
    proxy: FaultProxy
    moto: str
    clock: SimClock
    sleeps: list[float]
    fr: FaultRunner

    def cycle(self) -> list[str]:
        rec = self.fr.cycle()
        self.clock.advance(60)
        return list(rec.errors)


@pytest.fixture
def rig(fault_proxy: FaultProxy, ec2_url: str, tmp_path: Path) -> Iterator[Rig]:
    clock = SimClock(datetime.now(UTC))  # moto stamps LaunchTime with the wall clock
    sleeps: list[float] = []
    settings = libcloud_moto.settings(fault_proxy.url, throttle_retries=RETRIES, fallback=False)
    settings.driver_args["timeout"] = 1
    provider = lc.LibcloudProvider(settings, "web", (aws.TYPES[0],), lc.make_driver(settings), sleeps.append)
    pool = pool_config(types=(("t3.small", 1),), boot_timeout=150)
    try:
        yield Rig(fault_proxy, ec2_url, clock, sleeps, fault_runner(tmp_path, provider, clock,
                                                                     load=float(WANT), pool=pool))
    finally:
        fault_proxy.clear()


TRANSIENT = [
    ("5xx-before-once", Fault("error", "RunInstances", code="InternalError", times=1)),
    ("5xx-after-once", Fault("error", "RunInstances", when="after", code="InternalError", times=1)),
    ("503-twice", Fault("error", "RunInstances", code="Unavailable", times=2)),
    ("reset-before-once", Fault("reset", "RunInstances", times=1)),
    ("reset-after-once", Fault("reset", "RunInstances", when="after", times=1)),
    ("timeout-after-once", Fault("latency", "RunInstances", when="after", seconds=2.0, times=1)),
    ("throttled-twice", Fault("error", "RunInstances", code="RequestLimitExceeded",
                              message="Request limit exceeded.", times=2)),
    ("list-reset-once", Fault("reset", "DescribeInstances", times=1)),
]


class TestTransientFaults:
    """A fault that passes: retried within bounds in the same cycle; exactly WANT nodes made."""

    @pytest.mark.parametrize("fault", [f for _, f in TRANSIENT], ids=[n for n, _ in TRANSIENT])
    def test_retried_and_launched_once(self, rig: Rig, fault: Fault) -> None:
        rig.proxy.add(fault)
        assert rig.cycle() == []
        assert fault.hits >= 1
        for _ in range(3):
            assert rig.cycle() == []
        made = made_in_moto(rig.moto)
        assert len(made) == WANT, f"launched twice for one decision: {made}"
        assert rig.proxy.calls("RunInstances") <= WANT + RETRIES
        assert len(rig.sleeps) <= RETRIES


class TestPersistentFaults:
    """A fault that lasts: bounded attempts, the pool holds, the cause is in ``explain``; once
    it passes, exactly the missing nodes are made."""

    @pytest.mark.parametrize(("fault", "cause"), [
        (Fault("error", "RunInstances", code="InternalError"), "InternalError"),
        (Fault("error", "RunInstances", code="RequestLimitExceeded", message="Request limit exceeded."),
         "RequestLimitExceeded"),
        (Fault("reset", "RunInstances"), "Connection reset by peer"),
        (Fault("blackhole", "RunInstances", seconds=1.5), "Read timed out"),
        (Fault("error", "DescribeInstances", code="Unavailable"), "Unavailable"),
    ], ids=["5xx", "throttled", "reset", "timeout", "list-5xx"])
    def test_holds_then_recovers(self, rig: Rig, fault: Fault, cause: str) -> None:
        rig.proxy.add(fault)
        errors = rig.cycle()
        assert any(cause in e and f"after {RETRIES + 1} attempts" in e for e in errors), errors
        assert rig.proxy.calls("RunInstances") <= RETRIES + 1
        text = rig.fr.explained()
        assert "ERROR:" in text and cause in text
        assert made_in_moto(rig.moto) == {}
        rig.proxy.clear()
        for _ in range(3):
            assert rig.cycle() == []
        assert len(made_in_moto(rig.moto)) == WANT, "launched twice for one decision"


class TestPartialAndNeverReady:
    def test_partial_launch_is_completed_once(self, rig: Rig) -> None:
        """The first node is made, the rest fail: the cycle says how much was made; the replay of
        the same request makes only the missing nodes."""
        rig.proxy.add(Fault("error", "RunInstances", code="InternalError", skip=1))
        errors = rig.cycle()
        assert any("partial launch: 1/3 units made" in e for e in errors), errors
        assert "partial launch: 1/3 units made" in rig.fr.explained()
        assert len(made_in_moto(rig.moto)) == 1
        rig.proxy.clear()
        for _ in range(3):
            assert rig.cycle() == []
        assert len(made_in_moto(rig.moto)) == WANT

    def test_never_ready_is_replaced_after_boot_timeout_only(self, rig: Rig) -> None:
        rig.proxy.add(Fault("rewrite", "DescribeInstances", when="after",
                            rewrite=lambda b: b.replace(b"<name>running</name>", b"<name>pending</name>")))
        for _ in range(3):  # inside boot_timeout (150 s): counted, no launch storm
            rig.cycle()
            assert len(made_in_moto(rig.moto)) == WANT
        rig.cycle()
        assert "boot_timeout" in rig.fr.explained()
        states = made_in_moto(rig.moto)
        assert sum(1 for s in states.values() if s != "terminated") <= WANT
        assert len(states) <= 2 * WANT
