"""Where recorded data is missing: time gaps (the controller was down: more than 1.5
intervals between two cycles), cycles whose provider listing failed (the pool held blind) and
cycles where a source read failed. Consecutive failed cycles make one range."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fleetscale.replay.journal import Recorded

GAP_FACTOR = 1.5


@dataclass(frozen=True, slots=True)
class Missing:
    kind: str  # "controller down" | "listing failed" | "read failed"
    start: datetime
    end: datetime
    #: cycles concerned (0 for a time gap: no cycle ran)
    cycles: int

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "from": self.start.isoformat(), "to": self.end.isoformat(),
                "seconds": (self.end - self.start).total_seconds(), "cycles": self.cycles}


def listing_failed(rec: Recorded) -> bool:
    return rec.inputs.listed is None if rec.inputs is not None else rec.decision is None


def read_failed(rec: Recorded) -> bool:
    return any(o.error for o in rec.observations)


def find(cycles: Sequence[Recorded], interval: float) -> tuple[Missing, ...]:
    out: list[Missing] = []
    for a, b in itertools.pairwise(cycles):
        if (b.at - a.at).total_seconds() > GAP_FACTOR * interval:
            out.append(Missing("controller down", a.at, b.at, 0))
    for kind, failed in (("listing failed", listing_failed), ("read failed", read_failed)):
        run: list[Recorded] = []
        for rec in [*cycles, None]:
            if rec is not None and failed(rec):
                run.append(rec)
                continue
            if run:
                out.append(Missing(kind, run[0].at, run[-1].at, len(run)))
                run = []
    return tuple(sorted(out, key=lambda m: (m.start, m.kind)))


def summary(missing: Sequence[Missing]) -> dict[str, Any]:
    kinds = ("controller down", "listing failed", "read failed")
    return {
        "count": len(missing),
        "by_kind": {k: sum(1 for m in missing if m.kind == k) for k in kinds},
        "seconds_down": sum((m.end - m.start).total_seconds() for m in missing
                            if m.kind == "controller down"),
        "ranges": [m.as_dict() for m in missing],
    }
