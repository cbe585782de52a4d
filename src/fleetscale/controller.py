"""The controller: one cycle per pool, observe -> decide -> plan -> act -> reconcile -> journal.

``PoolRunner.cycle()`` runs one cycle of one pool and never raises: anything that goes wrong
(a source, the provider, a drainer, even a bug) is journaled as an error of that cycle and
the pool holds. Decisions come from ``core.think`` (the one decision code path, shared with
the simulator). ``Controller`` runs every pool on its own interval: ``run()`` with APScheduler
in real time until SIGINT/SIGTERM, ``run_paced()`` on any clock (the demo, tests).

Durable state lives in the SQL journal (``journal/sql.py``): drains in progress (so a
restart finishes them), instances launched or adopted, operator pauses/holds (read every
cycle) and a checkpoint of the governor's memory.
"""

from __future__ import annotations

import dataclasses
import signal
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from types import FrameType
from typing import Any, Protocol

import structlog

from fleetscale import core
from fleetscale.config import PoolConfig
from fleetscale.decide import DecisionSpec, Memory, compile_spec
from fleetscale.journal.checkpoint import memory_from_json, memory_to_json
from fleetscale.journal.intents import IntentLog
from fleetscale.journal.record import CycleRecord
from fleetscale.journal.sql import OperatorState
from fleetscale.journal.write_ahead import (
    DurableState,
    JournaledDrainer,
    JournaledProvider,
    WriteAhead,
    recover_into,
)
from fleetscale.model import Instance, InstanceState, Observation, Plan, Snapshot, session_count
from fleetscale.ports import Clock, Drainer, Journal, Provider, Source
from fleetscale.reconciler import Repair, Rules, reconcile

log = structlog.get_logger(__name__)


class Store(DurableState, Protocol):
    """The controller's durable state (``journal.sql.SqlJournal`` implements it): drains and
    known instances (``DurableState``, which write-ahead recovery keeps in line), operator
    controls and the memory checkpoint."""

    def operator(self, pool: str, now: datetime) -> OperatorState: ...
    def save_memory(self, pool: str, text: str, at: datetime) -> None: ...
    def load_memory(self, pool: str) -> str | None: ...


def _err(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclasses.dataclass
class _Cycle:
    """What one cycle gathers as it goes (mutable, local to one cycle)."""

    now: datetime
    cycle_id: str
    observations: list[Observation] = dataclasses.field(default_factory=list)
    instances: tuple[Instance, ...] = ()
    outcome: list[str] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)
    launched: set[str] = dataclasses.field(default_factory=set)
    terminated: set[str] = dataclasses.field(default_factory=set)


