"""Wiring: builds a Controller from a validated configuration (``config.Loaded``).

Adapters come from ``registry.build(role, kind, settings, ctx)``; the SQL journal is both a
sink and the controller's durable state; the structured log is a sink unless
``journal.log: false``; further sinks come from ``journal.sinks``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.exc import SQLAlchemyError

from fleetscale import registry
from fleetscale.config import Loaded, PoolConfig
from fleetscale.controller import Controller
from fleetscale.cycle import CycleSpec
from fleetscale.decide import DecisionSpec
from fleetscale.errors import ConfigError, FleetscaleError, JournalError
from fleetscale.journal.intents import IntentLog
from fleetscale.journal.log import LogJournal
from fleetscale.journal.sql import SqlJournal
from fleetscale.journal.state_store import SqlStateStore
from fleetscale.journal.write_ahead import crash_at_from_env
from fleetscale.operator_cache import OperatorCache
from fleetscale.ports import Clock, Closeable, Journal, OperatorControls
from fleetscale.reconciler import Rules
from fleetscale.runner import PoolRunner
from fleetscale.sim.clock import WallClock

if TYPE_CHECKING:
    from fleetscale.coordination.build import Coordination

logger = structlog.get_logger(__name__)

#: seconds a pool's decision memory alone may go unsaved (``SqlStateStore.memory_every``)
MEMORY_EVERY = 120.0


def _closer(obj: Any) -> list[Any]:
    return [obj.close] if isinstance(obj, Closeable) else []


def cycle_spec(pool: PoolConfig, spec: DecisionSpec | None = None, dry_run: bool = False) -> CycleSpec:
    """A configured pool's constants for its cycles."""
    return CycleSpec(
        decision=spec or pool.decision_spec(), types=pool.types(),
        rules=Rules(pool.boot_timeout, pool.drain.deadline, pool.drain.on_deadline, pool.unknown_instances),
        require_registration=pool.require_registration, dry_run=dry_run or pool.dry_run,
    )


def runner_for(pool: PoolConfig, *, dry_run: bool = False, spec: DecisionSpec | None = None,
               **adapters: Any) -> PoolRunner:
    """The runner of a configured pool."""
    return PoolRunner(pool.name, cycle_spec(pool, spec, dry_run), pool.interval, **adapters)


def build_controller(
    loaded: Loaded,
    clock: Clock | None = None,
    *,
    dry_run: bool = False,
    journal_url: str | None = None,
    log: bool | None = None,
    extra_sinks: tuple[Journal, ...] = (),
) -> Controller:
    """Build every pool's adapters and the journal. Raises FleetscaleError (one line) if an
    adapter cannot be built (a missing trace file, an unreachable journal, ...)."""
    cfg = loaded.config
    clock = clock or WallClock()
    url = journal_url or cfg.journal.sql
    store = SqlJournal(url, retention=cfg.journal.retention_period)
    closers: list[Any] = [store.close]
    try:
        store.verify()
    except SQLAlchemyError as exc:
        store.close()
        cause = getattr(exc, "orig", None) or exc
        raise JournalError(f"journal {url}: the database file is damaged "
                           f"({type(cause).__name__}: {cause}); restore it from a "
                           "backup or move it away") from None
    except FleetscaleError:
        store.close()
        raise
    sinks: list[Journal] = [store]
    if cfg.journal.log if log is None else log:
        sinks.append(LogJournal())
    runners = []
    try:
        # several replicas: leases, and a fence on every state and intent write
        coordination = _coordination(loaded, url, store, closers)
        fence = coordination.fence if coordination else None
        # write-ahead intents beside the journal, on the same engine: one connection pool per
        # database, and an in-memory journal (``sqlite://``) is one database for every thread
        intents = IntentLog(store.engine, now=clock.now, fence=fence)
        states = SqlStateStore(store.engine, fence=fence, memory_every=MEMORY_EVERY)
        # the operator's controls of every pool: one query every second, not one per cycle
        controls = OperatorCache(store.engine)
        for j, spec in enumerate(cfg.journal.sinks):
            sink = _build("sink", spec.kind, loaded.sink_settings(j), None, f"journal.sinks.{j}", clock, url)
            sinks.append(sink)
            closers += _closer(sink)
        if cfg.journal.metrics_port:
            from fleetscale.journal import metrics

            exporter = metrics.serve(cfg.journal.metrics_port)
            sinks.append(exporter)
            closers.append(exporter.close)
        sinks.extend(extra_sinks)
        for i, pool in enumerate(cfg.pools):
            runners.append(_runner(loaded, i, pool, clock, url, sinks, controls, states, closers, dry_run,
                                   intents, coordination))
    except BaseException:
        for close in closers:  # do not leak what was already built
            try:
                close()
            except Exception as exc:
                logger.warning("close after a failed start failed", error=str(exc))
        raise
    return Controller(runners, clock, on_close=closers, coordination=coordination)


def _coordination(loaded: Loaded, url: str, store: SqlJournal, closers: list[Any]) -> Coordination | None:
    """The ``coordination:`` section's backend, coordinator and fence (None without one).
    Ownership changes are journaled in ``fs_ownership``."""
    cfg = loaded.config
    if cfg.coordination is None:
        return None
    from fleetscale.coordination.build import build
    from fleetscale.coordination.history import OwnershipLog

    history = OwnershipLog(store.engine)
    try:
        c = build(cfg.coordination, url, [p.name for p in cfg.pools], on_changes=history.record)
    except FleetscaleError as exc:
        raise ConfigError(f"coordination: cannot start: {exc} (got backend {cfg.coordination.backend})"
                          ) from exc
    closers.append(c.backend.close)
    try:
        c.fence.create(store.engine)
    except SQLAlchemyError as exc:
        raise JournalError(f"coordination: cannot create the fence's tables: {type(exc).__name__}") from None
    return c


def _runner(loaded: Loaded, i: int, pool: Any, clock: Clock, url: str, sinks: list[Journal],
            controls: OperatorControls, states: SqlStateStore, closers: list[Any], dry_run: bool,
            intents: IntentLog | None = None, coordination: Coordination | None = None) -> PoolRunner:
    where = f"pools.{i}"
    sources = []
    for j, s in enumerate(pool.sources):  # each closer is kept at once: a later failure closes it
        sources.append(_build("source", s.kind, loaded.source_settings(pool.name, j), pool,
                              f"{where}.sources.{j}", clock, url))
        closers += _closer(sources[-1])
    provider = _build("provider", pool.provider.kind, loaded.provider_settings(pool.name), pool,
                      f"{where}.provider", clock, url)
    closers += _closer(provider)
    drainer = _build("drainer", pool.drainer.kind, loaded.drainer_settings(pool.name), pool,
                     f"{where}.drainer", clock, url)
    closers += _closer(drainer)
    return runner_for(pool, sources=sources, provider=provider, drainer=drainer, journals=sinks,
                      store=states, operator=controls, clock=clock, dry_run=dry_run,
                      intents=intents, crash_at=crash_at_from_env(),  # write-ahead intents
                      leases=coordination.coordinator if coordination else None)


def _build(role: str, kind: str, settings: Any, pool: Any, where: str, clock: Clock, url: str) -> Any:
    ctx = registry.BuildContext(pool=pool, clock=clock, journal_url=url)
    try:
        return registry.build(role, kind, settings, ctx)
    except FleetscaleError as exc:
        raise ConfigError(f"{where}: cannot build {role} {kind!r}: {exc} (got {kind})") from exc
