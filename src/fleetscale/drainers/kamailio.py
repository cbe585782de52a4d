"""Drainer ``kamailio``: lock a SIP gateway so no new call is routed to it, and count its calls.

``begin``: marks the gateway ``locked`` and ``to_stop`` in ``fleetscale_gateway``, sets its
dispatcher row's inactive flag (``UPDATE dispatcher SET flags = flags | 1``) so a later
``dispatcher.reload`` keeps it out, and takes it out of selection at once with
``dispatcher.set_state i <setid> sip:<address>``; when the destination is not loaded in memory
yet, ``dispatcher.reload`` (retrying Kamailio's ``Ongoing reload`` rate limit) applies the row.
``cancel`` undoes all three. ``sessions`` is the gateway's active calls from the dialog profile
(None when Kamailio cannot say: the gateway is then treated as busy and is not terminated).

New calls must reach gateways only through the dispatcher: calls addressed to a gateway's AOR
(``lookup("location")``) would still reach a locked gateway.
"""

from __future__ import annotations

from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat, PositiveInt
from sqlalchemy.exc import SQLAlchemyError

from fleetscale.errors import DrainError
from fleetscale.kamailio.address import destination
from fleetscale.kamailio.db import DbSettings, make_engine
from fleetscale.kamailio.rpc import KamailioRpc, RpcError
from fleetscale.kamailio.store import GatewayStore
from fleetscale.model import Instance

log = structlog.get_logger(__name__)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    db: DbSettings = DbSettings()
    rpc_url: str = "http://127.0.0.1:5060/RPC"
    rpc_timeout: PositiveFloat = Field(default=5.0, le=300)
    setid: PositiveInt = Field(default=1, le=2**31 - 1)
    profile: str = "gw"
    gw_prefix: str = ""
    reload_budget: NonNegativeFloat = Field(default=12.0, le=120)


class KamailioDrainer:
    def __init__(self, settings: Settings, store: GatewayStore, rpc: KamailioRpc) -> None:
        self.settings = settings
        self.store = store
        self.rpc = rpc

    def begin(self, instance: Instance) -> None:
        address = instance.address
        if not address:
            log.info("drain of a gateway with no address: nothing routes to it", instance=instance.id)
            return
        try:
            in_table = self.store.lock(address, instance.id)
        except SQLAlchemyError as exc:
            raise DrainError(f"cannot lock gateway {instance.id} ({address}): {exc}") from exc
        self._apply(instance, "i", in_table)
        log.info("gateway locked", instance=instance.id, address=address)

    def cancel(self, instance: Instance) -> None:
        address = instance.address
        if not address:
            return
        try:
            in_table = self.store.unlock(address)
        except SQLAlchemyError as exc:
            raise DrainError(f"cannot unlock gateway {instance.id} ({address}): {exc}") from exc
        self._apply(instance, "a", in_table)
        log.info("gateway unlocked", instance=instance.id, address=address)

    def _apply(self, instance: Instance, state: str, in_table: bool) -> None:
        """Make Kamailio's memory agree with the table: set_state now; reload if that fails."""
        uri = destination(instance.address or "")
        try:
            self.rpc.set_state(state, self.settings.setid, uri)
            return
        except RpcError as exc:
            if not in_table:
                log.info("gateway not in the dispatcher set", instance=instance.id, uri=uri,
                         error=exc.message)
                return
        try:
            self.rpc.reload_dispatcher(budget=self.settings.reload_budget)
        except RpcError as exc:
            raise DrainError(f"gateway {instance.id}: dispatcher state {state} not applied: {exc}") from exc

    def sessions(self, instance: Instance) -> int | None:
        if not instance.address:
            return 0
        try:
            return self.rpc.profile_size(self.settings.profile, destination(instance.address))
        except RpcError as exc:
            log.warning("active calls unknown", instance=instance.id, error=exc.message)
            return None

    def close(self) -> None:
        self.store.engine.dispose()
        self.rpc.close()


def build(settings: Settings, ctx: Any) -> KamailioDrainer:
    store = GatewayStore(make_engine(settings.db), ctx.pool.name, settings.setid, settings.gw_prefix)
    return KamailioDrainer(settings, store, KamailioRpc(settings.rpc_url, settings.rpc_timeout))