class PoolRunner:
    """Runs the cycles of one pool."""

    def __init__(
        self,
        pool: PoolConfig,
        *,
        sources: Sequence[Source],
        provider: Provider,
        drainer: Drainer,
        journals: Sequence[Journal],
        store: Store,
        clock: Clock,
        dry_run: bool = False,
        spec: DecisionSpec | None = None,
        intents: IntentLog | None = None,
        crash_at: str | None = None,
    ) -> None:
        self.pool = pool
        self.name = pool.name
        self.sources = tuple(sources)
        self.provider = provider
        self.drainer = drainer
        self.journals = tuple(journals)
        self.store = store
        self.clock = clock
        self.dry_run = dry_run or pool.dry_run
        self.spec = spec or pool.decision_spec()
        self.compiled = compile_spec(self.spec)
        self.types = pool.types()
        self.rules = Rules(pool.boot_timeout, pool.drain.deadline, pool.drain.on_deadline,
                           pool.unknown_instances)
        self.first_seen: dict[str, datetime] = {}
        #: instances a source has reported registered at least once (require_registration)
        self.registered_once: set[str] = set()
        self.seq = 0
        #: distinguishes this runner's cycle ids from those of an earlier process
        self.run_id = uuid.uuid4().hex[:6]
        self.memory = self._load_memory()
        # --- write-ahead intents (journal/write_ahead.py): launch/drain/terminate write an intent
        # first, so a controller killed mid-action replays it on restart instead of losing it ---
        self.wal = WriteAhead(pool.name, provider, drainer, intents, crash_at, clock) if intents else None
        if self.wal is not None:
            self.provider, self.drainer = JournaledProvider(self.wal), JournaledDrainer(self.wal)

    # --- the cycle --------------------------------------------------------------------

    def cycle(self) -> CycleRecord:
        now = self.clock.now()
        self.seq += 1
        c = _Cycle(now, f"{self.name}:{now:%Y%m%dT%H%M%S}:{self.run_id}.{self.seq}")
        log.debug("cycle start", pool=self.name, cycle_id=c.cycle_id)
        verdict = plan = None
        try:
            verdict, plan = self._run(c)
        except Exception as exc:  # a failing pool never stops the others
            log.exception("cycle failed", pool=self.name, cycle_id=c.cycle_id)
            c.errors.append(f"cycle failed: {_err(exc)}")
        record = CycleRecord(
            pool=self.name, cycle_id=c.cycle_id, started_at=now, finished_at=self.clock.now(),
            dry_run=self.dry_run, observations=tuple(c.observations), instances=c.instances,
            proposals=verdict.proposals if verdict else (), steps=verdict.steps if verdict else (),
            decision=verdict.decision if verdict else None, plan=plan,
            outcome=tuple(c.outcome), errors=tuple(c.errors),
        )
        for sink in self.journals:
            try:
                sink.record(record)
            except Exception as exc:  # a failing sink never fails the cycle
                log.error("journal sink failed", pool=self.name, sink=type(sink).__name__, error=_err(exc))
        return record

    def _run(self, c: _Cycle) -> tuple[Any, Plan | None]:
        self._observe_sources(c)
        try:
            listed = [i for i in self.provider.list() if i.state is not InstanceState.GONE]
        except Exception as exc:
            c.errors.append(f"provider list failed: {_err(exc)}; holding")
            return None, None
        if self.wal is not None and not self.dry_run:  # --- write-ahead recovery (replays intents) ---
            listed, recovered = recover_into(self.wal, self.store, listed, c.now)
            c.outcome.extend(recovered.lines())
            c.errors.extend(recovered.errors)
        drains = self.store.drains(self.name)
        known = self.store.known(self.name)
        c.observations, c.instances = self.view(listed, drains, c.observations)
        self._reconcile_drainer(c)
        sessions = self._sessions(c)
        op = self.store.operator(self.name, c.now)
        spec = self._spec(op, c.now)
        visible = c.instances
        if self.rules.unknown_instances == "terminate":  # not ours: never counted nor reused
            visible = tuple(i for i in c.instances if i.id in known)
        snapshot = Snapshot(self.name, c.now, visible, tuple(c.observations))
        if spec is not self.compiled.spec and spec != self.compiled.spec:  # a pause or override
            self.compiled = compile_spec(spec)
        verdict, plan = core.think(snapshot, self.compiled, self.memory, self.types, c.cycle_id)
        self.memory = verdict.memory
        if self.dry_run:
            c.outcome.append("dry run: nothing acted")
        else:
            self._act(c, plan, sessions)
            drains = self.store.drains(self.name)
        remaining = tuple(i for i in c.instances if i.id not in c.terminated)
        to_stop = {o.instance_id for o in c.observations
                   if o.metric == "to_stop" and o.ok and o.value and o.instance_id is not None}
        repair = reconcile(c.now, remaining, drains, sessions, known | c.launched,
                           self.rules, self.first_seen, to_stop)
        self._repair(c, repair, plan.request_id)
        self._checkpoint(c)
        return verdict, plan

    # --- observe ----------------------------------------------------------------------

    def _observe_sources(self, c: _Cycle) -> None:
        c.observations.extend(self.read_sources(c.now))
        c.errors.extend(f"source {o.source} {o.metric}: {o.error}" for o in c.observations if o.error)

    def read_sources(self, now: datetime) -> list[Observation]:
        """Every source's observations; a source that raises becomes an error observation."""
        out: list[Observation] = []
        for src in self.sources:
            try:
                out.extend(src.read(self.name, now))
            except Exception as exc:
                metric = getattr(src, "metric", "load")
                out.append(Observation(type(src).__name__, metric, None, now, error=_err(exc)))
        return out

    def view(self, listed: list[Instance], drains: dict[str, datetime],
             obs: list[Observation]) -> tuple[list[Observation], tuple[Instance, ...]]:
        """The observations keyed by instance id (a source that knows only addresses is mapped)
        and the provider's instances as this controller sees them (drains and missing
        registrations overlaid). Used by the cycle and by ``compat.Scaler``."""
        obs = self._map_addresses(obs, listed)
        return obs, self._overlay(listed, drains, obs)

    @staticmethod
    def _map_addresses(obs: list[Observation], listed: list[Instance]) -> list[Observation]:
        by_address = {i.address: i.id for i in listed if i.address}
        return [dataclasses.replace(o, instance_id=by_address[o.instance_id])
                if o.instance_id in by_address else o for o in obs]

    def _overlay(self, listed: list[Instance], drains: dict[str, datetime],
                 obs: list[Observation]) -> tuple[Instance, ...]:
        registered = {o.instance_id for o in obs
                      if o.metric == "registered" and o.ok and o.value is not None and o.value >= 1}
        # a failed read means "unknown", not "unregistered": any failed read, since a source that
        # cannot read at all (media_redis while Redis is down, a source that raised) reports only
        # its pool-wide metric; and an instance that has registered once is never taken back to
        # pending (the boot timeout would cut its calls)
        unknown = any(o.error for o in obs)
        self.registered_once = (self.registered_once | {i for i in registered if i}) & {i.id for i in listed}
        out = []
        self.first_seen = {i.id: self.first_seen.get(i.id, self.clock.now()) for i in listed}
        for inst in listed:
            if inst.id in drains and inst.state is InstanceState.READY:
                inst = inst.moved_to(InstanceState.DRAINING)
            elif (self.pool.require_registration and inst.state is InstanceState.READY
                  and not unknown and inst.id not in self.registered_once):
                inst = dataclasses.replace(inst, state=InstanceState.PENDING)
            out.append(inst)
        return tuple(out)

    def _sessions(self, c: _Cycle) -> dict[str, int | None]:
        out, errors = self.sessions(c.instances, c.observations, c.now)
        c.errors.extend(errors)
        return out

    def sessions(self, instances: Sequence[Instance], observations: list[Observation],
                 now: datetime) -> tuple[dict[str, int | None], list[str]]:
        """Live sessions of draining instances: the drainer's count and a source's ``sessions``
        reading, the larger when both are known; None (busy) when neither is. A count only the
        drainer knew is added to ``observations`` (for the journal); returns the counts and the
        drainer's errors. Used by the cycle and by ``compat.Scaler``."""
        from_sources = {o.instance_id: n for o in observations
                        if o.metric == "sessions" and o.instance_id
                        and (n := session_count(o)) is not None}
        out: dict[str, int | None] = {}
        errors: list[str] = []
        for inst in instances:
            if inst.state is not InstanceState.DRAINING:
                continue
            try:
                n = self.drainer.sessions(inst)
            except Exception as exc:
                errors.append(f"drainer sessions {inst.id}: {_err(exc)}")
                n = None
            seen = from_sources.get(inst.id)
            if n is None:
                n = seen
            elif seen is not None:
                n = max(n, seen)  # two counts disagree: trust the busier one
            else:
                observations.append(Observation("drainer", "sessions", float(n), now, instance_id=inst.id))
            out[inst.id] = n
        return out, errors

    def _spec(self, op: OperatorState, now: datetime) -> DecisionSpec:
        override = op.override or self.spec.override
        if override is not None and override.until <= now:
            override = None
        if op.paused <= self.spec.paused and override is self.spec.override:
            return self.spec  # the same object every cycle: its compiled form is reused
        return dataclasses.replace(self.spec, paused=self.spec.paused | op.paused, override=override)

    def _reconcile_drainer(self, c: _Cycle) -> None:
        """A drainer that keeps its own registry (``media_redis``) may offer
        ``reconcile(instances) -> lines``: called once per cycle, only after a successful
        ``provider.list()``, with the instances as the controller sees them (drains overlaid).
        Its lines go to the cycle's outcome; a failure is a cycle error, never an exception."""
        hook = getattr(self.drainer, "reconcile", None)
        if not callable(hook) or self.dry_run:
            return
        try:
            c.outcome.extend(hook(c.instances))
        except Exception as exc:
            c.errors.append(f"drainer reconcile failed: {_err(exc)}")

    # --- act --------------------------------------------------------------------------

    def _act(self, c: _Cycle, plan: Plan, sessions: dict[str, int | None]) -> None:
        by_id = {i.id: i for i in c.instances}
        for iid in plan.cancel_drain:
            if self._drainer_call(c, "cancel", by_id.get(iid), iid):
                self.store.remove_drains(self.name, [iid])
                c.outcome.append(f"drain cancelled on {iid}")
        for item in plan.launch:
            try:
                made = self.provider.launch(item.type, item.count, f"{plan.request_id}/{item.type}")
            except Exception as exc:
                c.errors.append(f"launch {item.count} x {item.type} failed: {_err(exc)}")
                continue
            self.store.add_known(self.name, [m.id for m in made], "launched", c.now)
            c.launched.update(m.id for m in made)
            c.outcome.append(f"launched {len(made)} x {item.type}: {', '.join(m.id for m in made)}")
        for iid in plan.begin_drain:
            self._begin_drain(c, by_id.get(iid), iid, "")
        safe: list[str] = []
        unsafe: list[str] = []
        for iid in plan.terminate:
            inst = by_id.get(iid)
            idle = inst is None or inst.state in (InstanceState.PENDING, InstanceState.FAILED)
            (safe if idle or sessions.get(iid) == 0 else unsafe).append(iid)
        for iid in unsafe:  # never cut live (or unknown) sessions: drain instead
            self._begin_drain(c, by_id.get(iid), iid, " instead of terminating (sessions live or unknown)")
        if safe:
            self._terminate(c, [(i, "planned") for i in safe], f"{plan.request_id}/terminate")

    def _drainer_call(self, c: _Cycle, what: str, inst: Instance | None, iid: str) -> bool:
        if inst is None:
            c.errors.append(f"drain {what} {iid}: no such instance")
            return False
        try:
            getattr(self.drainer, what)(inst)
        except Exception as exc:
            c.errors.append(f"drain {what} {iid} failed: {_err(exc)}")
            return False
        return True

    def _begin_drain(self, c: _Cycle, inst: Instance | None, iid: str, why: str) -> None:
        if inst is not None and inst.state is InstanceState.DRAINING:
            return
        if self._drainer_call(c, "begin", inst, iid):
            self.store.add_drain(self.name, iid, c.now)
            c.outcome.append(f"drain begun on {iid}{why}")

    def _terminate(self, c: _Cycle, items: list[tuple[str, str]], request_id: str) -> None:
        ids = [i for i, _ in items]
        try:
            self.provider.terminate(ids, request_id)
        except Exception as exc:
            c.errors.append(f"terminate {', '.join(ids)} failed: {_err(exc)}")
            return
        self.store.remove_drains(self.name, ids)
        self.store.forget(self.name, ids)
        c.terminated.update(ids)
        c.outcome.extend(f"terminated {i} ({why})" for i, why in items)

    # --- reconcile --------------------------------------------------------------------

    def _repair(self, c: _Cycle, repair: Repair, request_id: str) -> None:
        c.outcome.extend(repair.notes)
        if repair.forget_drains:
            self.store.remove_drains(self.name, repair.forget_drains)
        if repair.adopt:
            self.store.add_known(self.name, repair.adopt, "adopted", c.now)
            c.outcome.append(f"adopted {', '.join(repair.adopt)}")
        if self.dry_run:
            c.outcome.extend(f"dry run: would terminate {i} ({why})" for i, why in repair.terminate)
            c.outcome.extend(f"dry run: would drain {i} ({why})" for i, why in repair.drain)
            return
        by_id = {i.id: i for i in c.instances}
        for iid, why in repair.drain:
            self._begin_drain(c, by_id.get(iid), iid, f" ({why})")
        if repair.terminate:
            self._terminate(c, list(repair.terminate), f"{request_id}/reconcile")

    # --- memory -----------------------------------------------------------------------

    def _load_memory(self) -> Memory:
        try:
            text = self.store.load_memory(self.name)
            return memory_from_json(text) if text else Memory()
        except Exception as exc:
            log.warning("memory checkpoint unreadable; starting fresh", pool=self.name, error=_err(exc))
            return Memory()

    def _checkpoint(self, c: _Cycle) -> None:
        try:
            self.store.save_memory(self.name, memory_to_json(self.memory), c.now)
        except Exception as exc:
            c.errors.append(f"memory checkpoint failed: {_err(exc)}")


