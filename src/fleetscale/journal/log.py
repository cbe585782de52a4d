"""Journal sink ``log``: one structlog ``decision`` event per pool per cycle (JSON lines).

``configure_logging`` sets structlog up to write JSON lines to a stream (stderr by default);
the CLI calls it once. Secrets never reach this sink: a CycleRecord holds none.
"""

from __future__ import annotations

import logging
import sys
from typing import IO, Any

import structlog

from fleetscale.journal.record import CycleRecord


class _Stderr:
    """Whatever ``sys.stderr`` is at write time (it may be replaced after configuration)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "info", stream: IO[str] | None = None, json: bool = True) -> None:
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(stream or _Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


def summary(cycle: CycleRecord) -> dict[str, Any]:
    """The fields of a ``decision`` event."""
    d = cycle.decision
    p = cycle.plan
    return {
        "pool": cycle.pool,
        "cycle_id": cycle.cycle_id,
        "at": cycle.started_at.isoformat(),
        "dry_run": cycle.dry_run,
        "current": d.current if d else None,
        "desired": d.desired if d else None,
        "direction": d.direction.value if d else None,
        "reason": d.reason if d else None,
        "launch": [f"{x.count}x{x.type}" for x in p.launch] if p else [],
        "cancel_drain": list(p.cancel_drain) if p else [],
        "begin_drain": list(p.begin_drain) if p else [],
        "terminate": list(p.terminate) if p else [],
        "steps": list(cycle.steps),
        "outcome": list(cycle.outcome),
        "errors": list(cycle.errors),
        "seconds": round((cycle.finished_at - cycle.started_at).total_seconds(), 3),
    }


class LogJournal:
    def __init__(self, logger: Any = None) -> None:
        self.log = logger or structlog.get_logger(__name__)

    def record(self, cycle: CycleRecord) -> None:
        fields = summary(cycle)
        if cycle.errors:
            self.log.warning("decision", **fields)
        else:
            self.log.info("decision", **fields)
