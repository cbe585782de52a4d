"""The gateway store: who is registered (usrloc ``location``), who is locked (the fleetscale-owned
``fleetscale_gateway`` table) and dispatcher membership (``dispatcher`` table).

Every statement is built with SQLAlchemy Core (parameterised). Times come from the database's
``NOW()``, the clock Kamailio's ``expires`` column is written against, never from this host.

Dispatcher membership: a registered gateway whose username has the pool's prefix is a
destination of the pool's dispatcher set (a row marked ``description='fs:<pool>'``). Its
``flags`` carry the inactive bit (1) while the gateway is locked, so a ``dispatcher.reload``
keeps it out of rotation. A managed row is removed once its gateway has been unregistered
for ``grace`` seconds (a registration refresh that comes late does not empty the set).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, TextClause, Update, delete, func, inspect, literal, select, text, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from fleetscale.kamailio.address import address_of, contact_address, destination
from fleetscale.kamailio.tables import (
    DS_INACTIVE,
    dispatcher,
    gateway,
    location,
    managed_mark,
    owned_metadata,
)


@dataclass(frozen=True, slots=True)
class Registration:
    username: str
    address: str
    contact: str
    expires: datetime | None


@dataclass(frozen=True, slots=True)
class Mark:
    """A row of ``fleetscale_gateway``: the gateway's lock, as the seed's ``locked``/``to_stop``."""

    address: str
    pool: str
    instance_id: str | None
    locked: bool
    to_stop: bool


class GatewayStore:
    def __init__(self, engine: Engine, pool: str, setid: int = 1, prefix: str = "") -> None:
        self.engine = engine
        self.pool = pool
        self.setid = setid
        self.prefix = prefix
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    def ensure_schema(self) -> None:
        """Create ``fleetscale_gateway`` if missing. Thread-safe; another process (a drainer, a
        second controller) creating it at the same moment is not an error."""
        if self._schema_ready:
            return
        with self._schema_lock:
            if self._schema_ready:
                return
            try:
                owned_metadata.create_all(self.engine, checkfirst=True)
            except OperationalError:
                if not inspect(self.engine).has_table(gateway.name):
                    raise
            self._schema_ready = True

    # --- reads ----------------------------------------------------------------------------

    def registrations(self) -> list[Registration]:
        """Live registrations (``expires > NOW()``) whose username starts with the prefix,
        one per address."""
        query = select(location.c.username, location.c.contact, location.c.received,
                       location.c.expires).where(location.c.expires > func.now())
        if self.prefix:
            query = query.where(func.left(location.c.username, len(self.prefix)) == literal(self.prefix))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(location.c.username)).all()
        found: dict[str, Registration] = {}
        for username, contact, received, expires in rows:
            address = contact_address(str(contact), received)
            if address and address not in found:
                found[address] = Registration(str(username), address, str(contact), expires)
        return list(found.values())

    def marks(self) -> dict[str, Mark]:
        self.ensure_schema()
        query = select(gateway).where(gateway.c.pool == self.pool)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return {r["address"]: Mark(r["address"], r["pool"], r["instance_id"], bool(r["locked"]),
                                   bool(r["to_stop"])) for r in rows}

    def mark(self, address: str) -> Mark | None:
        return self.marks().get(address)

    def dispatcher_flags(self, address: str) -> int | None:
        query = select(dispatcher.c.flags).where(dispatcher.c.setid == self.setid,
                                                 dispatcher.c.destination == destination(address))
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar()
        return None if value is None else int(value)

    # --- locks ----------------------------------------------------------------------------

    def lock(self, address: str, instance_id: str | None) -> bool:
        """Mark the gateway locked and to stop, and set its dispatcher row(s) inactive.
        Returns whether a dispatcher row was found."""
        self.ensure_schema()
        values = {"pool": self.pool, "instance_id": instance_id, "locked": 1, "to_stop": 1,
                  "locked_at": func.now(), "last_seen": func.now()}
        upsert = mysql_insert(gateway).values(address=address, **values)
        with self.engine.begin() as conn:
            conn.execute(upsert.on_duplicate_key_update(**values))
            result = conn.execute(self._set_inactive(address, True))
        return bool(result.rowcount)

    def unlock(self, address: str) -> bool:
        """Clear the lock and the dispatcher rows' inactive bit. Returns whether a row was found."""
        self.ensure_schema()
        with self.engine.begin() as conn:
            conn.execute(update(gateway).where(gateway.c.address == address)
                         .values(locked=0, to_stop=0, locked_at=None))
            result = conn.execute(self._set_inactive(address, False))
        return bool(result.rowcount)

    def _set_inactive(self, address: str, inactive: bool) -> Update:
        flags = (dispatcher.c.flags.op("|")(DS_INACTIVE) if inactive
                 else dispatcher.c.flags.op("&")(~DS_INACTIVE))
        return (update(dispatcher)
                .where(dispatcher.c.setid == self.setid, dispatcher.c.destination == destination(address))
                .values(flags=flags))

    # --- membership -----------------------------------------------------------------------

    def sync(self, registered: Sequence[Registration], grace: float, forget_after: float) -> bool:
        """Bring the dispatcher set in line with the registrations and the locks.

        Returns True when a dispatcher row changed (the caller then reloads the dispatcher).
        """
        self.ensure_schema()
        addresses = sorted({r.address for r in registered})
        with self.engine.begin() as conn:
            self._touch(conn, addresses)
            marks = {r.address: bool(r.locked) for r in conn.execute(
                select(gateway.c.address, gateway.c.locked).where(gateway.c.pool == self.pool))}
            stale = {r.address for r in conn.execute(
                select(gateway.c.address).where(
                    gateway.c.pool == self.pool,
                    gateway.c.last_seen < func.date_sub(func.now(), literal_interval(grace))))}
            rows = conn.execute(select(dispatcher.c.id, dispatcher.c.destination, dispatcher.c.flags,
                                       dispatcher.c.description)
                                .where(dispatcher.c.setid == self.setid)).all()
            changed = self._apply(conn, addresses, marks, stale, rows)
            conn.execute(delete(gateway).where(
                gateway.c.pool == self.pool,
                gateway.c.last_seen < func.date_sub(func.now(), literal_interval(forget_after))))
        return changed

    def _touch(self, conn: Connection, addresses: Iterable[str]) -> None:
        for address in addresses:
            stmt = mysql_insert(gateway).values(address=address, pool=self.pool, locked=0, to_stop=0,
                                                last_seen=func.now())
            conn.execute(stmt.on_duplicate_key_update(pool=self.pool, last_seen=func.now()))

    def _apply(self, conn: Connection, addresses: list[str], locked: dict[str, bool], stale: set[str],
               rows: Sequence[tuple[int, str, int, str]]) -> bool:
        changed = False
        present: set[str] = set()
        for row_id, dest, flags, description in rows:
            address = address_of(str(dest))
            if address is None:
                continue
            present.add(address)
            if str(description) != managed_mark(self.pool):
                continue  # an operator's or another pool's destination: fleetscale only locks it
            if address not in addresses and (address in stale or address not in locked):
                conn.execute(delete(dispatcher).where(dispatcher.c.id == row_id))
                changed = True
                continue
            want = DS_INACTIVE if locked.get(address, False) else 0
            if address in addresses and (int(flags) & DS_INACTIVE) != want:
                new = (int(flags) | DS_INACTIVE) if want else (int(flags) & ~DS_INACTIVE)
                conn.execute(update(dispatcher).where(dispatcher.c.id == row_id).values(flags=new))
                changed = True
        for address in addresses:
            if address not in present:
                conn.execute(dispatcher.insert().values(
                    setid=self.setid, destination=destination(address),
                    flags=DS_INACTIVE if locked.get(address, False) else 0,
                    priority=0, attrs="", description=managed_mark(self.pool)))
                changed = True
        return changed


def literal_interval(seconds: float) -> TextClause:
    """``INTERVAL n SECOND`` for MySQL's DATE_SUB (n is bound as a parameter)."""
    return text("INTERVAL :seconds SECOND").bindparams(seconds=int(seconds))
