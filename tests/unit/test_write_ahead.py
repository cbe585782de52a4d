"""Write-ahead recovery when the drainer fails during the replay (simulated provider, SQLite)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetscale.errors import DrainError, ProviderError
from fleetscale.journal.intents import IntentLog
from fleetscale.journal.write_ahead import WriteAhead, recovered
from fleetscale.model import Instance, InstanceType
from fleetscale.sim.clock import SimClock
from fleetscale.sim.provider import SimulatedProvider
from fleetscale.state import FleetState
from tests.contract.drainers import RecordingDrainer

NOW = datetime(2026, 1, 5, tzinfo=UTC)


class FlakyDrainer(RecordingDrainer):
    """Refuses its first ``failures`` begin/cancel calls (Kamailio's database unreachable)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def _maybe_fail(self, instance: Instance) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise DrainError(f"cannot lock gateway {instance.id}: database unreachable")

    def begin(self, instance: Instance) -> None:
        self._maybe_fail(instance)
        super().begin(instance)

    def cancel(self, instance: Instance) -> None:
        self._maybe_fail(instance)
        super().cancel(instance)


class TestReplayWithAFailingDrainer:
    """A drainer error during recovery is reported and retried, never raised nor forgotten."""

    def setup(self, tmp_path: Path) -> tuple[SimulatedProvider, str, SimClock]:
        clock = SimClock()
        provider = SimulatedProvider(clock, (InstanceType("default"),), pool="web", boot_delay=0.0)
        return provider, f"sqlite:///{tmp_path / 'journal.db'}", clock

    def test_redrain_is_retried_until_the_drainer_takes_it(self, tmp_path: Path) -> None:
        provider, url, clock = self.setup(tmp_path)
        first = WriteAhead("web", provider, RecordingDrainer(), IntentLog(url))
        victim, _ = first.launch("default", 2, "r1")
        first.commit()
        first.intents.begin("web", "r2", "drain", victim.id)  # killed before drainer.begin
        clock.advance(60)
        drainer = FlakyDrainer(failures=1)
        again = WriteAhead("web", provider, drainer, IntentLog(url))
        rec = again.recover(provider.list(), {})
        assert rec.redrained == [] and len(rec.errors) == 1 and "database unreachable" in rec.errors[0]
        rec = again.recover(provider.list(), {})
        assert rec.redrained == [victim.id] and drainer.begun == [victim.id], "retried once it works"
        state = recovered(FleetState("web"), rec, clock.now())
        assert set(state.drains) == {victim.id}, "the replayed drain is in the state"
        again.commit()
        assert again.recover(provider.list(), state.drains).redrained == [], "begun again once"
        assert again.intents.pending("web") == []

    def test_launch_replayed_after_a_kill_before_the_state_was_saved(self, tmp_path: Path) -> None:
        provider, url, clock = self.setup(tmp_path)
        first = WriteAhead("web", provider, RecordingDrainer(), IntentLog(url))
        made = first.launch("default", 2, "r1")  # killed before the state recorded them
        first.intents.begin("web", "r2", "drain", made[0].id)
        again = WriteAhead("web", provider, FlakyDrainer(failures=1), IntentLog(url))
        rec = again.recover(provider.list(), {}, clock.now())
        assert rec.errors and {i.id for i in rec.launched} == {m.id for m in made}, "same request: no new"
        state = recovered(FleetState("web"), rec, clock.now())
        assert set(state.known) == {m.id for m in made}, "launched ids recorded"
        assert len(provider.list()) == 2

    def test_a_refused_drain_is_not_begun_by_a_later_restart(self, tmp_path: Path) -> None:
        """The controller never recorded that drain; a restart days later must not start it."""
        provider, url, _ = self.setup(tmp_path)
        first = WriteAhead("web", provider, FlakyDrainer(failures=1), IntentLog(url))
        (inst,) = first.launch("default", 1, "r1")
        first.commit()
        with pytest.raises(DrainError):
            first.begin_drain(inst)
        drainer = RecordingDrainer()
        again = WriteAhead("web", provider, drainer, IntentLog(url))
        assert again.recover(provider.list(), {}).redrained == [] and drainer.begun == []
        assert again.intents.pending("web") == []

    def test_cancel_is_retried(self, tmp_path: Path) -> None:
        provider, url, _ = self.setup(tmp_path)
        first = WriteAhead("web", provider, RecordingDrainer(), IntentLog(url))
        (inst,) = first.launch("default", 1, "r1")
        first.begin_drain(inst)
        first.commit()
        first.intents.begin("web", "r3", "cancel", inst.id)  # killed before cancelling
        drainer = FlakyDrainer(failures=2)  # the startup re-begin of the saved drain fails too
        again = WriteAhead("web", provider, drainer, IntentLog(url))
        rec = again.recover(provider.list(), {inst.id: NOW})
        assert rec.cancelled == [] and rec.errors
        rec = again.recover(provider.list(), {inst.id: NOW})
        assert rec.cancelled == [inst.id] and drainer.cancelled == [inst.id]
        again.commit()
        assert again.intents.pending("web") == []


class FailingTerminate(SimulatedProvider):
    """A cloud API that refuses one terminate call (an outage), then works."""

    refuse = 1

    def terminate(self, ids: Sequence[str], request_id: str) -> None:
        if self.refuse:
            self.refuse -= 1
            raise ProviderError("terminate_instances: 503 Service Unavailable")
        super().terminate(ids, request_id)


class TestFailedTerminate:
    """A terminate the provider refused is not replayed later without a fresh decision: by
    then the instance may be ready and carrying sessions."""

    def test_refused_terminate_is_closed_not_replayed(self, tmp_path: Path) -> None:
        clock = SimClock()
        provider = FailingTerminate(clock, (InstanceType("default"),), pool="web", boot_delay=60.0)
        wa = WriteAhead("web", provider, RecordingDrainer(), IntentLog(f"sqlite:///{tmp_path / 'j.db'}"))
        (booting,) = wa.launch("default", 1, "r1")
        with pytest.raises(ProviderError):
            wa.terminate([booting.id], "r2")  # planned while it was still pending and idle
        wa.commit()
        assert wa.intents.pending("web") == []
        clock.advance(120)  # it boots and takes calls
        rec = wa.recover(provider.list(), {})
        assert rec.terminated == [] and [i.id for i in provider.list()] == [booting.id]

    def test_refused_replay_is_closed_too(self, tmp_path: Path) -> None:
        clock = SimClock()
        provider = FailingTerminate(clock, (InstanceType("default"),), pool="web", boot_delay=60.0)
        url = f"sqlite:///{tmp_path / 'j.db'}"
        first = WriteAhead("web", provider, RecordingDrainer(), IntentLog(url))
        (booting,) = first.launch("default", 1, "r1")
        first.commit()
        first.intents.begin("web", "r2", "terminate", booting.id)  # killed before the request
        again = WriteAhead("web", provider, RecordingDrainer(), IntentLog(url))
        rec = again.recover(provider.list(), {})
        assert rec.terminated == [] and rec.errors and again.intents.pending("web") == []
        clock.advance(120)
        assert again.recover(provider.list(), {}).terminated == [] and len(provider.list()) == 1
