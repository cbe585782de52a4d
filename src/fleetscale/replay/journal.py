"""Reading a pool's recorded cycles from the SQL journal, as typed values.

``read_cycles`` is the one place a replay reads the journal (a compacted journal only needs
this function re-pointed at its expanding reader). ``Recorded`` is one cycle: when it ran, what
it saw (observations, the view), what it decided (decision and plan as the journal's JSON),
and the inputs a replay feeds to ``cycle.step`` (``journal/cycle_inputs.py``), when the
journal kept them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from fleetscale.errors import JournalError
from fleetscale.journal.cycle_inputs import RecordedInputs, decode_inputs
from fleetscale.journal.sql import SqlJournal
from fleetscale.model import Instance, InstanceState, Observation


@dataclass(frozen=True, slots=True)
class Recorded:
    """One recorded cycle."""

    cycle_id: str
    at: datetime
    observations: tuple[Observation, ...]
    #: the instances as the controller saw them (drains and registrations overlaid)
    view: tuple[Instance, ...]
    #: the recorded decision and plan, as stored (JSON dicts; None when the pool held blind)
    decision: Mapping[str, Any] | None
    plan: Mapping[str, Any] | None
    errors: tuple[str, ...]
    inputs: RecordedInputs | None


def read_cycles(url: str, pool: str, since: datetime | None = None,
                until: datetime | None = None) -> list[dict[str, Any]]:
    """The pool's CycleRecord dicts in recording order, ``since <= started_at < until``."""
    try:
        parsed = sa.engine.make_url(url)
    except Exception as exc:
        raise JournalError(f"--journal: not a database URL (got {url!r})") from exc
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
            and not Path(parsed.database).is_file():
        raise JournalError(f"journal {url}: no such file")
    journal = SqlJournal(url, create=False)
    try:  # spans of identical cycles come back as one record per cycle, with its own times
        return list(journal.each_cycle(pool, since, until))
    finally:
        journal.close()


def _naive(dt: datetime) -> datetime:
    from fleetscale.journal.sql import _utc

    return _utc(dt)


def parse(doc: Mapping[str, Any]) -> Recorded:
    """One CycleRecord dict as a ``Recorded`` value (JournalError naming the cycle if malformed)."""
    try:
        inputs = doc.get("inputs")
        view = tuple(_instance(i) for i in doc.get("instances", []))
        return Recorded(
            cycle_id=str(doc["cycle_id"]),
            at=datetime.fromisoformat(doc["started_at"]),
            observations=tuple(_observation(o) for o in doc.get("observations", [])),
            view=view,
            decision=doc.get("decision"),
            plan=doc.get("plan"),
            errors=tuple(doc.get("errors", [])),
            inputs=decode_inputs(inputs, view) if inputs else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise JournalError(f"cycle {doc.get('cycle_id', '?')}: unreadable record ({exc})") from exc


def _observation(o: Mapping[str, Any]) -> Observation:
    return Observation(source=o["source"], metric=o["metric"], value=o["value"],
                       at=datetime.fromisoformat(o["at"]), instance_id=o.get("instance_id"),
                       error=o.get("error"))


def _instance(i: Mapping[str, Any]) -> Instance:
    launched = i.get("launched_at")
    return Instance(id=i["id"], type=i["type"], state=InstanceState(i["state"]),
                    weight=int(i.get("weight", 1)),
                    launched_at=datetime.fromisoformat(launched) if launched else None,
                    address=i.get("address"), tags=dict(i.get("tags") or {}))


def load(url: str, pool: str, since: datetime | None = None, until: datetime | None = None) -> list[Recorded]:
    docs = read_cycles(url, pool, since, until)
    if not docs:
        raise JournalError(f"journal has no cycles of pool {pool!r} in the range asked")
    return [parse(d) for d in docs]
