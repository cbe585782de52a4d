"""One pool's runner: a thin I/O loop around the pure cycle (``cycle.step`` / ``cycle.settle``).

One cycle of one pool (``PoolRunner.cycle()``): read the sources and the provider's listing,
replay open write-ahead intents, read the sessions of draining instances, ``step`` (overlay,
policies, governor, planner, reconciler: pure), act (write-ahead first), ``settle`` (pure),
save the state, close the intents, journal the record. It never raises: anything that goes
wrong is an error of that cycle's record and the pool holds.

The pool's ``FleetState`` has one owner, the runner, and one store (``journal/state_store.py``):
loaded whole at start, saved whole after each cycle. ``controller.Controller`` runs the
runners of every pool; the simulator runs one runner on a simulated clock.

Several replicas (``coordination/``, a runner built with ``leases``): ``ready()`` says whether
this replica may cycle the pool now (it holds the lease and ``may_act``); on a new lease token
it takes the pool over: the state is loaded again in the transaction that claims the token
(``StateStore.claim``) and the write-ahead log starts afresh, so the first cycle replays the
intents the previous owner left open. Every state and intent write carries the token; a write
the store refuses (``FencingError``) ends the cycle, drops the in-memory state and the runner
acts on the pool again only under a newer token. ``may_act`` is asked again right before every
launch, drain and terminate.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import structlog

from fleetscale.act import Actor
from fleetscale.cycle import (
    Action,
    CycleSpec,
    Inputs,
    Result,
    Settled,
    Step,
    map_addresses,
    record,
    settle,
    step,
)
from fleetscale.decide import Memory
from fleetscale.errors import FencingError, FleetscaleError
from fleetscale.journal.cycle_inputs import encode_inputs, spec_hash
from fleetscale.journal.intents import IntentLog
from fleetscale.journal.record import CycleRecord
from fleetscale.journal.sql import OperatorState
from fleetscale.journal.write_ahead import LeaseExpiring, WriteAhead, recovered
from fleetscale.model import Instance
from fleetscale.observe import describe, list_instances, read_sessions, read_sources, source_errors
from fleetscale.ports import (
    Clock,
    Drainer,
    Journal,
    Leases,
    OperatorControls,
    Provider,
    Source,
    StateStore,
)
from fleetscale.state import FleetState

log = structlog.get_logger(__name__)
_NO_OPERATOR = OperatorState()
_NO_MEMORY = Memory()


@dataclass(frozen=True, slots=True)
class Turn:
    """One cycle as it happened; ``record()`` builds its journal record."""

    runner: PoolRunner
    step: Step
    settled: Settled
    cycle_id: str
    started_at: datetime
    #: what ``step`` was given (for the record's replay inputs; None when observing failed)
    inputs: Inputs | None = None
    before: FleetState | None = None
    spec: CycleSpec | None = None
    #: the first cycle since the state was loaded (the runner's first, or the first after a
    #: takeover): its record keeps the decision memory it started from
    first: bool = False

    def record(self) -> CycleRecord:
        r = self.runner
        return record(self.step, self.settled, pool=r.name, cycle_id=self.cycle_id,
                      started_at=self.started_at, finished_at=r.clock.now(), dry_run=r.dry_run,
                      inputs=r.replay_inputs(self))


class PoolRunner:
    """Runs the cycles of one pool; owns its ``FleetState``."""

    def __init__(
        self,
        name: str,
        spec: CycleSpec,
        interval: float,
        *,
        sources: Sequence[Source],
        provider: Provider,
        drainer: Drainer,
        journals: Sequence[Journal],
        store: StateStore,
        clock: Clock,
        operator: OperatorControls | None = None,
        intents: IntentLog | None = None,
        crash_at: str | None = None,
        run_id: str | None = None,
        leases: Leases | None = None,
        log_cycles: bool = True,
    ) -> None:
        self.name = name
        #: a debug line as each cycle starts (the simulator, which runs millions, says no)
        self.log_cycles = log_cycles
        self.interval = interval
        self.sources = tuple(sources)
        self.provider = provider
        self.drainer = drainer
        self.journals = tuple(journals)
        self.store = store
        self.operator = operator
        self.clock = clock
        self.spec = spec
        self.dry_run = self.spec.dry_run
        self.seq = 0
        #: distinguishes this runner's cycle ids from those of an earlier process
        self.run_id = run_id or uuid.uuid4().hex[:6]
        #: several replicas: this replica's leases (None: it owns the pool, as one replica does)
        self.leases = leases
        #: the lease token the state was loaded under (None: not owned / not loaded)
        self.token: int | None = None
        #: the highest token a store refused: never act again under it
        self._refused = -1
        self._intents, self._crash_at = intents, crash_at
        self.state = self._load() if leases is None else FleetState(name)
        #: the state was (re)loaded and no cycle has recorded its decision memory since
        self._fresh = True
        self.wal: WriteAhead | None = None
        self.actor = self._new_actor()
        self._sink_error: str | None = None
        self._state_error: str | None = None
        #: the decision spec under the operator's controls, rebuilt only when they change
        self._controlled: tuple[OperatorState, CycleSpec] = (_NO_OPERATOR, self.spec)
        self._hash: str | None = None
        #: the last cycle's replay inputs and what they were encoded from (``replay_inputs``)
        self._replay_memo: tuple[tuple[Any, ...], Mapping[str, Any]] | None = None

    # --- ownership (several replicas) -----------------------------------------------

    def ready(self) -> bool:
        """True when this replica may run a cycle of the pool now: always without leases;
        with leases, while it holds the pool's lease and may act. Takes the pool over (state
        reloaded under a fence claim, write-ahead log afresh) on a new token."""
        if self.leases is None:
            return True
        lease = self.leases.lease(self.name)
        if lease is None or not self.leases.may_act(self.name, time.monotonic()):
            if lease is None and self.token is not None:
                self._drop("lease gone")
            return False
        if lease.token == self.token:
            return True
        if lease.token <= self._refused:
            return False
        try:
            state = self.store.claim(self.name, lease.token)
        except FencingError as exc:
            log.warning("takeover refused", pool=self.name, token=lease.token, error=describe(exc))
            self._refused = max(self._refused, lease.token)
            return False
        except Exception as exc:
            log.error("takeover failed; next cycle tries again", pool=self.name, error=describe(exc))
            return False
        self.state = state or FleetState(self.name)
        self.token = lease.token
        self.actor = self._new_actor()
        self._fresh = True
        log.info("pool taken over", pool=self.name, token=lease.token, drains=len(self.state.drains),
                 version=self.state.version)
        return True

    def _may_act(self) -> bool:
        if self.leases is None:
            return True
        lease = self.leases.lease(self.name)
        return (lease is not None and lease.token == self.token
                and self.leases.may_act(self.name, time.monotonic()))

    def _drop(self, why: str, refused: bool = False) -> None:
        """Stop acting on the pool: forget its in-memory state (reloaded on the next takeover)."""
        if refused and self.token is not None:
            self._refused = max(self._refused, self.token)
        log.warning("stopped acting on the pool", pool=self.name, token=self.token, why=why)
        self.token = None
        self.state = FleetState(self.name)
        self.actor = self._new_actor()

    def _new_actor(self) -> Actor:
        if self._intents is None:
            self.wal = None
            return Actor(self.provider, self.drainer, None, self._may_act if self.leases else None)
        self.wal = WriteAhead(self.name, self.provider, self.drainer, self._intents, self._crash_at,
                              self.clock)
        if self.leases is not None:
            self.wal.token = self.token
            self.wal.may_act = self._may_act
        return Actor(self.provider, self.drainer, self.wal)

    # --- the cycle --------------------------------------------------------------------

    def cycle(self, extra: str | None = None) -> CycleRecord:
        """One cycle, journaled; returns its record. ``extra`` = why an extra (not scheduled)
        cycle runs (``reaction.py``)."""
        turn = self.turn(extra)
        rec = turn.record()
        for sink in self.journals:
            try:
                sink.record(rec)
            except Exception as exc:  # a failing sink never fails the cycle
                log.error("journal sink failed", pool=self.name, sink=type(sink).__name__,
                          error=describe(exc))
                if getattr(sink, "required", False):
                    self._sink_error = f"journal cannot be written: {describe(exc)}"
                    rec = replace(rec, errors=(*rec.errors, self._sink_error))
            else:
                if getattr(sink, "required", False):
                    self._sink_error = None
        return rec

    @property
    def journal_error(self) -> str | None:
        """Why the pool's journal or state cannot be written (None: it can). While set, the
        pool acts on nothing: a health signal for ``run``, an exit code for ``run --once``."""
        return self._state_error or self._sink_error

    def turn(self, extra: str | None = None) -> Turn:
        """One cycle without journaling it (the simulator builds records only when asked)."""
        now = self.clock.now()
        self.seq += 1
        cycle_id = f"{self.name}:{self.run_id}.{self.seq}"  # unique per pool; the time is started_at
        if self.log_cycles:
            log.debug("cycle start", pool=self.name, cycle_id=cycle_id)
        st: Step | None = None
        settled: Settled | None = None
        inputs: Inputs | None = None
        before: FleetState | None = None
        spec: CycleSpec | None = None
        try:
            inputs = self.observe(now, cycle_id)
            if extra is not None:  # --- reaction.py: an extra cycle (rules counted in cycles skip it) ---
                inputs = replace(inputs, scheduled=False, notes=(f"extra cycle: {extra}", *inputs.notes))
            before, spec = self.state, self._spec_at(now, inputs)
            st = step(before, inputs, spec)
            if inputs.listed is not None:
                st = self._drainer_reconcile(st)
            settled = self.perform(st, now)
        except Exception as exc:  # a failing pool never stops the others
            if isinstance(exc, FencingError) and self.leases is not None:
                # another replica owns the pool (refused), or this one may have lost it (local)
                self._drop(describe(exc), refused=not isinstance(exc, LeaseExpiring))
            elif isinstance(exc, FleetscaleError):  # a known fault (journal, provider...): one line
                log.error("cycle failed", pool=self.name, cycle_id=cycle_id, error=describe(exc))
            else:  # a bug: its traceback goes to the log
                log.exception("cycle failed", pool=self.name, cycle_id=cycle_id)
            st = st or Step(self.state, (), self.state.instances, None, None, (), (), ())
            so_far = settled or Settled(self.state, (), ())
            settled = replace(so_far, errors=(*so_far.errors, f"cycle failed: {describe(exc)}"))
        first = self._fresh and before is not None
        if first:
            self._fresh = False
        return Turn(self, st, settled, cycle_id, now, inputs, before, spec, first)

    def replay_inputs(self, turn: Turn) -> Mapping[str, Any] | None:
        """``turn``'s replay inputs (``journal/cycle_inputs.py``), None when observing failed.
        A cycle whose inputs equal the previous cycle's (a quiet pool: the same fleet, listing,
        sessions and controls) reuses that cycle's encoding instead of encoding them again."""
        if turn.inputs is None or turn.before is None or turn.spec is None:
            return None
        inputs, before, decision = turn.inputs, turn.before, turn.spec.decision
        key = None
        if not turn.first:  # the first cycle also keeps the memory and the settings
            key = (replace(before, version=0, listed=(), memory=_NO_MEMORY), inputs.listed,
                   inputs.sessions, decision.paused, decision.override, inputs.scheduled,
                   inputs.listed == turn.step.view)
            if self._replay_memo is not None and self._replay_memo[0] == key:
                return self._replay_memo[1]
        try:
            replay = encode_inputs(before, inputs.listed, inputs.sessions, decision, self.config_hash(),
                                   turn.first, (replace(self.spec, dry_run=False), self.interval)
                                   if turn.first else None, inputs.scheduled, turn.step.view)
        except ValueError as exc:  # a value the codec cannot keep: the record goes without
            log.warning("replay inputs not recorded", pool=self.name, error=describe(exc))
            return None
        self._replay_memo = None if key is None else (key, replay)
        return replay

    def config_hash(self) -> str:
        """A hash of the pool's decision settings, types and rules (a replay checks it)."""
        if self._hash is None:
            self._hash = spec_hash(self.spec.decision, (self.spec.types, self.spec.rules,
                                                        self.spec.require_registration))
        return self._hash

    def observe(self, now: datetime, cycle_id: str) -> Inputs:
        """Everything the cycle reads (I/O), including the replay of open intents."""
        obs = read_sources(self.sources, self.name, now)
        errors = source_errors(obs)
        listed, error = list_instances(self.provider, self.state.listed)
        if listed is None:
            return Inputs(now, cycle_id, tuple(obs), None, {}, (*errors, str(error)))
        notes: tuple[str, ...] = ()
        if self.wal is not None and not self.dry_run:
            rec = self.wal.recover(listed, self.state.drains, now)
            self.state = recovered(self.state, rec, now)
            notes, errors = rec.lines(), errors + rec.errors
            if rec.changed_fleet:
                listed, error = list_instances(self.provider)
                if listed is None:
                    return Inputs(now, cycle_id, tuple(obs), None, {}, (*errors, str(error)), notes)
        obs = list(map_addresses(tuple(obs), listed))  # readings keyed by instance id, always
        drains = self.state.drains
        if not drains:
            return Inputs(now, cycle_id, tuple(obs), listed, {}, tuple(errors), notes)
        sessions, problems = read_sessions(self.drainer, [i for i in listed if i.id in drains], obs, now)
        return Inputs(now, cycle_id, tuple(obs), listed, sessions, tuple(errors + problems), notes)

    def perform(self, st: Step, now: datetime) -> Settled:
        """Act on ``st``'s actions (nothing in a dry run), fold the results into the state,
        save it, then close the intents it records."""
        return self.apply(st.state, st.actions, {i.id: i for i in st.view} if st.actions else {}, now)

    def apply(self, state: FleetState, actions: Sequence[Action], view: dict[str, Instance],
              now: datetime) -> Settled:
        """Act, settle into ``state``, save, close the intents (also the seed ``Scaler``'s way
        to act outside a cycle)."""
        if self.journal_error and actions and not self.dry_run:
            # no journal, no explanation and no crash safety: hold until it can be written
            settled = Settled(state, (f"held: {self.journal_error}; nothing acted",), ())
        else:
            results = [Result(a, True) for a in actions] if self.dry_run else (
                self.actor.act(actions, view) if actions else [])
            settled = settle(state, results, now, self.dry_run)
        self.state = settled.state
        try:
            self.store.save(settled.state, self.token) if self.leases else self.store.save(settled.state)
        except FencingError:
            raise  # another replica owns the pool: the cycle ends here (``turn``)
        except Exception as exc:  # intents stay open: their replay is idempotent
            self._state_error = f"state not saved: {describe(exc)}"
            return replace(settled, errors=(*settled.errors, self._state_error))
        self._state_error = None
        if self.wal is not None:
            self.wal.commit()
        return settled

    def _spec_at(self, now: datetime, inputs: Inputs) -> CycleSpec:
        if self.operator is None:
            return self.spec
        op = self.operator.operator(self.name, now)
        base = self.spec.decision
        override = op.override or base.override
        if override is not None and override.until <= now:
            override = None
        op = OperatorState(op.paused, override)
        if op == self._controlled[0]:
            return self._controlled[1]
        if op.paused <= base.paused and override is base.override:
            spec = self.spec
        else:
            decision = replace(base, paused=base.paused | op.paused, override=override)
            spec = replace(self.spec, decision=decision)
        self._controlled = (op, spec)
        return spec

    def _drainer_reconcile(self, st: Step) -> Step:
        """A drainer that keeps its own registry (``media_redis``) may offer
        ``reconcile(instances) -> lines``: called once per cycle after a successful listing,
        with the instances as the controller sees them. Its lines go to the cycle's outcome;
        a failure is a cycle error line, never an exception."""
        hook = getattr(self.drainer, "reconcile", None)
        if not callable(hook) or self.dry_run:
            return st
        try:
            return replace(st, notes=st.notes + tuple(hook(st.view)))
        except Exception as exc:
            return replace(st, errors=(*st.errors, f"drainer reconcile failed: {describe(exc)}"))

    def _load(self) -> FleetState:
        try:
            return self.store.load(self.name) or FleetState(self.name)
        except Exception as exc:
            log.warning("saved state unreadable; starting from the provider's listing", pool=self.name,
                        error=describe(exc))
            return FleetState(self.name)


