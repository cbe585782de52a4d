"""Provider ``ec2`` fault matrix: moto behind a fault-injecting proxy, driven by a PoolRunner
cycle as ``fleetscale run`` drives it (SQL journal, write-ahead intents).

Each fault: the pool holds or retries within bounds, never launches twice for one decision
(moto's own count of every instance ever made is checked after the run), and the cause is an
error of the cycle record that ``fleetscale explain`` prints.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetscale.providers import ec2
from fleetscale.sim.clock import SimClock
from tests.contract import aws
from tests.fixtures.fault_proxy import Fault, FaultProxy
from tests.integration.fault_runner import FaultRunner, fault_runner, made_in_moto, pool_config

pytestmark = pytest.mark.integration

WANT = 3  # load 3 at 1 unit per t3.small


@dataclass
class Rig:
    proxy: FaultProxy
    moto: str
    clock: SimClock
    sleeps: list[float]
    provider: ec2.EC2Provider
    fr: FaultRunner

    def cycle(self) -> list[str]:
        """One cycle, then one interval passes; the cycle's errors."""
        rec = self.fr.cycle()
        self.clock.advance(60)
        return list(rec.errors)


@pytest.fixture
def rig(fault_proxy: FaultProxy, ec2_url: str, tmp_path: Path) -> Iterator[Rig]:
    clock = SimClock(datetime.now(UTC))  # moto stamps LaunchTime with the wall clock
    sleeps: list[float] = []
    provider = aws.provider(fault_proxy.url, sleeps=sleeps, types=(aws.TYPES[0],), read_timeout=1.0,
                            connect_timeout=1.0, throttle_retries=3, fallback=False)
    pool = pool_config(types=(("t3.small", 1),), boot_timeout=150)
    fr = fault_runner(tmp_path, provider, clock, load=float(WANT), pool=pool)
    try:
        yield Rig(fault_proxy, ec2_url, clock, sleeps, provider, fr)
    finally:
        fault_proxy.clear()
        provider.close()


MATRIX = [
    ("5xx-before-once", Fault("error", "RunInstances", code="InternalError", times=1)),
    ("5xx-after-once", Fault("error", "RunInstances", when="after", code="InternalError", times=1)),
    ("503-unavailable-twice", Fault("error", "RunInstances", code="Unavailable", times=2)),
    ("reset-before-twice", Fault("reset", "RunInstances", times=2)),
    ("reset-after-once", Fault("reset", "RunInstances", when="after", times=1)),
    ("timeout-after-once", Fault("latency", "RunInstances", when="after", seconds=2.5, times=1)),
    ("throttled-twice", Fault("error", "RunInstances", code="RequestLimitExceeded",
                              message="Request limit exceeded.", times=2)),
    ("describe-reset-once", Fault("reset", "DescribeInstances", times=1)),
]


class TestTransientFaults:
    """A fault that passes: retried within bounds in the same cycle; exactly WANT instances made."""

    @pytest.mark.parametrize("fault", [f for _, f in MATRIX], ids=[name for name, _ in MATRIX])
    def test_retried_and_launched_once(self, rig: Rig, fault: Fault) -> None:
        rig.proxy.add(fault)
        errors = rig.cycle()
        assert fault.hits >= 1
        assert errors == []
        for _ in range(3):
            assert rig.cycle() == []
        made = made_in_moto(rig.moto)
        assert len(made) == WANT, f"launched twice for one decision: {made}"
        assert rig.proxy.calls("RunInstances") <= 1 + 3  # bounded: first attempt + throttle_retries
        assert len(rig.sleeps) <= 3 and all(s <= rig.provider.settings.backoff_max for s in rig.sleeps)


class TestPersistentFaults:
    """A fault that lasts: the pool holds, attempts are bounded, the cause is in ``explain``;
    once it passes, the pool launches exactly what is missing."""

    @pytest.mark.parametrize(("fault", "cause"), [
        (Fault("error", "RunInstances", code="InternalError"), "InternalError"),
        (Fault("error", "RunInstances", code="RequestLimitExceeded", message="Request limit exceeded."),
         "RequestLimitExceeded"),
        (Fault("reset", "RunInstances"), "Connection was closed"),
        (Fault("blackhole", "RunInstances", seconds=1.5), "Read timeout"),
        (Fault("error", "DescribeInstances", code="Unavailable"), "Unavailable"),
    ], ids=["5xx", "throttled", "reset", "timeout", "describe-5xx"])
    def test_holds_then_recovers(self, rig: Rig, fault: Fault, cause: str) -> None:
        rig.proxy.add(fault)
        errors = rig.cycle()
        assert any(cause in e for e in errors), errors
        assert rig.proxy.calls("RunInstances") <= 4
        text = rig.fr.explained()
        assert "ERROR:" in text and cause in text
        assert made_in_moto(rig.moto) == {}
        rig.proxy.clear()
        for _ in range(3):
            rig.cycle()
        live = [i for i, s in made_in_moto(rig.moto).items() if s != "terminated"]
        assert len(live) == WANT
        assert len(made_in_moto(rig.moto)) == WANT, "launched twice for one decision"


class TestPartialAndNeverReady:
    def test_partial_launch_completes_without_overshoot(self, rig: Rig) -> None:
        """The cloud grants fewer instances than asked: the next cycle launches the rest, once."""
        shrink = Fault("rewrite", "RunInstances", times=1,
                       rewrite=lambda b: re.sub(rb"(MinCount|MaxCount)=\d+", rb"\1=1", b))
        rig.proxy.add(shrink)
        rig.fr.cycle()
        assert len(made_in_moto(rig.moto)) == 1
        rig.clock.advance(60)
        for _ in range(3):
            assert rig.cycle() == []
        assert len(made_in_moto(rig.moto)) == WANT

    def test_never_ready_is_replaced_after_boot_timeout_only(self, rig: Rig) -> None:
        """Instances stuck in ``pending`` are counted (no launch storm) and, past boot_timeout,
        terminated and replaced once; explain says why."""
        rig.proxy.add(Fault("rewrite", "DescribeInstances", when="after",
                            rewrite=lambda b: b.replace(b"<name>running</name>", b"<name>pending</name>")))
        for _ in range(3):  # 0 s, 60 s, 120 s: inside boot_timeout (150 s)
            rig.cycle()
            assert len(made_in_moto(rig.moto)) == WANT
        rig.cycle()  # 180 s: past boot_timeout
        text = rig.fr.explained()
        assert "boot_timeout" in text
        states = made_in_moto(rig.moto)
        assert sum(1 for s in states.values() if s != "terminated") <= WANT
        assert len(states) <= 2 * WANT
