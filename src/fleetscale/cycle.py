"""One cycle of one pool, as pure functions around the one I/O step (acting).

    step(state, inputs, spec) -> Step          observe (overlay) -> think -> plan -> reconcile
    settle(state, step, results) -> Settled    what acting did, folded into the next state
    record(step, settled, ...) -> CycleRecord  the journal's account of the cycle

``fleetscale run`` (``controller.PoolRunner``), ``fleetscale simulate`` and ``demo`` and a
replay all go through exactly these functions; they differ only in the adapters around
them. No I/O, no clock: time is ``inputs.now``.

Acting order within a cycle (the controller follows ``Step.actions`` as given): cancel
drains, launch, begin drains (the plan's), then the reconciler's repairs (drain unknown
instances, terminate drained / failed / timed-out ones). The reconciler runs on the fleet as
the plan leaves it (drains begun or cancelled), never on what it was before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from fleetscale.core import think
from fleetscale.decide import CompiledSpec, DecisionSpec, Verdict, compile_spec
from fleetscale.journal.record import CycleRecord
from fleetscale.model import Instance, InstanceState, InstanceType, Observation, Plan, Snapshot
from fleetscale.reconciler import Repair, Rules, reconcile
from fleetscale.state import FleetState

_S = InstanceState
_READY = InstanceState.READY
ActionKind = Literal["cancel", "launch", "drain", "terminate"]


@dataclass(frozen=True, slots=True)
class CycleSpec:
    """A pool's constants for its cycles."""

    decision: DecisionSpec
    types: tuple[InstanceType, ...]
    rules: Rules = field(default_factory=Rules)
    require_registration: bool = False
    dry_run: bool = False
    #: ``decision`` compiled once (``decide.compile_spec``); a new spec (an operator's pause
    #: or override) is a new CycleSpec, compiled anew
    compiled: CompiledSpec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "compiled", compile_spec(self.decision))


@dataclass(frozen=True, slots=True)
class Inputs:
    """What the controller observed for one cycle (all of it read before ``step``)."""

    now: datetime
    cycle_id: str
    observations: tuple[Observation, ...]
    #: the provider's instances (gone ones left out); None when listing failed
    listed: tuple[Instance, ...] | None
    #: live sessions of the draining instances (None: unknown, counted as busy)
    sessions: Mapping[str, int | None]
    #: errors met while observing (sources, provider, drainer, write-ahead recovery)
    errors: tuple[str, ...] = ()
    #: lines already worth recording (write-ahead recovery, the drainer's own reconcile)
    notes: tuple[str, ...] = ()
    #: False for an extra cycle (``reaction.py``): rules counted in cycles skip it
    scheduled: bool = True


@dataclass(frozen=True, slots=True)
class Action:
    """One call to a provider or drainer. ``targets`` are instance ids, or for a launch the
    instance type; ``why`` one reason per target (shown in the journal)."""

    kind: ActionKind
    targets: tuple[str, ...]
    request_id: str
    count: int = 0
    why: tuple[str, ...] = ()
    #: asked by the reconciler (repairs), not by the plan
    repair: bool = False


@dataclass(frozen=True, slots=True)
class Result:
    action: Action
    ok: bool
    #: instances a launch made
    made: tuple[Instance, ...] = ()
    error: str = ""


@dataclass(frozen=True, slots=True)
class Step:
    state: FleetState
    observations: tuple[Observation, ...]
    #: the instances as seen this cycle (drains and registrations overlaid)
    view: tuple[Instance, ...]
    verdict: Verdict | None
    plan: Plan | None
    actions: tuple[Action, ...]
    notes: tuple[str, ...]
    errors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Settled:
    state: FleetState
    outcome: tuple[str, ...]
    errors: tuple[str, ...]
    #: the instances launched by this cycle's actions
    launched: tuple[Instance, ...] = ()


