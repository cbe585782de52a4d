"""Provider ``local``: processes that die while booting are visible and backed off.

Before, a gateway command that could not run was relaunched silently every cycle: the process
died at once, the next ``list()`` dropped it, the pool was short again and launched again.
Now the cause (exit status, last line of output) is a ProviderError of the launch, so the cycle
record (and ``fleetscale explain``) shows it, and launches wait an exponential, bounded backoff.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from fleetscale.errors import ProviderError
from fleetscale.providers.local import LocalProvider, Settings
from fleetscale.sim.clock import SimClock
from tests.integration.fault_runner import fault_runner

pytestmark = pytest.mark.integration

FAILING = ["sh", "-c", "echo 'gw: cannot bind 127.0.0.1' >&2; exit 3"]
#: a program that vanished after ``check`` (a placeholder keeps it from being checked)
MISSING = ["{data}/no-such-gateway"]


def provider(tmp_path: Path, clock: SimClock, command: list[str], **extra: Any) -> LocalProvider:
    settings = Settings(command=command, lifetime=60, stop_grace=1, state_dir=tmp_path / "local",
                        boot_window=5, boot_backoff=10, boot_backoff_max=40, **extra)
    return LocalProvider(settings, "web", clock)


def wait_gone(p: LocalProvider, timeout: float = 10) -> None:
    """Bounded wait until every process of ``p`` has exited (list() then counts the failure)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(child.poll() is not None for child in p._children.values()):
            p.list()
            return
        time.sleep(0.02)
    raise AssertionError("processes still running")


class TestBackoff:
    """After a boot failure launches are refused with the cause until the backoff passed."""

    def test_failure_then_exponential_bounded_backoff(self, tmp_path: Path) -> None:
        clock = SimClock()
        p = provider(tmp_path, clock, FAILING)
        waits = []
        for attempt in range(5):
            assert len(p.launch("default", 1, f"r{attempt}")) == 1
            wait_gone(p)
            with pytest.raises(ProviderError) as err:
                p.launch("default", 1, f"r{attempt}-again")
            text = str(err.value)
            assert f"{attempt + 1} instance(s) in a row died while booting" in text
            assert "exited with status 3: gw: cannot bind 127.0.0.1" in text
            waits.append(p.boot.wait(p.settings, clock.now()))
            clock.advance(waits[-1] - 1)
            with pytest.raises(ProviderError):
                p.launch("default", 1, f"r{attempt}-early")
            clock.advance(1)
        assert waits == [10, 20, 40, 40, 40]

    def test_missing_program_names_the_cause(self, tmp_path: Path) -> None:
        clock = SimClock()
        p = provider(tmp_path, clock, MISSING)
        p.launch("default", 2, "r1")
        wait_gone(p)
        with pytest.raises(ProviderError, match=r"status 127: .*no-such-gateway"):
            p.launch("default", 2, "r2")

    def test_a_process_that_lives_resets_the_count(self, tmp_path: Path) -> None:
        clock = SimClock()
        p = provider(tmp_path, clock, FAILING, commands={"good": ["sleep", "30"]})
        try:
            p.launch("default", 1, "r1")
            wait_gone(p)
            assert p.boot.count == 1
            clock.advance(10)
            p.launch("good", 1, "r2")
            clock.advance(5)  # boot_window
            assert len(p.list()) == 1
            assert p.boot.count == 0 and p.boot.wait(p.settings, clock.now()) == 0
        finally:
            p.terminate([i.id for i in p.list()], "teardown")

    def test_idempotent_retry_is_not_refused(self, tmp_path: Path) -> None:
        """A launch asking for nothing more than is running goes through during the backoff."""
        clock = SimClock()
        p = provider(tmp_path, clock, FAILING, commands={"good": ["sleep", "30"]})
        try:
            made = p.launch("good", 1, "r1")
            p.launch("default", 1, "r2")
            wait_gone_one = time.monotonic() + 10
            while len(p.list()) > 1 and time.monotonic() < wait_gone_one:
                time.sleep(0.02)
            assert p.boot.count == 1
            assert p.launch("good", 1, "r1") == made
        finally:
            p.terminate([i.id for i in p.list()], "teardown")


class TestInTheCycle:
    """Through a PoolRunner: the boot failure is in the cycle's errors and in ``explain``, and
    the pool does not relaunch every cycle."""

    def test_cycle_shows_the_cause_and_launches_back_off(self, tmp_path: Path) -> None:
        clock = SimClock()
        p = provider(tmp_path, clock, FAILING)
        fr = fault_runner(tmp_path, p, clock, load=2.0)
        first = fr.cycle()
        assert not first.errors and "launched 2 x default" in " ".join(first.outcome)
        wait_gone(p)
        clock.advance(1)
        launches = 0
        for _ in range(6):  # six cycles one second apart, all inside the 10 s backoff
            rec = fr.cycle()
            launches += sum(1 for line in rec.outcome if line.startswith("launched"))
            assert any("died while booting" in e and "cannot bind" in e for e in rec.errors), rec.errors
            clock.advance(1)
        assert launches == 0
        text = fr.explained()
        assert "ERROR:" in text and "died while booting" in text and "exited with status 3" in text
