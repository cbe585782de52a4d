"""Source ``kamailio``: registered and unlocked gateways, and active calls, from a Kamailio
registrar.

Per gateway (``instance_id`` = its address ``host:port`` from the registration's Contact):
``registered`` = 1, ``unlocked`` = 1/0 and ``to_stop`` = 1/0 (the marks in
``fleetscale_gateway``: a drain in progress is ``unlocked`` 0 and ``to_stop`` 1), ``sessions`` =
its active calls (dialog profile ``gw`` keyed ``sip:host:port``), ``capacity`` if configured.
Pool-wide: ``load`` and ``calls`` (active calls in total), ``gateways_registered``,
``gateways_unlocked``, ``capacity`` (unlocked gateways x calls per gateway).

Calls come from Kamailio's RPC (``calls: rpc``, the truth), or from SQL (``calls: sql``: a
query returning one number, and one returning ``(contact or destination, count)`` rows), or
from elsewhere (``calls: none``: another source supplies ``load``, as the seed's ``incallsNum``).

A failed read never raises: it comes back as an Observation with ``error`` (the pool holds).
With ``sync_dispatcher`` (default) every read also keeps the dispatcher set in line with the
registrations (see ``fleetscale.kamailio.store``).

With ``evapi_address`` (Kamailio's evapi listener, ``host:port``) the source is also
``Watchable``: ``watch`` reads Kamailio's events (``kamailio/evapi.py``, ``kamailio/watch.py``),
syncs the dispatcher set at once on a registration and notifies the pool of registrations and
calls, so the controller runs an extra cycle within a second instead of at the next interval.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

import structlog
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from fleetscale.kamailio.address import address_of, destination
from fleetscale.kamailio.db import DbSettings, make_engine
from fleetscale.kamailio.evapi import split_address
from fleetscale.kamailio.rpc import KamailioRpc, RpcError
from fleetscale.kamailio.store import GatewayStore, Registration
from fleetscale.kamailio.watch import KamailioWatch
from fleetscale.model import Observation
from fleetscale.ports import Closeable

log = structlog.get_logger(__name__)

NAME = "kamailio"
DEFAULT_SESSIONS_QUERY = "SELECT callee_contact, COUNT(*) FROM dialog WHERE state < 5 GROUP BY callee_contact"
DEFAULT_CALLS_QUERY = "SELECT COUNT(*) FROM dialog WHERE state < 5"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    db: DbSettings = DbSettings()
    #: Kamailio's JSON-RPC endpoint (xhttp + jsonrpcs); required for ``calls: rpc``
    rpc_url: str | None = "http://127.0.0.1:5060/RPC"
    rpc_timeout: PositiveFloat = Field(default=5.0, le=300)
    #: only registrations whose username starts with this (the seed's ``gw_name_prefix``)
    gw_prefix: str = ""
    setid: PositiveInt = Field(default=1, le=2**31 - 1)
    #: the dialog profile (with value) that counts calls per gateway
    profile: str = "gw"
    calls: Literal["rpc", "sql", "none"] = "rpc"
    calls_query: str = DEFAULT_CALLS_QUERY
    sessions_query: str = DEFAULT_SESSIONS_QUERY
    #: calls one gateway carries at 100 %: explicit, or cpu_per_gw x calls_per_cpu
    capacity_per_gw: PositiveFloat | None = Field(default=None, le=1e9)
    cpu_per_gw: PositiveInt | None = Field(default=None, le=4096)
    calls_per_cpu: PositiveFloat | None = Field(default=None, le=1e6)
    sync_dispatcher: bool = True
    #: seconds a gateway may stay unregistered before its dispatcher row is removed
    unregistered_grace: NonNegativeFloat = Field(default=30.0, le=7 * 86400)
    #: seconds after which a gone gateway's lock row is forgotten
    forget_after: PositiveFloat = Field(default=3600.0, le=30 * 86400)
    reload_budget: NonNegativeFloat = Field(default=12.0, le=120)
    #: Kamailio's evapi listener (``host:port``, the shipped config's ``bind_addr``): events
    #: on registrations and calls trigger extra cycles; None = poll at the interval only
    evapi_address: str | None = None

    @field_validator("evapi_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                split_address(value)
            except ValueError:
                raise ValueError("expected host:port with a port 1-65535") from None
        return value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.calls == "rpc" and not self.rpc_url:
            raise ValueError("calls: rpc needs rpc_url")
        if self.sync_dispatcher and not self.rpc_url:
            raise ValueError("sync_dispatcher needs rpc_url (to reload the dispatcher)")
        if (self.cpu_per_gw is None) != (self.calls_per_cpu is None):
            raise ValueError("cpu_per_gw and calls_per_cpu go together")
        return self

    @property
    def gateway_capacity(self) -> float | None:
        if self.capacity_per_gw is not None:
            return self.capacity_per_gw
        if self.cpu_per_gw is not None and self.calls_per_cpu is not None:
            return self.cpu_per_gw * self.calls_per_cpu
        return None


class KamailioSource:
    def __init__(self, settings: Settings, store: GatewayStore, rpc: KamailioRpc | None) -> None:
        self.settings = settings
        self.store = store
        self.rpc = rpc
        #: one dispatcher sync at a time (a cycle's read and a watch's registration event)
        self._sync_lock = threading.Lock()
        #: the gateway addresses of the last successful read (None: none yet)
        self._known: frozenset[str] | None = None

    def read(self, pool: str, now: datetime) -> list[Observation]:
        out: list[Observation] = []

        def ok(metric: str, value: float, instance: str | None = None) -> None:
            out.append(Observation(NAME, metric, float(value), now, instance))

        def failed(metric: str, exc: BaseException, instance: str | None = None) -> None:
            log.warning("kamailio read failed", pool=pool, metric=metric, error=str(exc))
            out.append(Observation(NAME, metric, None, now, instance, error=f"{type(exc).__name__}: {exc}"))

        try:
            registered = self.store.registrations()
            marks = self.store.marks()
        except SQLAlchemyError as exc:
            # a pool-wide ``registered`` error tells the controller the registrations are unknown
            # (not absent): it must not take the gateways for unregistered
            for metric in ("registered", "gateways_registered", "gateways_unlocked", "load", "calls"):
                failed(metric, exc)
            return out
        self._known = frozenset(r.address for r in registered)
        unlocked = [r for r in registered if not (marks.get(r.address) and marks[r.address].locked)]
        per_gw = self.settings.gateway_capacity
        for r in registered:
            ok("registered", 1, r.address)
            mark = marks.get(r.address)
            ok("unlocked", 0 if r not in unlocked else 1, r.address)
            ok("to_stop", 1 if mark and mark.to_stop else 0, r.address)
            if per_gw is not None:
                ok("capacity", per_gw, r.address)
        ok("gateways_registered", len(registered))
        ok("gateways_unlocked", len(unlocked))
        if per_gw is not None:
            ok("capacity", per_gw * len(unlocked))
        self._calls(registered, ok, failed)
        if self.settings.sync_dispatcher:
            self._sync(registered, failed)
        return out

    def _calls(self, registered: list[Registration], ok: Any, failed: Any) -> None:
        mode = self.settings.calls
        if mode == "none":
            return
        try:
            total, per = self._rpc_calls(registered) if mode == "rpc" else self._sql_calls(registered)
        except (RpcError, SQLAlchemyError, ValueError, TypeError) as exc:
            failed("load", exc)
            failed("calls", exc)
            for r in registered:
                failed("sessions", exc, r.address)
            return
        ok("load", total)
        ok("calls", total)
        for address, count in per.items():
            ok("sessions", count, address)

    def _rpc_calls(self, registered: list[Registration]) -> tuple[int, dict[str, int]]:
        assert self.rpc is not None
        profile = self.settings.profile
        per = {r.address: self.rpc.profile_size(profile, destination(r.address)) for r in registered}
        return self.rpc.profile_size(profile), per

    def _sql_calls(self, registered: list[Registration]) -> tuple[int, dict[str, int]]:
        with self.store.engine.connect() as conn:
            total = conn.execute(text(self.settings.calls_query)).scalar()
            rows = conn.execute(text(self.settings.sessions_query)).all()
        counted: dict[str, int] = {}
        for uri, count in rows:
            address = address_of(str(uri))
            if address is not None:
                counted[address] = counted.get(address, 0) + int(count)
        if total is None or int(total) < 0:
            raise ValueError(f"calls_query returned {total!r}")
        return int(total), {r.address: counted.get(r.address, 0) for r in registered}

    def _sync(self, registered: list[Registration], failed: Any) -> None:
        try:
            self._apply_sync(registered)
        except (RpcError, SQLAlchemyError) as exc:
            failed("dispatcher_sync", exc)

    def _apply_sync(self, registered: list[Registration]) -> None:
        s = self.settings
        with self._sync_lock:
            if self.store.sync(registered, s.unregistered_grace, s.forget_after) and self.rpc is not None:
                self.rpc.reload_dispatcher(budget=s.reload_budget)

    def sync_now(self) -> None:
        """Read the registrations and bring the dispatcher set in line (a watch calls it on a
        registration event). Raises RpcError / SQLAlchemyError."""
        self._apply_sync(self.store.registrations())

    def watch(self, pool: str, notify: Callable[[str], None]) -> Closeable:
        """Kamailio's events -> ``notify`` (and a dispatcher sync on registrations), until closed."""
        address = self.settings.evapi_address
        if address is None:
            return NotWatching()
        sync = self.sync_now if self.settings.sync_dispatcher else None
        watch = KamailioWatch(address, pool, notify, self.settings.gw_prefix, lambda: self._known, sync)
        return watch.start()

    def close(self) -> None:
        self.store.engine.dispose()
        if self.rpc is not None:
            self.rpc.close()


class NotWatching:
    """The handle of a watch that was not started (no ``evapi_address``)."""

    def close(self) -> None:
        return None


def build(settings: Settings, ctx: Any) -> KamailioSource:
    store = GatewayStore(make_engine(settings.db), ctx.pool.name, settings.setid, settings.gw_prefix)
    rpc = KamailioRpc(settings.rpc_url, settings.rpc_timeout) if settings.rpc_url else None
    return KamailioSource(settings, store, rpc)
