"""The log sink: one JSON ``decision`` event per pool per cycle."""

from __future__ import annotations

import io
import json

import structlog

from fleetscale.journal.log import LogJournal, configure_logging
from tests.unit.test_journal_sql import record


def test_one_json_decision_event_per_cycle() -> None:
    out = io.StringIO()
    configure_logging("info", stream=out)
    try:
        sink = LogJournal()
        sink.record(record(n=1))
        sink.record(record(n=2, errors=("source x load: timeout",)))
    finally:
        structlog.reset_defaults()
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["event"] == "decision" and first["level"] == "info"
    assert first["pool"] == "web" and first["direction"] == "up"
    assert (first["current"], first["desired"]) == (2, 10)
    assert first["launch"] == ["8xsmall"]
    assert first["reason"] == "target: load 7.5 / 0.75 per unit -> 10"
    assert second["level"] == "warning" and second["errors"] == ["source x load: timeout"]
