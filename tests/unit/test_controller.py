"""The controller's cycle with the real decision code, a simulated provider and an SQLite journal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from fleetscale.controller import Controller
from fleetscale.errors import ProviderError, SourceError
from fleetscale.journal.record import CycleRecord
from fleetscale.journal.sql import SqlJournal
from fleetscale.model import Direction, Instance, InstanceState, Observation
from fleetscale.sources.fixed import FixedSource
from fleetscale.sources.media_redis import MediaRedisSource
from tests.unit.controller_kit import kit, pool_config


class TestScaleUp:
    """Load above capacity launches instances; booting ones count, so nothing launches twice."""

    def test_scale_up_and_boot(self, tmp_path: Path) -> None:
        k = kit(tmp_path, load=4)
        (first,) = k.step()
        assert first.decision is not None and first.decision.direction is Direction.UP
        assert first.decision.desired == 4
        assert [(x.type, x.count) for x in first.plan.launch] == [("default", 4)]  # type: ignore[union-attr]
        assert first.outcome[0].startswith("launched 4 x default: sim-00001")
        second, third = k.step(2)
        assert second.plan is not None and second.plan.empty  # pending instances count
        assert k.ready() == 4
        assert third.decision is not None and third.decision.current == 4
        assert set(k.saved().known) == k.live()


class TestDrain:
    """Scale-down drains; an instance is terminated only once its sessions reached zero."""

    def test_drain_then_terminate(self, tmp_path: Path) -> None:
        k = kit(tmp_path, load=1, initial=4, drain_time=150)
        (rec,) = k.step()
        drained = set(rec.plan.begin_drain)  # type: ignore[union-attr]
        assert len(drained) == 3 and rec.decision.desired == 1  # type: ignore[union-attr]
        assert set(dict(k.saved().drains)) == drained
        sessions_seen: dict[str, list[float | None]] = {i: [] for i in drained}
        terminated_at: dict[str, datetime] = {}
        for _ in range(5):
            (rec,) = k.step()
            for o in rec.observations:
                if o.metric == "sessions" and o.instance_id in drained:
                    sessions_seen[o.instance_id].append(o.value)
            for line in rec.outcome:
                if line.startswith("terminated "):
                    terminated_at[line.split()[1]] = rec.started_at
                    assert "0 sessions" in line
            assert {i.state for i in rec.instances if i.id in drained} <= {InstanceState.DRAINING}
        assert set(terminated_at) == drained
        for iid in drained:
            assert sessions_seen[iid][-1] == 0 and sessions_seen[iid][0] > 0
        assert k.live().isdisjoint(drained) and k.ready() == 1
        assert dict(k.saved().drains) == {}

    @pytest.mark.parametrize("garbage", [float("nan"), float("inf"), -3.0], ids=["nan", "inf", "negative"])
    def test_garbage_session_counts_are_unknown_not_a_crash(self, tmp_path: Path, garbage: float) -> None:
        k = kit(tmp_path, load=1, initial=4, drain_time=150)
        per_instance = {i.address: garbage for i in k.provider.list()}
        junk = FixedSource(None, metric="sessions", per_instance=per_instance)
        k.runner.sources = (k.source, junk)
        recs = k.step(6)
        assert not [e for r in recs for e in r.errors if "sessions" not in e], [r.errors for r in recs]
        drained = set(recs[0].plan.begin_drain)  # type: ignore[union-attr]
        assert len(drained) == 3
        # the drainer's own count still ends each drain at zero; the garbage never did
        assert k.live().isdisjoint(drained) and k.ready() == 1

    def test_restart_does_not_forget_a_drain(self, tmp_path: Path) -> None:
        k = kit(tmp_path, load=2, initial=3, drain_time=200)
        (rec,) = k.step()
        (victim,) = rec.plan.begin_drain  # type: ignore[union-attr]
        # a new controller process: new journal connection, new runner, same world
        fresh = SqlJournal(f"sqlite:///{tmp_path / 'journal.db'}")
        k2 = kit(tmp_path, load=2, clock=k.clock, provider=k.provider, journal=fresh)
        (rec,) = k2.step()
        assert {i.id: i.state for i in rec.instances}[victim] is InstanceState.DRAINING
        assert rec.decision is not None and rec.decision.current == 2  # the draining one excluded
        assert rec.plan is not None and rec.plan.empty
        recs = k2.step(4)
        assert any(line.startswith(f"terminated {victim} (drained") for r in recs for line in r.outcome)
        assert victim not in k.live()

    def test_deadline_wait_never_cuts(self, tmp_path: Path) -> None:
        pool = pool_config(drain={"deadline": 60})
        k = kit(tmp_path, load=1, pool=pool, initial=2, drain_time=10_000)
        k.step()
        recs = k.step(5)
        assert not any(line.startswith("terminated") for r in recs for line in r.outcome)
        assert any("waiting for" in line for line in recs[-1].outcome)

    def test_deadline_terminate(self, tmp_path: Path) -> None:
        pool = pool_config(drain={"deadline": 60, "on_deadline": "terminate"})
        k = kit(tmp_path, load=1, pool=pool, initial=2, drain_time=10_000)
        k.step()
        recs = k.step(2)
        assert any("on_deadline: terminate" in line for r in recs for line in r.outcome)
        assert len(k.live()) == 1


class BrokenProvider:
    def list(self) -> list[Instance]:
        raise ProviderError("cloud API unreachable")

    def launch(self, type: str, count: int, request_id: str) -> list[Instance]:
        raise ProviderError("cloud API unreachable")

    def terminate(self, ids: Sequence[str], request_id: str) -> None:
        raise ProviderError("cloud API unreachable")


class BrokenSource:
    metric = "load"

    def read(self, pool: str, now: datetime) -> list[Observation]:
        raise SourceError("redis timeout")


class BrokenSink:
    def record(self, cycle: CycleRecord) -> None:
        raise RuntimeError("elasticsearch down")


class TestIsolation:
    """A failing pool, source or sink is journaled as an error; nothing else stops."""

    def test_failing_pool_does_not_stop_another(self, tmp_path: Path) -> None:
        good = kit(tmp_path, load=3)
        bad = kit(tmp_path, load=3, pool=pool_config(name="bad"), journal=good.journal)
        bad.runner.provider = BrokenProvider()
        controller = Controller([bad.runner, good.runner], good.clock)
        bad_rec, good_rec = controller.cycle()
        assert bad_rec.errors == ("provider list failed: ProviderError: cloud API unreachable; holding",)
        assert bad_rec.decision is None
        assert good_rec.outcome[0].startswith("launched 3")
        assert [r["pool"] for r in good.journal.cycles("bad", 5)] == ["bad"]

    def test_failing_launch_is_an_error_not_an_exception(self, tmp_path: Path) -> None:
        k = kit(tmp_path, load=3, max_instances=1)
        (rec,) = k.step()
        assert rec.errors and "no capacity" in rec.errors[0]
        assert k.journal.cycles("web", 1)[0]["errors"] == list(rec.errors)

    def test_failing_source_holds(self, tmp_path: Path) -> None:
        k = kit(tmp_path, initial=3, sources=[BrokenSource()])
        (rec,) = k.step()
        assert rec.errors == ("source BrokenSource load: SourceError: redis timeout",)
        assert rec.decision is not None and rec.decision.desired == 3
        assert rec.plan is not None and rec.plan.empty

    def test_failing_sink_does_not_fail_the_cycle(self, tmp_path: Path) -> None:
        journal = SqlJournal(f"sqlite:///{tmp_path / 'journal.db'}")
        k = kit(tmp_path, load=2, journals=[BrokenSink(), journal], journal=journal)
        (rec,) = k.step()
        assert rec.outcome[0].startswith("launched 2")
        assert len(journal.cycles("web")) == 1


class TestOperator:
    """Dry run acts on nothing; pauses and holds (config or runtime) steer the decision."""

    def test_dry_run_journals_but_acts_on_nothing(self, tmp_path: Path) -> None:
        k = kit(tmp_path, load=5, dry_run=True)
        recs = k.step(3)
        assert k.live() == set()
        assert all(r.plan is not None and r.plan.launch for r in recs)
        stored = k.journal.cycles("web", 3)
        assert all(r["dry_run"] and "dry run: nothing acted" in r["outcome"] for r in stored)

    def test_dry_run_from_config(self, tmp_path: Path) -> None:
        k = kit(tmp_path, load=1, initial=3, pool=pool_config(dry_run=True))
        (rec,) = k.step()
        assert rec.plan is not None and len(rec.plan.begin_drain) == 2
        assert dict(k.saved().drains) == {} and len(k.live()) == 3

    def test_runtime_pause_and_resume(self, tmp_path: Path) -> None:
        k = kit(tmp_path, load=4)
        k.journal.pause("web", k.clock.now(), Direction.UP)
        (rec,) = k.step()
        assert rec.decision is not None and rec.decision.desired == 0 and "pause" in rec.decision.reason
        assert k.live() == set()
        k.journal.resume("web")
        (rec,) = k.step()
        assert len(k.live()) == 4

    def test_config_pause_down(self, tmp_path: Path) -> None:
        k = kit(tmp_path, load=1, initial=3, pool=pool_config(paused=["down"]))
        (rec,) = k.step()
        assert rec.decision is not None and rec.decision.desired == 3
        assert dict(k.saved().drains) == {}

    def test_runtime_hold_until(self, tmp_path: Path) -> None:
        k = kit(tmp_path, load=8)
        k.journal.hold("web", 2, k.clock.now() + timedelta(minutes=2), k.clock.now())
        (rec,) = k.step()
        assert rec.decision is not None and rec.decision.desired == 2
        k.step(2)  # the hold expires
        assert len(k.live()) == 8

    def test_config_override(self, tmp_path: Path) -> None:
        until = (k_now := kit(tmp_path).clock.now()) + timedelta(hours=1)
        pool = pool_config(override={"hold": 5, "until": until.isoformat()})
        k = kit(tmp_path, load=1, pool=pool)
        assert k.clock.now() == k_now
        (rec,) = k.step()
        assert rec.decision is not None and rec.decision.desired == 5


class TestReconcile:
    """Registration, boot timeouts and unknown instances, as the controller acts on them."""

    def test_require_registration_by_address(self, tmp_path: Path) -> None:
        pool = pool_config(require_registration=True)
        k = kit(tmp_path, load=2, pool=pool, initial=2)
        (rec,) = k.step()
        assert {i.state for i in rec.instances} == {InstanceState.PENDING}
        addresses = {i.address: 1.0 for i in k.provider.list()}
        reg = FixedSource(None, metric="registered", per_instance=addresses)
        k.runner.sources = (k.source, reg)
        (rec,) = k.step()
        assert {i.state for i in rec.instances} == {InstanceState.READY}
        assert {o.instance_id for o in rec.observations if o.metric == "registered"} == k.live()

    def test_boot_timeout_replaces_instance(self, tmp_path: Path) -> None:
        pool = pool_config(boot_timeout=120)
        k = kit(tmp_path, load=1, pool=pool, boot_failure_rate=1.0)
        k.step()
        (stuck,) = k.live()
        recs = k.step(3)
        lines = [line for r in recs for line in r.outcome]
        assert any(line.startswith(f"terminated {stuck} (not ready after") for line in lines)
        assert stuck not in k.live()

    def test_unknown_adopted(self, tmp_path: Path) -> None:
        k = kit(tmp_path, load=2, initial=2)
        (rec,) = k.step()
        assert rec.outcome == ("adopted sim-00001, sim-00002",)
        assert set(k.saved().known) == {"sim-00001", "sim-00002"}

    def test_unknown_terminated_after_drain(self, tmp_path: Path) -> None:
        k = kit(tmp_path, load=2, initial=2, pool=pool_config(unknown_instances="terminate"))
        recs = k.step(4)
        assert "drain begun on sim-00001 (unknown instance" in " ".join(recs[0].outcome)
        assert not {"sim-00001", "sim-00002"} & k.live()

    def test_adopted_instance_marked_to_stop_resumes_its_drain(self, tmp_path: Path) -> None:
        k = kit(tmp_path, load=2, initial=2)
        marked = {i.address: (1.0 if i.id == "sim-00002" else 0.0) for i in k.provider.list()}
        k.runner.sources = (k.source, FixedSource(None, metric="to_stop", per_instance=marked))
        (rec,) = k.step()
        assert "adopted sim-00001, sim-00002" in rec.outcome
        assert any(line.startswith("drain begun on sim-00002 (adopted while marked to_stop")
                   for line in rec.outcome)
        assert set(dict(k.saved().drains)) == {"sim-00002"}

    def test_a_source_that_cannot_read_leaves_registrations_unknown(self, tmp_path: Path) -> None:
        """After a restart during a Redis outage the media source reports only a failed
        ``load``: the gateways must not be taken for unregistered (and cut at boot_timeout)."""
        pool = pool_config(require_registration=True, boot_timeout=120)
        k = kit(tmp_path, load=2, pool=pool, initial=2)
        registered = FixedSource(None, metric="registered",
                                 per_instance={i.address: 1.0 for i in k.provider.list()})
        k.runner.sources = (k.source, registered)
        (rec,) = k.step()
        assert {i.state for i in rec.instances} == {InstanceState.READY}
        nothing_listens = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
        down = MediaRedisSource(nothing_listens, "fs:{pool}:", "rooms", "load", 1)
        restarted = kit(tmp_path, pool=pool, sources=[down], clock=k.clock, provider=k.provider,
                        journal=k.journal)
        recs = restarted.step(4)
        assert all(r.errors for r in recs), "the outage is reported"
        assert restarted.live() == {"sim-00001", "sim-00002"}, [r.outcome for r in recs]
        assert {i.state for i in recs[-1].instances} == {InstanceState.READY}


class TestMemory:
    """The governor's memory is kept per pool and checkpointed in the journal."""

    def test_checkpoint_restored(self, tmp_path: Path) -> None:
        pool = pool_config(governor={"down": {"stabilisation": 0, "hysteresis": 3}})
        k = kit(tmp_path, load=1, initial=4, pool=pool)
        k.step(2)
        assert k.runner.state.memory.governor.down_streak == 2
        k2 = kit(tmp_path, load=1, pool=pool, clock=k.clock, provider=k.provider,
                 journal=SqlJournal(f"sqlite:///{tmp_path / 'journal.db'}"))
        assert k2.runner.state.memory.governor == k.runner.state.memory.governor
        (rec,) = k2.step()
        assert rec.plan is not None and len(rec.plan.begin_drain) == 3  # third agreeing cycle