def step(state: FleetState, inputs: Inputs, spec: CycleSpec) -> Step:
    """Observe, decide, plan and reconcile one cycle (pure)."""
    now = inputs.now
    if inputs.listed is None:  # no trustworthy picture of the fleet: hold, act on nothing
        return Step(state, inputs.observations, state.instances, None, None, (), inputs.notes, inputs.errors)
    obs = map_addresses(inputs.observations, inputs.listed)
    seen = _seen(state, inputs.listed, obs, spec, now)
    visible = seen.instances
    if spec.rules.unknown_instances == "terminate":  # not ours: never counted nor reused
        visible = tuple(i for i in visible if i.id in seen.known)
    snapshot = Snapshot(state.pool, now, visible, obs, scheduled=inputs.scheduled)
    verdict, plan = think(snapshot, spec.compiled, seen.memory, spec.types, inputs.cycle_id)
    decided = seen.remember(verdict.memory)
    if plan.empty:
        actions: tuple[Action, ...] = ()
        planned = decided
    else:
        actions, planned = _plan_actions(decided, plan, inputs.sessions, now)
    repair = _repair(planned, obs, actions, inputs.sessions, spec.rules, now)
    if repair is _NO_REPAIR:  # the common cycle: nothing for the reconciler
        return Step(decided, obs, seen.instances, verdict, plan, actions, inputs.notes, inputs.errors)
    after = decided.forget_drains(repair.forget_drains).adopted(repair.adopt)
    notes = inputs.notes + repair.notes
    if repair.adopt:
        notes += (f"adopted {', '.join(repair.adopt)}",)
    draining = set(planned.drains)
    extra = [Action("drain", (iid,), inputs.cycle_id, why=(f" ({why})",), repair=True)
             for iid, why in repair.drain if iid not in draining]
    if repair.terminate:
        extra.append(Action("terminate", tuple(i for i, _ in repair.terminate),
                            f"{plan.request_id}/reconcile",
                            why=tuple(w for _, w in repair.terminate), repair=True))
    return Step(after, obs, seen.instances, verdict, plan, actions + tuple(extra), notes, inputs.errors)


_NO_REPAIR = Repair()


def _repair(planned: FleetState, obs: tuple[Observation, ...], actions: tuple[Action, ...],
            sessions: Mapping[str, int | None], rules: Rules, now: datetime) -> Repair:
    """The reconciler's repairs on the fleet as the plan leaves it. A fleet of known, ready,
    undrained instances needs none (the common cycle: the reconciler is not asked)."""
    if planned.calm:
        return _NO_REPAIR
    known = planned.known
    reads_ok = not any(o.error for o in obs)
    to_stop = {o.instance_id for o in obs
               if o.metric == "to_stop" and o.ok and o.value and o.instance_id is not None}
    gone = {t for a in actions if a.kind == "terminate" for t in a.targets}
    remaining = tuple(i for i in planned.instances if i.id not in gone)
    return reconcile(now, remaining, planned.drains, sessions, set(known), rules,
                     planned.first_seen, to_stop, reads_ok=reads_ok)


def overlay(state: FleetState, inputs: Inputs, spec: CycleSpec) -> FleetState:
    """The state with a fresh listing overlaid (drains, registrations), as ``step`` sees it."""
    if inputs.listed is None:
        return state
    obs = map_addresses(inputs.observations, inputs.listed)
    return _seen(state, inputs.listed, obs, spec, inputs.now)


def _seen(state: FleetState, listed: tuple[Instance, ...], obs: tuple[Observation, ...], spec: CycleSpec,
          now: datetime) -> FleetState:
    registered_now = frozenset(o.instance_id for o in obs if o.metric == "registered" and o.ok
                               and o.instance_id and o.value is not None and o.value >= 1)
    # an empty listing is never "the same": () is one object, and instances launched since the
    # last listing (``FleetState.launched``) must leave the view when the provider lists none
    if listed and listed is state.listed and registered_now <= state.registered:
        return state  # the same listing, nothing newly registered: the same view
    return state.seen(listed, registered_now, spec.require_registration, now)


