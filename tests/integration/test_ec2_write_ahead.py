"""Write-ahead intents around the EC2 provider (ec2_url) in SQLite and MariaDB journals:
whatever step a controller stopped at, recovery neither duplicates, forgets nor leaks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetscale.errors import CapacityError, JournalError
from fleetscale.journal.intents import FAILED, PENDING, IntentLog
from fleetscale.journal.write_ahead import WriteAhead, recovered
from fleetscale.state import FleetState
from tests.contract import aws
from tests.contract.drainers import RecordingDrainer

pytestmark = pytest.mark.integration
NOW = datetime(2026, 1, 5, tzinfo=UTC)


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
        (done,) = log.history("web")
        assert done.result == {"ids": ["i-1", "i-2"]} and log.history("api") == []

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
    """A restart replays open intents idempotently; intents close once their effect is saved."""

    def test_launch_stays_open_until_committed(self, ec2_url: str, journal_url: str) -> None:
        wa = fresh(ec2_url, journal_url)
        made = wa.launch("t3.small", 2, "r1")
        assert [i.action for i in wa.intents.pending("web")] == ["launch"]
        wa.commit()  # the controller saved the state that records the launch
        assert wa.intents.pending("web") == [] and len(made) == 2

    def test_killed_after_launch_request_does_not_duplicate(self, ec2_url: str, journal_url: str) -> None:
        first = fresh(ec2_url, journal_url)
        made = first.launch("t3.small", 2, "r1")  # ...and killed before the state was saved
        again = fresh(ec2_url, journal_url)
        rec = again.recover(again.provider.list(), {})
        assert sorted(i.id for i in rec.launched) == sorted(i.id for i in made)
        assert len(again.provider.list()) == 2
        state = recovered(FleetState("web"), rec, NOW)
        assert set(state.known) == {i.id for i in made}
        again.commit()
        assert again.intents.pending("web") == []

    def test_killed_before_launch_request_launches_once(self, ec2_url: str, journal_url: str) -> None:
        fresh(ec2_url, journal_url).intents.begin("web", "r1", "launch", "m5.large", {"count": 3})
        again = fresh(ec2_url, journal_url)
        again.recover(again.provider.list(), {})
        again.recover(again.provider.list(), {})
        listed = again.provider.list()
        assert [i.type for i in listed] == ["m5.large"] * 3

    def test_saved_drains_are_begun_again_once_per_start(self, ec2_url: str, journal_url: str) -> None:
        wa = fresh(ec2_url, journal_url)
        victim, other = wa.launch("t3.small", 2, "r1")
        wa.begin_drain(victim)
        wa.commit()
        drainer = RecordingDrainer()
        again = fresh(ec2_url, journal_url, drainer)
        drains = {victim.id: NOW}
        rec = again.recover(again.provider.list(), drains)
        assert rec.errors == [] and drainer.begun == [victim.id]
        assert again.recover(again.provider.list(), drains).redrained == [] and drainer.begun == [victim.id]
        again.terminate([victim.id], "r3")
        again.commit()
        assert [i.id for i in again.provider.list()] == [other.id]
        assert again.intents.pending("web") == []

    def test_drain_killed_before_the_state_was_saved_is_replayed(self, ec2_url: str,
                                                                 journal_url: str) -> None:
        wa = fresh(ec2_url, journal_url)
        victim, _ = wa.launch("t3.small", 2, "r1")
        wa.commit()
        wa.begin_drain(victim)  # killed before the state recorded the drain
        drainer = RecordingDrainer()
        again = fresh(ec2_url, journal_url, drainer)
        rec = again.recover(again.provider.list(), {})
        assert rec.redrained == [victim.id] and drainer.begun == [victim.id]
        assert set(recovered(FleetState("web"), rec, NOW).drains) == {victim.id}

    def test_cancelled_drain_is_closed(self, ec2_url: str, journal_url: str) -> None:
        wa = fresh(ec2_url, journal_url)
        (inst,) = wa.launch("t3.small", 1, "r1")
        wa.begin_drain(inst)
        wa.commit()
        wa.intents.begin("web", "r3", "cancel", inst.id)  # killed before cancelling
        drainer = RecordingDrainer()
        again = fresh(ec2_url, journal_url, drainer)
        rec = again.recover(again.provider.list(), {inst.id: NOW})
        assert rec.cancelled == [inst.id] and drainer.cancelled == [inst.id] and drainer.begun == []
        assert dict(recovered(FleetState("web").drain_recorded(inst.id, NOW), rec, NOW).drains) == {}

    def test_killed_after_terminate_intent_terminates(self, ec2_url: str, journal_url: str) -> None:
        wa = fresh(ec2_url, journal_url)
        a, b = wa.launch("t3.small", 2, "r1")
        wa.commit()
        wa.intents.begin("web", "r3", "terminate", a.id)  # killed before the request
        again = fresh(ec2_url, journal_url)
        assert again.recover(again.provider.list(), {}).terminated == [a.id]
        assert [i.id for i in again.provider.list()] == [b.id]
        again.commit()
        assert again.intents.pending("web") == []

    def test_drain_of_a_vanished_instance_is_closed(self, ec2_url: str, journal_url: str) -> None:
        wa = fresh(ec2_url, journal_url)
        (inst,) = wa.launch("t3.small", 1, "r1")
        wa.commit()
        wa.begin_drain(inst)
        wa.provider.terminate([inst.id], "outside")
        again = fresh(ec2_url, journal_url)
        assert again.recover(again.provider.list(), {}).redrained == []
        assert again.intents.pending("web") == []

    def test_capacity_error_closes_the_launch_intent(self, ec2_url: str, journal_url: str) -> None:
        wa = fresh(ec2_url, journal_url)
        aws.inject(wa.provider.client, "RunInstances", "InsufficientInstanceCapacity", lambda body: True)
        with pytest.raises(CapacityError):
            wa.launch("t3.small", 1, "r1")
        (intent,) = wa.intents.history("web")
        assert intent.state == FAILED and "no capacity for t3.small" in (intent.error or "")
