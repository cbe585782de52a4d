"""Spans: the real controller's cycles that change nothing are one row, and the journal gives
back every cycle exactly as the controller returned it. (``journal_url`` is overridden by the
MariaDB integration tests, which run these same classes there.)"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import sqlalchemy as sa

from fleetscale.errors import JournalError
from fleetscale.journal.explain import explain
from fleetscale.journal.record import CycleRecord
from fleetscale.journal.sql import SqlJournal, cycles
from fleetscale.journal.state_store import SqlStateStore
from fleetscale.sim.clock import SimClock
from fleetscale.sim.provider import SimulatedProvider
from fleetscale.sources.fixed import FixedSource
from fleetscale.state import FleetState
from tests.unit.controller_kit import Kit, kit, pool_config

INTERVAL = 15


@pytest.fixture
def journal_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'journal.db'}"


@pytest.fixture(params=[False, True], ids=["one-by-one", "batched"])
def journal(journal_url: str, request: pytest.FixtureRequest) -> Iterator[SqlJournal]:
    """The journal as tests use it (one transaction per cycle) and as ``fleetscale run`` does
    (quiet cycles queued and written many per transaction, ``journal/cycle_queue.py``)."""
    j = SqlJournal(journal_url)
    j.batching(request.param)
    yield j
    j.close()


def steady(tmp_path: Path, journal: SqlJournal, load: float = 3.0) -> Kit:
    """A pool of 3 ready instances (launched by this controller) at a load of 3 (1 per unit): it
    holds, cycle after cycle."""
    clock = SimClock()
    provider = SimulatedProvider(clock, pool_config().types(), pool="web", initial=3)
    known = MappingProxyType({i.id: "launched" for i in provider.list()})
    SqlStateStore(journal.engine).save(FleetState("web", known=known))
    return kit(tmp_path, load, pool=pool_config(interval=INTERVAL), journal=journal, clock=clock,
               provider=provider)


def rows(journal: SqlJournal) -> list[Any]:
    journal.flush()
    with journal.engine.begin() as c:
        return list(c.execute(sa.select(cycles.c.id, cycles.c.repeats, cycles.c.started_at,
                                        cycles.c.last_at).order_by(cycles.c.id)).all())


def plain(recs: list[CycleRecord]) -> list[dict[str, Any]]:
    return [json.loads(json.dumps(r.to_dict())) for r in recs]


class TestSpans:
    """N identical cycles are one row; reading gives back N records with their own ids and times."""

    def test_identical_cycles_are_one_row(self, tmp_path: Path, journal: SqlJournal) -> None:
        recs = steady(tmp_path, journal).step(50)
        # a runner's first cycle keeps what a replay needs to start (memory, settings): its own row
        assert [r.repeats for r in rows(journal)] == [0, 48]
        assert journal.cycles("web", 50) == plain(recs)
        assert journal.cycles("web", 3) == plain(recs[-3:])
        assert [r["started_at"] for r in journal.cycles("web", 2)] == [
            r.started_at.isoformat() for r in recs[-2:]]

    def test_a_changed_cycle_starts_a_new_row(self, tmp_path: Path, journal: SqlJournal) -> None:
        k = steady(tmp_path, journal)
        recs = k.step(10)
        assert isinstance(k.source, FixedSource)
        k.source.value = 2.0  # the load falls: the reading changes, then the pool scales down
        recs += k.step(30)
        got = rows(journal)
        assert len(got) >= 4 and (got[0].repeats, got[1].repeats) == (0, 8)
        assert sum(r.repeats + 1 for r in got) == 40
        assert journal.cycles("web", 40) == plain(recs)

    def test_cycles_with_errors_are_never_folded(self, tmp_path: Path, journal: SqlJournal) -> None:
        k = steady(tmp_path, journal)
        failing = kit(tmp_path, None, pool=pool_config(interval=INTERVAL), journal=journal,
                      sources=[_Broken()], clock=k.clock, provider=k.provider)
        recs = failing.step(5)
        assert all(r.errors for r in recs)
        assert [r.repeats for r in rows(journal)] == [0] * 5
        assert journal.cycles("web", 5) == plain(recs)

    def test_a_span_covers_at_most_an_hour(self, tmp_path: Path, journal: SqlJournal) -> None:
        recs = steady(tmp_path, journal).step(300)
        assert [r.repeats + 1 for r in rows(journal)] == [1, 240, 59]  # the first cycle alone
        assert journal.cycles("web", 300) == plain(recs)

    def test_each_cycle_between_two_times(self, tmp_path: Path, journal: SqlJournal) -> None:
        recs = steady(tmp_path, journal).step(300)
        since, until = recs[100].started_at, recs[250].started_at
        assert list(journal.each_cycle("web", since, until)) == plain(recs[100:250])
        assert len(list(journal.each_cycle("web"))) == 300
        assert list(journal.each_cycle("web", until=recs[0].started_at)) == []

    def test_a_restart_starts_a_new_row_and_reads_back_all(self, tmp_path: Path, journal_url: str) -> None:
        first = SqlJournal(journal_url)
        k = steady(tmp_path, first)
        recs = k.step(5)
        first.close()
        again = SqlJournal(journal_url)
        k2 = kit(tmp_path, 3.0, pool=pool_config(interval=INTERVAL), journal=again, clock=k.clock,
                 provider=k.provider)
        recs += k2.step(5)
        assert [r.repeats for r in rows(again)] == [0, 3, 0, 3]  # each runner's first cycle alone
        assert again.cycles("web", 10) == plain(recs)
        again.close()


class TestExplainSpans:
    """explain tells a span once: how many cycles, from when to when."""

    def test_held_n_cycles_from_to(self, tmp_path: Path, journal: SqlJournal) -> None:
        k = steady(tmp_path, journal)
        k.step(40)
        text = explain(journal.spans("web", 5))
        assert "HOLD 3 -> 3 units" in text
        # the runner's first cycle is its own entry (it keeps what a replay needs to start)
        assert "held 39 cycles from 2026-01-05 00:00:15 to 00:09:45 UTC, nothing changed" in text
        assert text.count("why:") == 2

    def test_single_cycles_have_no_span_line(self, tmp_path: Path, journal: SqlJournal) -> None:
        k = steady(tmp_path, journal)
        k.step(1)
        assert "cycles from" not in explain(journal.spans("web", 5))


class _Broken:
    metric = "load"

    def read(self, pool: str, now: Any) -> list[Any]:
        raise ConnectionError("registrar unreachable")


def test_spans_are_read_in_the_order_written(tmp_path: Path, journal: SqlJournal) -> None:
    k = steady(tmp_path, journal)
    k.step(3)
    k.clock.advance(timedelta(hours=2).total_seconds())
    k.step(3)
    entries = journal.spans("web", 10)
    assert [e["repeats"] for e in entries] == [0, 1, 2]  # the runner's first cycle alone
    assert entries[1]["last_at"] < entries[2]["started_at"]


def _as_pool(rec: CycleRecord, pool: str) -> CycleRecord:
    """``rec`` as a cycle of ``pool`` (its id and its plan's request id renamed)."""
    cycle_id = rec.cycle_id.replace("web:", f"{pool}:", 1)
    plan = rec.plan and dataclasses.replace(rec.plan, request_id=cycle_id)
    return dataclasses.replace(rec, pool=pool, cycle_id=cycle_id, plan=plan)


class TestBatchedWrites:
    """Records written many per transaction give the journal the same rows as one by one."""

    def test_same_rows_and_records(self, tmp_path: Path, journal_url: str) -> None:
        source = SqlJournal(f"sqlite:///{tmp_path / 'source.db'}")
        k = steady(tmp_path, source)
        recs = k.step(12)
        assert isinstance(k.source, FixedSource)
        k.source.value = 2.0  # a change (a new row), then a scale-down (an outcome, written at once)
        recs += k.step(30)
        source.close()
        pools = ["a", "b", "c"]
        # the pools' cycles interleaved (a batch of 7 holds a pool two or three times)
        stream = [_as_pool(r, p) for r in recs for p in pools]
        one = SqlJournal(f"sqlite:///{tmp_path / 'one.db'}")
        many = SqlJournal(journal_url)
        many.batching(True)
        other = SqlJournal(journal_url)  # another writer of the same table
        for i, rec in enumerate(stream):
            one.record(rec)
            many.record(rec)
            if i % 7 == 6:
                many.flush()
            if i == 60:  # another writer's row for pool "b": "b"'s span cannot go on past it
                many.flush()
                foreign = dataclasses.replace(_as_pool(recs[20], "b"), cycle_id="b:other.1")
                other.record(foreign)
                one.record(foreign)
        for p in pools:
            assert many.cycles(p, 100) == one.cycles(p, 100)
            assert [(e["repeats"], e["cycle_id"]) for e in many.spans(p, 100)] == [
                (e["repeats"], e["cycle_id"]) for e in one.spans(p, 100)]
        assert len(rows(many)) < len(stream) // 3  # spans were extended across batches
        for j in (one, many, other):
            j.close()

    def test_a_pool_twice_in_one_batch(self, tmp_path: Path, journal: SqlJournal) -> None:
        source = SqlJournal(f"sqlite:///{tmp_path / 'source.db'}")
        recs = steady(tmp_path, source).step(20)
        source.close()
        journal.batching(True)
        for rec in recs:  # one pool: every record after the first starts a new round
            journal.record(rec)
        assert journal.cycles("web", 20) == plain(recs)
        assert [r.repeats for r in rows(journal)] == [0, 18]

    def test_a_failed_flush_keeps_the_records_and_is_reported(self, tmp_path: Path,
                                                              journal_url: str) -> None:
        source = SqlJournal(f"sqlite:///{tmp_path / 'source.db'}")
        recs = steady(tmp_path, source).step(6)
        source.close()
        j = SqlJournal(journal_url)
        j.batching(True)
        for rec in recs[:3]:
            j.record(rec)
        with j.engine.begin() as c:
            c.execute(sa.text("ALTER TABLE fs_cycles RENAME TO fs_cycles_away"))
        with pytest.raises(JournalError):
            j.flush()
        with pytest.raises(JournalError):  # the next record says so: the pool holds
            j.record(recs[3])
        with j.engine.begin() as c:
            c.execute(sa.text("ALTER TABLE fs_cycles_away RENAME TO fs_cycles"))
        j.flush()  # the writer thread's next flush succeeds: records are accepted again
        for rec in recs[4:]:
            j.record(rec)
        assert j.cycles("web", 6) == plain(recs)  # nothing lost, in order
        j.close()
