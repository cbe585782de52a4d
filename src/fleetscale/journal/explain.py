"""``fleetscale explain``: recent decisions of a pool, told for a person on call.

It reads the CycleRecord dicts the SQL journal stored and prints, for each cycle: when,
what was decided (current -> desired, direction) and why (the winning rule), each policy's
proposal, the governor's steps, what the pool looked like (load and other readings,
instances by state), the plan, what happened, and what went wrong. The operator's pauses,
resumes and holds (``journal/operator_log.py``: who, why) appear among the cycles in time order.

A span (``SqlJournal.spans``: a run of cycles that saw, decided and planned the same and did
nothing, journaled as one row) is told once, with how many cycles it covers and when:
``held 240 cycles from 2026-01-05 10:00:00 to 10:59:45 UTC, nothing changed``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fleetscale.journal.operator_log import OperatorEvent


def _when(text: str) -> str:
    try:
        return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    except (TypeError, ValueError):
        return str(text)


def _span(rec: dict[str, Any]) -> str | None:
    repeats = int(rec.get("repeats") or 0)
    if not repeats:
        return None
    d = rec.get("decision")
    verb = "held" if not d or d.get("direction") == "hold" else "same decision for"
    try:
        first = datetime.fromisoformat(rec["started_at"])
        last = datetime.fromisoformat(rec["last_at"])
    except (KeyError, TypeError, ValueError):
        return f"  {verb} {repeats + 1} cycles, nothing changed"
    until = last.strftime("%H:%M:%S" if last.date() == first.date() else "%Y-%m-%d %H:%M:%S")
    zone = last.strftime("%Z")
    return (f"  {verb} {repeats + 1} cycles from {first:%Y-%m-%d %H:%M:%S} to {until}"
            f"{' ' + zone if zone else ''}, nothing changed")


def _readings(observations: Sequence[dict[str, Any]]) -> str:
    pool_wide = [f"{o['metric']}={o['value']:g} ({o['source']})" for o in observations
                 if o.get("instance_id") is None and o.get("error") is None and o.get("value") is not None]
    per: Counter[str] = Counter(o["metric"] for o in observations if o.get("instance_id") is not None)
    per_text = [f"{m} for {n} instances" for m, n in sorted(per.items())]
    return "; ".join(pool_wide + per_text) or "none"


def _instances(instances: Sequence[dict[str, Any]]) -> str:
    states = Counter(i["state"] for i in instances)
    units = sum(i.get("weight", 1) for i in instances if i["state"] == "ready")
    if not instances:
        return "none"
    parts = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    return f"{parts} ({units} units ready)"


def plan_text(plan: dict[str, Any] | None) -> str:
    """A recorded plan in a few words (\"launch 2 x small; drain i-3\")."""
    if not plan:
        return "none"
    parts = [f"launch {x['count']} x {x['type']}" for x in plan.get("launch", [])]
    labels = (("cancel_drain", "cancel drain"), ("begin_drain", "drain"), ("terminate", "terminate"))
    for key, label in labels:
        if plan.get(key):
            parts.append(f"{label} {', '.join(plan[key])}")
    return "; ".join(parts) or "nothing to do"


def explain_cycle(rec: dict[str, Any]) -> list[str]:
    d = rec.get("decision")
    head = f"{_when(rec['started_at'])}  {rec['pool']}"
    if rec.get("dry_run"):
        head += "  [dry run]"
    if d:
        lines = [f"{head}  {d['direction'].upper()} {d['current']} -> {d['desired']} units",
                 f"  why:       {d['reason']}"]
    else:
        lines = [f"{head}  NO DECISION (the pool held)"]
    span = _span(rec)
    if span:
        lines.insert(1, span)
    for p in rec.get("proposals", []):
        want = "abstains" if p.get("desired") is None else f"wants {p['desired']}"
        bounds = "".join(f", {k} {p[k]}" for k in ("floor", "ceiling") if p.get(k) is not None)
        lines.append(f"  policy    {p['policy']}: {want}{bounds} - {p['reason']}")
    if rec.get("steps"):
        lines.append(f"  governor: {'; '.join(rec['steps'])}")
    lines.append(f"  saw:       {_readings(rec.get('observations', []))}")
    lines.append(f"  fleet:     {_instances(rec.get('instances', []))}")
    lines.append(f"  plan:      {plan_text(rec.get('plan'))}")
    for line in rec.get("outcome", []):
        lines.append(f"  done:      {line}")
    for line in rec.get("errors", []):
        lines.append(f"  ERROR:     {line}")
    return lines


def explain(records: Sequence[dict[str, Any]], events: Sequence[OperatorEvent] = ()) -> str:
    """Text for the given cycles (oldest first), separated by blank lines, with the operator's
    actions (pause, resume, hold: who, why) in time order among them."""
    items: list[tuple[datetime, int, list[str]]] = []
    for n, rec in enumerate(records):
        items.append((_at(rec.get("started_at")), n, explain_cycle(rec)))
    for e in events:
        items.append((e.at, -1, [f"{_when(e.at.isoformat())}  {e.pool}  {e.line()}"]))
    items.sort(key=lambda x: (x[0], x[1]))
    return "\n\n".join("\n".join(lines) for _, _, lines in items)


def _at(text: Any) -> datetime:
    try:
        when = datetime.fromisoformat(str(text))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)
