"""A pool's ``FleetState`` rebuilt from the tables of releases before the state store
(``fs_drains``, ``fs_known``, ``fs_memory``), read once when a pool has no saved state yet.
Nothing writes those tables any more."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from fleetscale.decide import Memory
from fleetscale.errors import JournalError
from fleetscale.journal.checkpoint import memory_from_json
from fleetscale.state import FleetState


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def load_legacy(engine: sa.Engine, pool: str) -> FleetState | None:
    try:
        names = set(sa.inspect(engine).get_table_names())
        if not names & {"fs_drains", "fs_known", "fs_memory"}:
            return None
        meta = sa.MetaData()
        drains: dict[str, datetime] = {}
        known: dict[str, str] = {}
        memory = Memory()
        with engine.connect() as c:
            if "fs_drains" in names:
                t = sa.Table("fs_drains", meta, autoload_with=engine)
                for row in c.execute(sa.select(t.c.instance_id, t.c.started_at).where(t.c.pool == pool)):
                    drains[row.instance_id] = _aware(row.started_at)
            if "fs_known" in names:
                t = sa.Table("fs_known", meta, autoload_with=engine)
                for row in c.execute(sa.select(t.c.instance_id, t.c.how).where(t.c.pool == pool)):
                    known[row.instance_id] = str(row.how)
            if "fs_memory" in names:
                t = sa.Table("fs_memory", meta, autoload_with=engine)
                saved = c.execute(sa.select(t.c.memory).where(t.c.pool == pool)).first()
                if saved is not None:
                    try:
                        memory = memory_from_json(saved.memory)
                    except ValueError:
                        memory = Memory()
    except SQLAlchemyError as exc:
        raise JournalError(f"state store: cannot read the earlier tables of pool {pool!r}: "
                           f"{type(exc).__name__}") from None
    if not (drains or known) and memory == Memory():
        return None
    return FleetState(pool, drains=MappingProxyType(drains), known=MappingProxyType(known), memory=memory)
