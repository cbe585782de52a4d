"""Retention: only cycles older than ``journal.retention`` go, a bounded batch at a time; a
journal made by older code is upgraded in place. (``journal_url`` is overridden by the MariaDB
integration tests, which run these same classes there.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from fleetscale import config
from fleetscale.errors import ConfigError
from fleetscale.journal.retention import Pruner
from fleetscale.journal.sql import SqlJournal, cycles
from fleetscale.model import Decision, Observation, Plan
from tests.unit.test_journal_sql import record

NOW = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def journal_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'journal.db'}"


def cycle(n: int, at: datetime, pool: str = "web") -> Any:
    """A cycle of ``pool`` at ``at`` whose load differs from its neighbours' (no span)."""
    base = record(pool=pool, n=1)
    return replace(base, cycle_id=f"{pool}:{n}", started_at=at, finished_at=at, outcome=(),
                   observations=(Observation("trace", "load", float(n), at),),
                   decision=Decision(pool, at, 2, 2, f"hold at 2 (load {n})"),
                   plan=Plan(pool, f"{pool}:{n}"))


def history(journal: SqlJournal, start: datetime, step: timedelta, n: int) -> list[datetime]:
    times = [start + k * step for k in range(n)]
    for k, at in enumerate(times):
        journal.record(cycle(k, at))
    return times


def stored_starts(journal: SqlJournal) -> list[datetime]:
    with journal.engine.begin() as c:
        got = c.execute(sa.select(cycles.c.started_at).order_by(cycles.c.started_at)).scalars().all()
    return [t.replace(tzinfo=UTC) for t in got]


@pytest.fixture
def backlog(journal_url: str) -> Iterator[tuple[SqlJournal, list[datetime]]]:
    """3 days of cycles, one every 10 minutes (432 rows), kept for 10 years while writing."""
    journal = SqlJournal(journal_url, retention=timedelta(days=3650))
    times = history(journal, NOW - 3 * DAY, timedelta(minutes=10), 432)
    yield journal, times
    journal.close()


class TestPruning:
    """Rows older than the retention go, oldest first, at most one batch per call."""

    def test_only_what_is_older_than_retention(self, backlog: tuple[SqlJournal, list[datetime]]) -> None:
        journal, times = backlog
        pruner = Pruner(journal.engine, cycles, DAY, batch=50)
        assert pruner.prune_all(NOW) == sum(1 for t in times if t < NOW - DAY)
        assert stored_starts(journal) == [t for t in times if t >= NOW - DAY]

    def test_in_batches_catching_up_a_batch_a_call(self, backlog: tuple[SqlJournal, list[datetime]]) -> None:
        journal, times = backlog
        expired = sum(1 for t in times if t < NOW - DAY)  # 288
        pruner = Pruner(journal.engine, cycles, DAY, batch=100, every=timedelta(seconds=60))
        assert [pruner.maybe(NOW) for _ in range(4)] == [100, 100, 88, 0]  # behind: no wait
        assert expired == 288 and len(stored_starts(journal)) == 432 - 288
        later = [pruner.maybe(NOW + timedelta(seconds=s)) for s in (30, 59, 61)]
        assert later == [0, 0, 1]  # caught up: once a minute; the row of NOW - 1 day is now old

    def test_oldest_go_first(self, backlog: tuple[SqlJournal, list[datetime]]) -> None:
        journal, times = backlog
        Pruner(journal.engine, cycles, DAY, batch=10).prune_batch(NOW)
        assert stored_starts(journal) == times[10:]

    def test_a_span_stays_while_its_last_cycle_is_kept(self, journal_url: str) -> None:
        journal = SqlJournal(journal_url, retention=timedelta(hours=1))
        start = NOW - timedelta(hours=2)
        base = cycle(1, start)
        for k in range(200):  # one span: identical cycles 15 s apart, 50 min
            at = start + timedelta(seconds=15 * k)
            journal.record(replace(base, cycle_id=f"web:{1 + k}", started_at=at, finished_at=at,
                                   observations=(replace(base.observations[0], at=at),),
                                   decision=replace(base.decision, at=at),
                                   plan=replace(base.plan, request_id=f"web:{1 + k}")))
        last = start + timedelta(seconds=15 * 199)
        assert len(stored_starts(journal)) == 1
        assert Pruner(journal.engine, cycles, timedelta(hours=1)).prune_all(last + timedelta(minutes=59)) == 0
        assert Pruner(journal.engine, cycles, timedelta(hours=1)).prune_all(last + timedelta(minutes=61)) == 1
        journal.close()

    def test_the_record_path_prunes(self, journal_url: str) -> None:
        journal = SqlJournal(journal_url, retention=timedelta(hours=1))
        times = history(journal, NOW, timedelta(seconds=15), 4 * 240)  # 4 h of changing cycles
        end = times[-1]
        kept = stored_starts(journal)
        assert kept == [t for t in times if t >= kept[0]]  # contiguous: nothing young is missing
        assert end - timedelta(hours=1) - timedelta(seconds=60) <= kept[0] <= end - timedelta(hours=1)
        journal.close()

    def test_a_failing_prune_never_fails_the_record(self, journal_url: str) -> None:
        journal = SqlJournal(journal_url, retention=timedelta(hours=1))
        broken = sa.Table("fs_cycles_missing", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                          sa.Column("started_at", sa.DateTime), sa.Column("last_at", sa.DateTime))
        journal.pruner = Pruner(journal.engine, broken, timedelta(hours=1))
        journal.record(cycle(1, NOW))
        assert len(stored_starts(journal)) == 1
        journal.close()


