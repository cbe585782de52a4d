"""The SQL journal on MariaDB: the same tables and behaviour as on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

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