def _plan_actions(state: FleetState, plan: Plan, sessions: Mapping[str, int | None],
                  now: datetime) -> tuple[tuple[Action, ...], FleetState]:
    """The plan as actions, and the fleet as it will be if they all succeed (for the reconciler)."""
    out: list[Action] = []
    planned = state
    by_id = state.by_id()
    for iid in plan.cancel_drain:
        out.append(Action("cancel", (iid,), plan.request_id))
        if iid in planned.drains and iid in by_id:
            planned = planned.cancel_drain(iid)
    for item in plan.launch:
        out.append(Action("launch", (item.type,), f"{plan.request_id}/{item.type}", count=item.count))
    safe: list[str] = []
    drain: list[tuple[str, str]] = [(iid, "") for iid in plan.begin_drain]
    for iid in plan.terminate:
        inst = by_id.get(iid)
        idle = inst is None or inst.state in (_S.PENDING, _S.FAILED)
        if idle or sessions.get(iid) == 0:
            safe.append(iid)
        else:  # never cut live (or unknown) sessions: drain instead
            drain.append((iid, " instead of terminating (sessions live or unknown)"))
    for iid, why in drain:
        inst = by_id.get(iid)
        if inst is not None and inst.state is _S.DRAINING:
            continue
        out.append(Action("drain", (iid,), plan.request_id, why=(why,)))
        if inst is not None and inst.state is _S.READY:
            planned = planned.begin_drain(iid, now)
    if safe:
        out.append(Action("terminate", tuple(safe), f"{plan.request_id}/terminate",
                          why=("planned",) * len(safe)))
    return tuple(out), planned


def settle(state: FleetState, results: Sequence[Result], now: datetime, dry_run: bool = False) -> Settled:
    """Fold what acting did into the state; the outcome and error lines for the record."""
    if not results and not dry_run:
        return Settled(state, (), ())
    outcome: list[str] = []
    errors: list[str] = []
    made: list[Instance] = []
    if dry_run:
        outcome.append("dry run: nothing acted")
    for r in results:
        a = r.action
        if dry_run:
            if a.kind == "terminate":
                outcome.extend(f"dry run: would terminate {i} ({w})"
                               for i, w in zip(a.targets, a.why, strict=True))
            elif a.kind == "drain" and a.repair:
                outcome.append(f"dry run: would drain {a.targets[0]}{a.why[0][1:]}")
            continue
        if not r.ok:
            errors.append(_failed(a, r.error))
            continue
        if a.kind == "cancel":
            if a.targets[0] in state.drains and any(i.id == a.targets[0] for i in state.instances):
                state = state.cancel_drain(a.targets[0])
            else:
                state = state.forget_drains(a.targets)
            outcome.append(f"drain cancelled on {a.targets[0]}")
        elif a.kind == "launch":
            state = state.launched(r.made, now)
            made.extend(r.made)
            outcome.append(f"launched {len(r.made)} x {a.targets[0]}: {', '.join(m.id for m in r.made)}")
        elif a.kind == "drain":
            iid = a.targets[0]
            inst = next((i for i in state.instances if i.id == iid), None)
            if inst is not None and inst.state is _S.READY:
                state = state.begin_drain(iid, now)
            outcome.append(f"drain begun on {iid}{a.why[0] if a.why else ''}")
        else:
            state = state.gone(a.targets)
            outcome.extend(f"terminated {i} ({w})" for i, w in zip(a.targets, a.why, strict=True))
    return Settled(state, tuple(outcome), tuple(errors), tuple(made))


def _failed(a: Action, error: str) -> str:
    if a.kind == "launch":
        return f"launch {a.count} x {a.targets[0]} failed: {error}"
    if a.kind == "terminate":
        return f"terminate {', '.join(a.targets)} failed: {error}"
    word = "begin" if a.kind == "drain" else "cancel"
    return f"drain {word} {a.targets[0]} failed: {error}"


def record(st: Step, settled: Settled, *, pool: str, cycle_id: str, started_at: datetime,
           finished_at: datetime, dry_run: bool, inputs: Mapping[str, Any] | None = None) -> CycleRecord:
    v = st.verdict
    return CycleRecord(
        pool=pool, cycle_id=cycle_id, started_at=started_at, finished_at=finished_at, dry_run=dry_run,
        observations=st.observations, instances=st.view,
        proposals=v.proposals if v else (), steps=v.steps if v else (),
        decision=v.decision if v else None, plan=st.plan,
        outcome=st.notes + settled.outcome, errors=st.errors + settled.errors, inputs=inputs,
    )


def map_addresses(obs: tuple[Observation, ...], listed: tuple[Instance, ...]) -> tuple[Observation, ...]:
    """Per-instance readings keyed by address (a source that knows only addresses) re-keyed
    by instance id."""
    if not any(o.instance_id for o in obs):
        return obs
    by_address = {i.address: i.id for i in listed if i.address}
    if not by_address:
        return obs
    return tuple(replace(o, instance_id=by_address[o.instance_id]) if o.instance_id in by_address else o
                 for o in obs)