# --- a journal made by older code ---------------------------------------------------

_OLD_TIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
_OLD_LONG = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def old_schema(url: str) -> None:
    """``fs_cycles`` as the code before the bounded journal created it, with one row."""
    md = sa.MetaData()
    old = sa.Table(
        "fs_cycles", md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("pool", sa.String(64), nullable=False),
        sa.Column("cycle_id", sa.String(191), nullable=False, unique=True),
        sa.Column("started_at", _OLD_TIME, nullable=False),
        sa.Column("finished_at", _OLD_TIME, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("current", sa.Integer), sa.Column("desired", sa.Integer),
        sa.Column("direction", sa.String(8)), sa.Column("reason", sa.Text),
        sa.Column("n_errors", sa.Integer, nullable=False),
        sa.Column("record", _OLD_LONG, nullable=False),
        sa.Index("ix_fs_cycles_pool_id", "pool", "id"),
    )
    engine = sa.create_engine(url)
    md.create_all(engine)
    rec = cycle(0, NOW - 2 * DAY)
    with engine.begin() as c:
        c.execute(old.insert(), {"pool": "web", "cycle_id": rec.cycle_id,
                                 "started_at": rec.started_at.replace(tzinfo=None),
                                 "finished_at": rec.finished_at.replace(tzinfo=None), "dry_run": False,
                                 "current": 2, "desired": 2, "direction": "hold", "reason": "hold at 2",
                                 "n_errors": 0, "record": json.dumps(rec.to_dict(), default=str)})
    engine.dispose()


class TestUpgrade:
    """A journal database written by older code keeps working: columns and indexes are added."""

    def test_old_table_upgraded_in_place(self, journal_url: str) -> None:
        old_schema(journal_url)
        journal = SqlJournal(journal_url, retention=3 * DAY)
        inspector = sa.inspect(journal.engine)
        assert {"repeats", "last_at", "times"} <= {c["name"] for c in inspector.get_columns("fs_cycles")}
        assert "ix_fs_cycles_started_at" in {i["name"] for i in inspector.get_indexes("fs_cycles")}
        old = json.loads(json.dumps(cycle(0, NOW - 2 * DAY).to_dict()))
        assert journal.cycles("web", 5) == [old]
        assert journal.spans("web", 5)[0]["repeats"] == 0
        journal.record(cycle(1, NOW))
        assert [r["cycle_id"] for r in journal.cycles("web", 5)] == ["web:0", "web:1"]
        assert Pruner(journal.engine, cycles, DAY).prune_all(NOW) == 1  # an old row (no last_at) too
        assert [r["cycle_id"] for r in journal.cycles("web", 5)] == ["web:1"]
        journal.close()
        assert SqlJournal(journal_url).cycles("web", 5)[0]["cycle_id"] == "web:1"  # idempotent

    def test_read_only_open_of_an_old_table(self, journal_url: str) -> None:
        old_schema(journal_url)
        journal = SqlJournal(journal_url, create=False)
        assert [r["cycle_id"] for r in journal.cycles("web", 5)] == ["web:0"]
        assert next(iter(journal.each_cycle("web")))["cycle_id"] == "web:0"
        journal.close()


class TestConfig:
    """``journal.retention`` takes 14d, 36h or seconds, within 1 h .. 10 years; default 14 days."""

    @pytest.mark.parametrize(("text", "seconds"), [
        ("14d", 14 * 86400), ("36h", 36 * 3600), (3600, 3600), ("3600", 3600), ("2w", 14 * 86400),
        ("90m", 5400), ("3650d", 3650 * 86400),
    ], ids=["days", "hours", "int", "digits", "weeks", "minutes", "ten-years"])
    def test_accepted(self, text: object, seconds: float) -> None:
        got = config.parse({"pools": [{"name": "a", "max": 2, "provider": {"kind": "simulated"}}],
                            "journal": {"retention": text}})
        assert got.config.journal.retention_period == timedelta(seconds=seconds)

    @pytest.mark.parametrize(("text", "says"), [
        ("30m", "journal.retention: must be between 1h and 3650d (got 30m)"),
        ("11y", "journal.retention: expected a duration like 14d, 36h, 90m or a number of seconds (got 11y)"),
        (float("inf"), "journal.retention: must be a finite number (got inf)"),
        (float("nan"), "journal.retention: must be a finite number (got nan)"),
        ("3651d", "journal.retention: must be between 1h and 3650d (got 3651d)"),
        (True, "journal.retention: expected a duration"),
    ], ids=["too-short", "unknown-unit", "inf", "nan", "too-long", "bool"])
    def test_refused_naming_the_field(self, text: object, says: str) -> None:
        with pytest.raises(ConfigError) as err:
            config.parse({"pools": [{"name": "a", "max": 2, "provider": {"kind": "simulated"}}],
                          "journal": {"retention": text}})
        assert says in str(err.value)

    def test_default_is_fourteen_days(self) -> None:
        assert config.JournalConfig().retention_period == timedelta(days=14)