def test_run_paced_each_pool_on_its_interval(tmp_path: Path) -> None:
    a = kit(tmp_path, load=1, pool=pool_config(name="a", interval=30))
    b = kit(tmp_path, load=1, pool=pool_config(name="b", interval=90), clock=a.clock, journal=a.journal)
    seen: list[str] = []
    Controller([a.runner, b.runner], a.clock).run_paced(a.clock.now() + timedelta(seconds=180),
                                                        on_cycle=lambda r: seen.append(r.pool))
    assert seen.count("a") == 6 and seen.count("b") == 2


def test_source_sessions_keep_a_drain_waiting(tmp_path: Path) -> None:
    """A drainer that reports 0 does not win over a source that still sees live sessions."""
    from fleetscale.drainers.none import NoDrainer

    k = kit(tmp_path, load=1, initial=2)
    k.runner.drainer = NoDrainer()
    (rec,) = k.step()
    (victim,) = rec.plan.begin_drain  # type: ignore[union-attr]
    address = {i.id: i.address for i in k.provider.list()}[victim]
    calls = FixedSource(None, metric="sessions", per_instance={str(address): 3})
    k.runner.sources = (k.source, calls)
    recs = k.step(3)
    assert victim in k.live()
    assert not any(line.startswith("terminated") for r in recs for line in r.outcome)
    calls.per_instance = {str(address): 0}
    (rec,) = k.step()
    assert rec.outcome == (f"terminated {victim} (drained: 0 sessions after 240 s)",)


