"""The planner (pure): turns a decision into concrete actions.

- Scale-up first reuses DRAINING instances (cancels their drain), the least drained first
  (most active sessions; unknown sessions count as busy), then launches the cheapest mix of
  instance types covering the remaining gap: an exact unbounded-knapsack over the types
  (equal cost -> the smaller total, so no free overshoot that the next cycle would trim again;
  then fewer instances; then the order types are configured in). No type -> PlanError.
- Scale-down chooses victims among READY instances: fewest active sessions first (unknown
  sessions count as busy and go last), then the newest, and only ever begins their drain;
  it never drains below the desired units (a victim whose weight would overshoot is
  skipped). Termination is the reconciler's job, once an instance has drained.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from fleetscale.errors import PlanError
from fleetscale.model import Decision, Instance, InstanceState, InstanceType, Launch, Plan, Snapshot

_BUSY = 1 << 62
_OLDEST = datetime.min


def plan(decision: Decision, snapshot: Snapshot, types: tuple[InstanceType, ...], request_id: str) -> Plan:
    gap = decision.desired - decision.current
    if gap == 0:
        return Plan(decision.pool, request_id, reason=f"hold at {decision.current} units: nothing to do")
    if gap > 0:
        return _grow(decision, snapshot, types, request_id, gap)
    return _shrink(decision, snapshot, request_id, -gap)


def _grow(
    decision: Decision, snapshot: Snapshot, types: tuple[InstanceType, ...], request_id: str, gap: int
) -> Plan:
    draining = [i for i in snapshot.instances if i.state is InstanceState.DRAINING]
    cancel: list[str] = []
    reused = 0
    parts: list[str] = []
    if draining:
        sessions = snapshot.sessions()
        draining.sort(key=lambda i: (-sessions.get(i.id, _BUSY), i.id))
        for inst in draining:
            if reused >= gap:
                break
            cancel.append(inst.id)
            reused += inst.weight
        parts.append(f"cancel the drain of {len(cancel)} instance(s) ({reused} units): {', '.join(cancel)}")
    remaining = gap - reused
    launch: tuple[Launch, ...] = ()
    if remaining > 0:
        mix, cost, units = cheapest_mix(types, remaining)
        launch = tuple(Launch(name, n) for name, n in mix)
        what = ", ".join(f"{n} x {name}" for name, n in mix)
        parts.append(f"launch {what} ({units} units, {cost:.4g}/h)")
    reason = f"up {decision.current} -> {decision.desired} units: " + "; then ".join(parts)
    return Plan(decision.pool, request_id, launch=launch, cancel_drain=tuple(cancel), reason=reason)


def cheapest_mix(types: tuple[InstanceType, ...], gap: int) -> tuple[tuple[tuple[str, int], ...], float, int]:
    """The cheapest multiset of types whose weights sum to >= gap: (mix, cost per hour, units).

    Exact: min cost over every total in [gap, gap + max weight - 1] by dynamic programming
    (an unbounded knapsack). Equal cost -> the smaller total (an overshoot at no saving would
    be drained again next cycle: churn), then fewer instances, then earlier types.
    """
    usable = [t for t in types if t.weight > 0]
    if not usable:
        raise PlanError(f"cannot launch {gap} units: no instance type is configured")
    if len(usable) == 1:
        t = usable[0]
        n = -(-gap // t.weight)
        return ((t.name, n),), n * t.price, n * t.weight
    top = gap + max(t.weight for t in usable) - 1
    inf = (float("inf"), 0)
    best: list[tuple[float, int]] = [inf] * (top + 1)
    pick: list[int] = [-1] * (top + 1)
    best[0] = (0.0, 0)
    for total in range(1, top + 1):
        for k, t in enumerate(usable):
            if t.weight <= total:
                prev = best[total - t.weight]
                if prev is inf:
                    continue
                cand = (round(prev[0] + t.price, 9), prev[1] + 1)  # round: 0.1 + 0.2 ties 0.3
                if cand < best[total]:
                    best[total], pick[total] = cand, k
    chosen = min(range(gap, top + 1), key=lambda c: (best[c][0], c, best[c][1]))
    counts = [0] * len(usable)
    c = chosen
    while c > 0:
        k = pick[c]
        counts[k] += 1
        c -= usable[k].weight
    mix = tuple((t.name, n) for t, n in zip(usable, counts, strict=True) if n)
    return mix, best[chosen][0], chosen


def _victims(instances: tuple[Instance, ...], sessions: Mapping[str, int]) -> list[Instance]:
    """The READY instances in victim order: fewest sessions (unknown = busy), then the newest
    (no launch time: last), then the id, then the position (a stable sort on
    ``(sessions, -launched_at.timestamp(), id)``), with one timestamp per run of instances
    that share one launch datetime object (instances launched together do)."""
    get = sessions.get
    keyed: list[tuple[int, float, str, int, Instance]] = []
    last_at: datetime | None = None
    last = 0.0
    for n, i in enumerate(instances):
        if i.state is not _READY:
            continue
        at = i.launched_at
        if at is None:
            newest = _NO_LAUNCH
        elif at is last_at:
            newest = last
        else:
            newest = last = -at.timestamp()
            last_at = at
        keyed.append((get(i.id, _BUSY), newest, i.id, n, i))
    keyed.sort()
    return [k[4] for k in keyed]


_READY = InstanceState.READY
#: ``-launched`` of an instance with no launch time (``-(-inf)``): last among equals
_NO_LAUNCH = float("inf")


def _shrink(decision: Decision, snapshot: Snapshot, request_id: str, gap: int) -> Plan:
    sessions = snapshot.sessions()
    ready = _victims(snapshot.instances, sessions)
    chosen: list[str] = []
    notes: list[str] = []
    removed = 0
    for inst in ready:
        if removed >= gap:
            break
        if removed + inst.weight > gap:
            continue  # would drain below the desired units
        chosen.append(inst.id)
        removed += inst.weight
        s = sessions.get(inst.id)
        notes.append(f"{inst.id} ({'sessions unknown' if s is None else f'{s} sessions'})")
    head = f"down {decision.current} -> {decision.desired} units: "
    if not chosen:
        why = "no ready instance fits" if ready else "no ready instance"
        return Plan(decision.pool, request_id, reason=head + f"{why}; nothing drained")
    reason = head + f"begin draining {', '.join(notes)} ({removed} units; fewest sessions first, then newest)"
    if removed < gap:
        reason += f"; {gap - removed} units not drained (no ready instance of a fitting weight)"
    return Plan(decision.pool, request_id, begin_drain=tuple(chosen), reason=reason)
