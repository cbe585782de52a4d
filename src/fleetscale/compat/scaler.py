"""``fleetscale.compat.Scaler``: the seed gateway Scaler's methods on top of the engine.

::

    scaler = Scaler(csp)                 # the seed's CSP object; None = the config's provider
    scaler.configure("scaler.json")      # the seed's JSON, as is
    scaler.scale()                       # one cycle: decide from Kamailio's calls and act
    scaler.scale(scaleTime="08:30:00", incallsNum=412)   # decide at that time for that load
    scaler.upScale(numCPU=8)             # launch ceil(8 / cpu_per_gw) gateways
    scaler.downScale(numGW=2)            # lock the 2 least busy gateways (drained, then destroyed)
    scaler.cleanup()                     # destroy drained gateways and ones that never came up

What changed from the seed (its listed defects): the file is read with a context manager;
an empty ``csp.instType`` is a ConfigError naming it, not a crash; a failed read never leaves
a name unbound (each step returns what it did); every SQL statement is parameterised
(``fleetscale.kamailio.store``); logging goes through structlog, never ``print``; and a locked
gateway is destroyed only once its active calls reached zero (``cleanup``).
"""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from fleetscale import registry
from fleetscale.app import runner_for
from fleetscale.compat.csp import CspProvider, instance_types
from fleetscale.compat.gateway_config import seed_to_document
from fleetscale.config import Loaded, PoolConfig, parse
from fleetscale.cycle import Action, Inputs, overlay
from fleetscale.errors import ConfigError, FleetscaleError, ProviderError
from fleetscale.journal.record import CycleRecord
from fleetscale.journal.sql import SqlJournal
from fleetscale.journal.state_store import SqlStateStore
from fleetscale.model import Instance, InstanceState, Observation
from fleetscale.planner import cheapest_mix
from fleetscale.reconciler import reconcile
from fleetscale.runner import PoolRunner
from fleetscale.sim.clock import WallClock
from fleetscale.state import FleetState

log = structlog.get_logger(__name__)


class PinnableClock:
    """Wall time, or a pinned instant while ``scale(scaleTime=...)`` runs."""

    def __init__(self, base: Any = None) -> None:
        self.base = base or WallClock()
        self.pinned: datetime | None = None

    def now(self) -> datetime:
        return self.pinned if self.pinned is not None else self.base.now()

    def sleep(self, seconds: float) -> None:
        self.base.sleep(seconds)


class ExternalCalls:
    """Source of the seed's ``incallsNum``: the pool's ``load`` when one was supplied."""

    def __init__(self) -> None:
        self.value: float | None = None

    def read(self, pool: str, now: datetime) -> list[Observation]:
        if self.value is None:
            return []
        return [Observation("incallsNum", "load", float(self.value), now),
                Observation("incallsNum", "calls", float(self.value), now)]