class TestRealTimeRun:
    """Controller.run stops when asked and gives the caller its signal handlers back."""

    def test_run_restores_signal_handlers(self, tmp_path: Path) -> None:
        import signal
        import threading

        k = kit(tmp_path, load=1)
        controller = Controller([k.runner], k.clock)
        stop = threading.Event()
        stop.set()  # stop after the first wait
        before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
        controller.run(stop=stop)
        assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before

    def test_run_collects_less_and_gives_the_collector_back(self, tmp_path: Path) -> None:
        """While running, what existed at start is frozen out of the cyclic collector and its
        thresholds are the controller's; after, the caller's thresholds and nothing frozen."""
        import gc
        import threading

        from fleetscale.controller import GC_THRESHOLDS

        k = kit(tmp_path, load=1)
        seen: list[tuple[tuple[int, int, int], int]] = []
        stop = threading.Event()

        class Peek:
            required = False

            def record(self, rec: object) -> None:
                seen.append((gc.get_threshold(), gc.get_freeze_count()))
                stop.set()

        k.runner.journals = (*k.runner.journals, Peek())
        before = gc.get_threshold()
        Controller([k.runner], k.clock).run(stop=stop, install_signals=False)
        assert seen and seen[0][0] == GC_THRESHOLDS and seen[0][1] > 0
        assert gc.get_threshold() == before and gc.get_freeze_count() == 0


