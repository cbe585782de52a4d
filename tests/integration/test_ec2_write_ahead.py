"""Write-ahead intents around the EC2 provider (ec2_url) in SQLite and MariaDB journals:
whatever step a controller stopped at, recovery neither duplicates, forgets nor leaks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetscale.errors import CapacityError, JournalError
from fleetscale.journal.intents import FAILED, PENDING, IntentLog
from fleetscale.journal.write_ahead import JournaledDrainer, JournaledProvider, WriteAhead
from tests.contract import aws
from tests.contract.drainers import RecordingDrainer

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "mariadb"])
def journal_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'journal.db'}"
    else:
        server = request.getfixturevalue("mysql_server")
        yield server.url(request.getfixturevalue("mysql_db"))


def fresh(ec2_url: str, url: str, drainer: RecordingDrainer | None = None) -> WriteAhead:
    """A controller (re)started: new provider, new connection to the same journal."""
    return WriteAhead("web", aws.provider(ec2_url), drainer or RecordingDrainer(), IntentLog(url))


class TestIntentLog:
    """Intents are unique by key, and their state survives a new connection."""

    def test_begin_is_idempotent_and_persists(self, journal_url: str) -> None:
        a = IntentLog(journal_url).begin("web", "r1", "launch", "t3.small", {"count": 2})
        b = IntentLog(journal_url).begin("web", "r1", "launch", "t3.small", {"count": 9})
        assert a.id == b.id and b.args == {"count": 2} and b.state == PENDING
        log = IntentLog(journal_url)
        log.finish([a.id], {"ids": ["i-1", "i-2"]})
        assert log.pending("web") == []
        assert log.known("web") == {"i-1", "i-2"}
        assert log.known("api") == set()

    def test_prune_keeps_pending_and_recent(self, journal_url: str) -> None:
        times = iter([datetime(2026, 1, 1, tzinfo=UTC)] * 4 + [datetime(2026, 1, 20, tzinfo=UTC)] * 4)
        log = IntentLog(journal_url, now=lambda: next(times))
        old = log.begin("web", "r1", "launch", "t3.small")
        log.finish([old.id], {"ids": ["i-old"]})
        stuck = log.begin("web", "r2", "drain", "i-1")
        new = log.begin("web", "r3", "launch", "t3.small")
        log.finish([new.id])
        assert log.prune("web", datetime(2026, 1, 10, tzinfo=UTC)) == 1
        assert [i.id for i in log.history("web")] == [stuck.id, new.id]

    def test_unknown_action_is_refused(self, journal_url: str) -> None:
        with pytest.raises(JournalError, match="unknown action"):
            IntentLog(journal_url).begin("web", "r1", "explode", "x")


class TestRecovery:
    """A restart replays pending intents idempotently."""

    def test_launch_done_records_ids(self, ec2_url: str, journal_url: str) -> None:
        wa = fresh(ec2_url, journal_url)
        made = wa.launch("t3.small", 2, "r1")
        assert wa.intents.known("web") == {i.id for i in made}
        assert wa.intents.pending("web") == []

    def test_killed_after_launch_request_does_not_duplicate(self, ec2_url: str, journal_url: str) -> None:
        first = fresh(ec2_url, journal_url)
        first.intents.begin("web", "r1", "launch", "t3.small", {"count": 2})
        made = first.provider.launch("t3.small", 2, "r1")  # ...and killed before marking it done
        again = fresh(ec2_url, journal_url)
        rec = again.recover()
        assert sorted(rec.launched) == sorted(i.id for i in made)
        assert len(again.provider.list()) == 2
        assert again.intents.known("web") == {i.id for i in made}

    def test_killed_before_launch_request_launches_once(self, ec2_url: str, journal_url: str) -> None:
        fresh(ec2_url, journal_url).intents.begin("web", "r1", "launch", "m5.large", {"count": 3})
        again = fresh(ec2_url, journal_url)
        again.recover()
        again.recover()
        listed = again.provider.list()
        assert [i.type for i in listed] == ["m5.large"] * 3

    def test_forgotten_drain_is_begun_again_then_closed(self, ec2_url: str, journal_url: str) -> None:
        wa = fresh(ec2_url, journal_url)
        victim, other = wa.launch("t3.small", 2, "r1")
        wa.begin_drain(victim, "r2")
        drainer = RecordingDrainer()
        again = fresh(ec2_url, journal_url, drainer)
        rec = again.recover()
        assert rec.redrained == [victim.id] and drainer.begun == [victim.id]
        assert again.draining() == {victim.id}
        assert again.recover().redrained == [] and drainer.begun == [victim.id]  # once per start
        again.terminate([victim.id], "r3")
        assert again.draining() == set()
        assert [i.id for i in again.provider.list()] == [other.id]

    def test_cancelled_drain_is_closed(self, ec2_url: str, journal_url: str) -> None:
        wa = fresh(ec2_url, journal_url)
        (inst,) = wa.launch("t3.small", 1, "r1")
        wa.begin_drain(inst, "r2")
        wa.intents.begin("web", "r3", "cancel", inst.id)  # killed before cancelling
        drainer = RecordingDrainer()
        again = fresh(ec2_url, journal_url, drainer)
        rec = again.recover()
        assert rec.cancelled == [inst.id] and drainer.cancelled == [inst.id] and drainer.begun == []
        assert again.draining() == set()

    def test_killed_after_terminate_intent_terminates(self, ec2_url: str, journal_url: str) -> None:
        wa = fresh(ec2_url, journal_url)
        a, b = wa.launch("t3.small", 2, "r1")
        wa.begin_drain(a, "r2")
        wa.intents.begin("web", "r3", "terminate", a.id)  # killed before the request
        again = fresh(ec2_url, journal_url)
        assert again.recover().terminated == [a.id]
        assert [i.id for i in again.provider.list()] == [b.id]
        assert again.draining() == set()
        assert again.intents.pending("web") == []

    def test_drain_of_a_vanished_instance_is_closed(self, ec2_url: str, journal_url: str) -> None:
        wa = fresh(ec2_url, journal_url)
        (inst,) = wa.launch("t3.small", 1, "r1")
        wa.begin_drain(inst, "r2")
        wa.provider.terminate([inst.id], "outside")
        again = fresh(ec2_url, journal_url)
        assert again.recover().redrained == []
        assert again.draining() == set()

    def test_capacity_error_closes_the_launch_intent(self, ec2_url: str, journal_url: str) -> None:
        wa = fresh(ec2_url, journal_url)
        aws.inject(wa.provider.client, "RunInstances", "InsufficientInstanceCapacity", lambda body: True)
        with pytest.raises(CapacityError):
            wa.launch("t3.small", 1, "r1")
        (intent,) = wa.intents.history("web")
        assert intent.state == FAILED and "no capacity for t3.small" in (intent.error or "")


class TestProxies:
    """The journaled provider and drainer act with intents and forward everything else."""

    def test_optional_hooks_reach_the_wrapped_adapters(self, ec2_url: str, tmp_path: Path) -> None:
        class HookedDrainer(RecordingDrainer):
            def reconcile(self, instances: object) -> tuple[str, ...]:
                return ("repaired",)

        wa = WriteAhead("web", aws.provider(ec2_url), HookedDrainer(), IntentLog(f"sqlite:///{tmp_path}/j.db"))
        drainer, provider = JournaledDrainer(wa), JournaledProvider(wa)
        assert drainer.reconcile([]) == ("repaired",)
        plain = JournaledDrainer(fresh(ec2_url, f"sqlite:///{tmp_path}/k.db"))
        assert getattr(plain, "reconcile", None) is None
        assert provider.settings.image_id == wa.provider.settings.image_id  # type: ignore[attr-defined]
        (inst,) = provider.launch("t3.small", 1, "p1")
        drainer.begin(inst)
        assert wa.draining() == {inst.id}
        drainer.cancel(inst)
        assert wa.draining() == set()
        provider.terminate([inst.id], "p2")
        assert provider.list() == [] and wa.intents.pending("web") == []
