"""The SQL journal on MariaDB: the same tables and behaviour as on SQLite."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from fleetscale.journal.sql import SqlJournal
from fleetscale.journal.state_store import SqlStateStore
from fleetscale.model import Direction
from fleetscale.state import FleetState
from tests.unit.test_journal_sql import record

pytestmark = pytest.mark.integration
NOW = datetime(2026, 1, 5, 12, 0, 0, 123456, tzinfo=UTC)


def test_journal_on_mariadb(mysql_server, mysql_db) -> None:  # type: ignore[no-untyped-def]
    journal = SqlJournal(mysql_server.url(mysql_db))
    try:
        for n in range(1, 4):
            journal.record(record(n=n))
        got = journal.cycles("web", last=2)
        assert [r["cycle_id"] for r in got] == ["web:2", "web:3"]
        states = SqlStateStore(journal.engine)
        states.save(FleetState("web").drain_recorded("i-1", NOW))
        again = SqlStateStore(journal.engine).load("web")
        assert again is not None and dict(again.drains) == {"i-1": NOW}  # microseconds kept
        journal.hold("web", 3, NOW + timedelta(hours=1), NOW)
        journal.pause("web", NOW, Direction.UP)
        op = journal.operator("web", NOW)
        assert op.paused == {Direction.UP} and op.override is not None and op.override.hold == 3
    finally:
        journal.close()



def _open_everything(url: str, start: threading.Barrier, failures: list[BaseException]) -> None:
    """What a replica opens at start on the journal's database, after every other one is ready."""
    from fleetscale.coordination.fence import TokenFence
    from fleetscale.coordination.history import OwnershipLog
    from fleetscale.coordination.sql import SqlLeases
    from fleetscale.journal.intents import IntentLog

    try:
        start.wait(10)
        journal = SqlJournal(url)
        SqlStateStore(journal.engine)
        IntentLog(journal.engine)
        TokenFence().create(journal.engine)
        SqlLeases(journal.engine)
        OwnershipLog(journal.engine)
        journal.engine.dispose()
    except BaseException as exc:
        failures.append(exc)


def test_replicas_starting_together_create_the_tables_once(mysql_server) -> None:  # type: ignore[no-untyped-def]
    """Several replicas opening one fresh database at the same instant: each creates what it
    finds missing; none fails on a table or index another one has just created."""
    for _ in range(3):
        name = "fs_" + uuid.uuid4().hex[:10]
        with mysql_server.connect() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
        try:
            start = threading.Barrier(4)
            failures: list[BaseException] = []
            url = mysql_server.url(name)
            threads = [threading.Thread(target=_open_everything, args=(url, start, failures))
                       for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert not failures, failures
            engine = sa.create_engine(mysql_server.url(name))
            tables = set(sa.inspect(engine).get_table_names())
            engine.dispose()
            assert {"fs_cycles", "fs_state", "fleetscale_intents", "fs_fence", "fs_leases",
                    "fs_ownership"} <= tables
        finally:
            with mysql_server.connect() as conn, conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