class _BrokenJournal:
    """A required sink that cannot write (a full disk, a read-only database)."""

    required = True

    def __init__(self) -> None:
        self.broken = True

    def record(self, cycle: object) -> None:
        if self.broken:
            raise OSError("disk full")


def test_a_journal_that_cannot_be_written_holds_the_pool(tmp_path: Path) -> None:
    broken = _BrokenJournal()
    k = kit(tmp_path, load=2, initial=1, journals=[broken])
    (first,) = k.step()  # acts (the journal failure is known only after the record)
    assert "journal cannot be written: OSError: disk full" in first.errors
    assert k.runner.journal_error is not None
    k.source.value = 6.0
    (second,) = k.step()
    assert second.decision is not None and second.decision.desired > second.decision.current
    assert second.outcome == ("held: journal cannot be written: OSError: disk full; nothing acted",)
    broken.broken = False
    (third,) = k.step()
    assert k.runner.journal_error is None and third.errors == ()
    (fourth,) = k.step()
    assert any(o.startswith("launched") for o in fourth.outcome)


def test_garbage_readings_hold_and_are_named(tmp_path: Path) -> None:
    """NaN, infinite or negative readings are errors of the cycle (the pool holds, explain says why)."""
    for n, bad in enumerate((float("nan"), float("inf"), -3.0)):
        (tmp_path / str(n)).mkdir()
        k = kit(tmp_path / str(n), load=2, initial=4)
        k.source.value = bad
        (rec,) = k.step()
        assert any("garbage reading" in e for e in rec.errors), rec.errors
        assert rec.decision is not None and rec.decision.desired >= rec.decision.current
        assert not rec.plan or not rec.plan.begin_drain
