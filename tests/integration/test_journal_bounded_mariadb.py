"""The bounded journal on MariaDB: the same spans, retention and upgrade tests as on SQLite
(the unit test classes, run here against a scratch MariaDB database)."""

from __future__ import annotations

import pytest

from tests.fixtures.mysql import MySQL
from tests.unit.test_journal_retention import TestPruning, TestUpgrade, backlog
from tests.unit.test_journal_spans import TestExplainSpans, TestSpans, journal

pytestmark = pytest.mark.integration
__all__ = ["TestExplainSpans", "TestPruning", "TestSpans", "TestUpgrade", "backlog", "journal"]


@pytest.fixture
def journal_url(mysql_server: MySQL, mysql_db: str) -> str:
    return mysql_server.url(mysql_db)