class Controller:
    """Runs every pool's cycles; a failing pool never stops the others."""

    def __init__(self, runners: Sequence[PoolRunner], clock: Clock,
                 on_close: Sequence[Callable[[], Any]] = ()) -> None:
        self.runners = tuple(runners)
        self.clock = clock
        self._on_close = tuple(on_close)

    def cycle(self) -> list[CycleRecord]:
        """One cycle of every pool, in order."""
        return [r.cycle() for r in self.runners]

    def run(self, stop: threading.Event | None = None, speed: float = 1.0,
            install_signals: bool = True) -> None:
        """Real time: each pool every ``interval / speed`` wall seconds (APScheduler), the first
        cycle at once, until ``stop`` is set or SIGINT/SIGTERM; the cycle in flight finishes."""
        from apscheduler.schedulers.background import BackgroundScheduler

        stop = stop or threading.Event()
        previous: dict[int, Any] = {}
        if install_signals and threading.current_thread() is threading.main_thread():
            def handler(signum: int, frame: FrameType | None) -> None:
                log.info("stopping after the cycle in flight", signal=signal.Signals(signum).name)
                stop.set()
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, handler)
        scheduler = BackgroundScheduler(timezone="UTC")
        first = datetime.now().astimezone()
        for runner in self.runners:
            scheduler.add_job(runner.cycle, "interval", seconds=runner.pool.interval / speed,
                              id=runner.name, name=f"cycle {runner.name}", max_instances=1,
                              coalesce=True, next_run_time=first, misfire_grace_time=None)
        scheduler.start()
        log.info("controller started", pools=[r.name for r in self.runners])
        try:
            while not stop.wait(0.2):
                pass
        finally:
            scheduler.shutdown(wait=True)
            for sig, before in previous.items():  # give the caller its handlers back
                signal.signal(sig, before)
            log.info("controller stopped")

    def run_paced(self, until: datetime, stop: threading.Event | None = None,
                  on_cycle: Callable[[CycleRecord], None] | None = None) -> None:
        """Each pool at its own interval on ``self.clock`` (simulated or scaled) until ``until``."""
        due = {r.name: self.clock.now() for r in self.runners}
        for _ in range(10_000_000):  # bounded
            if stop is not None and stop.is_set():
                return
            runner = min(self.runners, key=lambda r: due[r.name])
            when = due[runner.name]
            if when >= until:
                return
            wait = (when - self.clock.now()).total_seconds()
            if wait > 0:
                self.clock.sleep(wait)
            record = runner.cycle()
            if on_cycle is not None:
                on_cycle(record)
            due[runner.name] = when + timedelta(seconds=runner.pool.interval)

    def close(self) -> None:
        for fn in self._on_close:
            try:
                fn()
            except Exception as exc:
                log.warning("close failed", error=_err(exc))
