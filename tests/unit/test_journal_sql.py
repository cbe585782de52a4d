"""The SQL journal: cycle records, drains, known instances, operator controls, memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fleetscale.errors import JournalError
from fleetscale.journal.explain import explain
from fleetscale.journal.record import CycleRecord
from fleetscale.journal.sql import SqlJournal
from fleetscale.model import Decision, Direction, Instance, InstanceState, Launch, Observation, Plan, Proposal

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def record(pool: str = "web", n: int = 1, errors: tuple[str, ...] = ()) -> CycleRecord:
    at = NOW + timedelta(minutes=n)
    return CycleRecord(
        pool=pool, cycle_id=f"{pool}:{n}", started_at=at, finished_at=at, dry_run=False,
        observations=(Observation("trace", "load", 7.5, at),
                      Observation("kam", "sessions", 3, at, instance_id="i-1")),
        instances=(Instance("i-1", "small", InstanceState.READY),
                   Instance("i-2", "small", InstanceState.PENDING)),
        proposals=(Proposal("target", 10, "load 7.5 / 0.75 per unit -> 10"),),
        steps=("bounds: 10 within 1..20", "cooldown up: ok"),
        decision=Decision(pool, at, 2, 10, "target: load 7.5 / 0.75 per unit -> 10"),
        plan=Plan(pool, f"{pool}:{n}", launch=(Launch("small", 8),)),
        outcome=("launched 8 x small: i-3, ...",), errors=errors,
    )


@pytest.fixture
def journal(tmp_path: Path) -> SqlJournal:
    return SqlJournal(f"sqlite:///{tmp_path / 'j.db'}")


class TestCycles:
    """Every cycle is stored whole and read back newest-last."""

    def test_roundtrip(self, journal: SqlJournal) -> None:
        for n in range(1, 6):
            journal.record(record(n=n))
        journal.record(record(pool="other"))
        got = journal.cycles("web", last=3)
        assert [r["cycle_id"] for r in got] == ["web:3", "web:4", "web:5"]
        assert got[0]["decision"]["direction"] == "up"
        assert got[0]["plan"]["launch"] == [{"type": "small", "count": 8}]
        assert journal.pools() == ["other", "web"]

    def test_explain_reads_like_a_story(self, journal: SqlJournal) -> None:
        journal.record(record(n=1, errors=("source kam sessions: timeout",)))
        text = explain(journal.cycles("web", 1))
        assert "UP 2 -> 10 units" in text
        assert "why:       target: load 7.5 / 0.75 per unit -> 10" in text
        assert "policy    target: wants 10" in text
        assert "governor: bounds: 10 within 1..20; cooldown up: ok" in text
        assert "load=7.5 (trace); sessions for 1 instances" in text
        assert "1 pending, 1 ready (1 units ready)" in text
        assert "plan:      launch 8 x small" in text
        assert "ERROR:     source kam sessions: timeout" in text

    def test_unreachable_database_is_a_journal_error(self) -> None:
        with pytest.raises(JournalError, match="cannot open"):
            SqlJournal("mysql+pymysql://nobody:secret@127.0.0.1:1/none")


class TestState:
    """Operator controls survive a new connection."""

    def test_operator(self, journal: SqlJournal) -> None:
        journal.pause("web", NOW, Direction.DOWN)
        journal.hold("web", 4, NOW + timedelta(hours=1), NOW)
        op = journal.operator("web", NOW)
        assert op.paused == {Direction.DOWN}
        assert op.override is not None and op.override.hold == 4
        assert journal.operator("web", NOW + timedelta(hours=2)).override is None  # expired
        journal.pause("web", NOW)
        assert journal.operator("web", NOW).paused == {Direction.UP, Direction.DOWN}
        assert journal.resume("web") == 3
        assert journal.operator("web", NOW).paused == frozenset()