class Scaler:
    def __init__(self, csp: Any = None, *, journal_url: str | None = None, clock: Any = None) -> None:
        self.csp = csp
        self.journal_url = journal_url
        self.clock = PinnableClock(clock)
        self.config: dict[str, Any] = {}
        self._runner: PoolRunner | None = None
        self._loaded: Loaded | None = None
        self._external = ExternalCalls()
        self._journal: SqlJournal | None = None

    # --- the seed's methods ------------------------------------------------------------

    def configure(self, configFile: str | Path) -> None:
        path = Path(configFile)
        try:
            with path.open(encoding="utf-8") as f:
                seed = json.load(f)
        except OSError as exc:
            raise ConfigError(f"(file): cannot read {path}: {exc.strerror} (got {path})") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"(file): invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg} "
                              f"(got {path})") from None
        self.configure_from(seed)

    def configure_from(self, seed: dict[str, Any]) -> None:
        """``configure`` from an already decoded seed document. A refused document leaves the
        current configuration in place."""
        doc = seed_to_document(seed)
        pool_doc = doc["pools"][0]
        if self.csp is not None:
            types = instance_types(self.csp, int(seed["cpu_per_gw"]))
            pool_doc["instance_types"] = [{"name": t.name, "weight": t.weight, "price": t.price}
                                          for t in types]
        loaded = parse(doc)
        self.close()  # only once the new configuration is known to be valid
        self._loaded = loaded
        self.config = dict(seed)
        self._runner = self._build(loaded)

    def upScale(self, numCPU: int) -> list[Instance]:
        """Launch enough gateways for ``numCPU`` CPUs: ceil(numCPU / cpu_per_gw)."""
        runner = self._ready()
        if numCPU <= 0:
            return []
        gateways = math.ceil(numCPU / int(self.config["cpu_per_gw"]))
        mix, _, _ = cheapest_mix(runner.spec.types, gateways)
        request = f"upScale:{uuid.uuid4().hex[:12]}"
        actions = [Action("launch", (name, ), f"{request}/{name}", count=count) for name, count in mix]
        settled = runner.apply(runner.state, actions, {}, self.clock.now())
        made = list(settled.launched)
        if settled.errors:
            raise ProviderError("; ".join(settled.errors))
        log.info("upScale", cpus=numCPU, gateways=gateways, launched=[m.id for m in made])
        return made

    def downScale(self, numGW: int) -> list[str]:
        """Lock the ``numGW`` least busy unlocked gateways (fewest calls, then newest); each is
        destroyed by ``cleanup`` once its last call has ended (idle ones at once)."""
        runner = self._ready()
        if numGW <= 0:
            return []
        now = self.clock.now()
        state, inputs = self._look(now)
        sessions = {o.instance_id: o.value for o in inputs.observations if o.metric == "sessions" and o.ok}
        candidates = [i for i in state.instances if i.state is InstanceState.READY]
        candidates.sort(key=lambda i: (sessions.get(i.id, math.inf),
                                       -(i.launched_at or datetime.min.replace(tzinfo=UTC)).timestamp()))
        actions = [Action("drain", (i.id,), f"downScale:{uuid.uuid4().hex[:12]}") for i in candidates[:numGW]]
        settled = runner.apply(state, actions, state.by_id(), now)
        for error in settled.errors:
            log.warning("downScale: cannot lock", error=error)
        locked = [a.targets[0] for a in actions if a.targets[0] in settled.state.drains]
        log.info("downScale", requested=numGW, locked=locked)
        self.cleanup()
        return locked

    def cleanup(self) -> list[str]:
        """Destroy locked gateways whose calls reached zero, and gateways that got no address or
        never registered within the boot timeout. Returns the destroyed ids."""
        runner = self._ready()
        now = self.clock.now()
        state, inputs = self._look(now)
        for error in inputs.errors:
            log.warning("cleanup: calls unknown (the gateway counts as busy)", error=error)
        repair = reconcile(now, state.instances, state.drains, inputs.sessions, set(state.known),
                           runner.spec.rules, state.first_seen,
                           reads_ok=not any(o.error for o in inputs.observations))
        state = state.adopted(repair.adopt).forget_drains(repair.forget_drains)
        ids = [i for i, _ in repair.terminate]
        actions = [Action("terminate", tuple(ids), f"cleanup:{uuid.uuid4().hex[:12]}",
                          why=tuple(w for _, w in repair.terminate))] if ids else []
        settled = runner.apply(state, actions, state.by_id(), now)
        if settled.errors:
            raise ProviderError("; ".join(settled.errors))
        for iid, why in repair.terminate:
            log.info("cleanup: destroyed", instance=iid, reason=why)
        return ids

    def scale(self, scaleTime: datetime | str | None = None,
              incallsNum: float | None = None) -> CycleRecord:
        """One cycle of the engine: decide (at ``scaleTime``, for ``incallsNum`` calls when
        given), act, then ``cleanup()`` (gateways locked by this cycle that carry no call are
        destroyed at once). Returns the cycle's record (decision, reason, plan, outcome)."""
        runner = self._ready()
        self._external.value = incallsNum
        tz = str(self.config.get("timezone", "UTC"))
        self.clock.pinned = _instant(scaleTime, self.clock.base.now(), tz) if scaleTime is not None else None
        try:
            record = runner.cycle()
            try:  # as the seed: gateways locked now and already idle go at once
                destroyed = self.cleanup()
            except FleetscaleError as exc:
                log.warning("scale: cleanup failed; the next cycle retries", error=str(exc))
                destroyed = []
        finally:
            self._external.value = None
            self.clock.pinned = None
        reason = record.decision.reason if record.decision else "no decision"
        log.info("scale", reason=reason, outcome=list(record.outcome), errors=list(record.errors),
                 destroyed=destroyed)
        return record

    def close(self) -> None:
        if self._runner is not None:
            r = self._runner
            for part in (*r.sources, r.provider, r.drainer, self._journal):
                closer = getattr(part, "close", None)
                if callable(closer):
                    closer()
            self._runner = None

    # --- wiring ----------------------------------------------------------------------

    def _build(self, loaded: Loaded) -> PoolRunner:
        pool: PoolConfig = loaded.config.pools[0]
        url = self.journal_url or loaded.config.journal.sql
        ctx = registry.BuildContext(pool=pool, clock=self.clock, journal_url=url)
        source = registry.build("source", "kamailio", loaded.source_settings(pool.name, 0), ctx)
        drainer = registry.build("drainer", pool.drainer.kind, loaded.drainer_settings(pool.name), ctx)
        if self.csp is not None:
            prefix = str(self.config.get("gw_name_prefix", ""))
            provider: Any = CspProvider(self.csp, prefix, clock=self.clock)
        else:
            settings = loaded.provider_settings(pool.name)
            provider = registry.build("provider", pool.provider.kind, settings, ctx)
        store = SqlJournal(url)
        self._journal = store
        # the supplied incallsNum comes first: at equal times the first pool-wide reading wins
        return runner_for(pool, sources=[self._external, source], provider=provider, drainer=drainer,
                          journals=[store], store=SqlStateStore(store.engine), operator=store,
                          clock=self.clock)

    def _ready(self) -> PoolRunner:
        if self._runner is None:
            raise ConfigError("configure: call configure(configFile) first (got no configuration)")
        return self._runner

    def _look(self, now: datetime) -> tuple[FleetState, Inputs]:
        """The provider's gateways as the controller sees them (locked ones draining, ones not
        registered, when required, pending) and what the cycle would read."""
        runner = self._ready()
        inputs = runner.observe(now, f"{runner.name}:look")
        if inputs.listed is None:
            raise ProviderError("; ".join(inputs.errors))
        return overlay(runner.state, inputs, runner.spec), inputs


def _instant(value: datetime | str, today: datetime, timezone: str = "UTC") -> datetime:
    """``scaleTime``: a datetime (naive = in ``timezone``), or "HH:MM[:SS]" today in ``timezone``
    (the time zone of the thresholds)."""
    tz = ZoneInfo(timezone)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    try:
        at = time.fromisoformat(value)
    except (TypeError, ValueError):
        raise ConfigError(f"scaleTime: expected a datetime or HH:MM[:SS] (got {value!r})") from None
    return datetime.combine(today.astimezone(tz).date(), at, tzinfo=tz)
