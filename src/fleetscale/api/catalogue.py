"""The pools a controller runs, as the API shows them, kept in the journal's database.

``fleetscale run`` with an ``api:`` section writes its pools' shape (bounds, capacity per
unit, interval, provider kind: nothing secret) to ``fs_pool_specs`` when it starts, so that
``fleetscale serve --journal URL`` on another host, or after the fact, knows the same pools
(demanded units need the capacity per unit; a hold is checked against min..max).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import SQLAlchemyError

from fleetscale.config import PoolConfig
from fleetscale.errors import JournalError
from fleetscale.journal import schema

_TIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

metadata = sa.MetaData()
specs = sa.Table(
    "fs_pool_specs", metadata,
    sa.Column("pool", sa.String(64), primary_key=True),
    sa.Column("min", sa.Integer, nullable=False),
    sa.Column("max", sa.Integer, nullable=False),
    sa.Column("unit_capacity", sa.Float, nullable=False),
    sa.Column("interval", sa.Float, nullable=False),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("dry_run", sa.Boolean, nullable=False),
    sa.Column("published_at", _TIME, nullable=False),
)


@dataclass(frozen=True, slots=True)
class PoolSpec:
    """A pool's shape: what the API needs besides the journal's cycles."""

    name: str
    min: int
    max: int
    #: load one capacity unit serves
    unit_capacity: float
    #: seconds between cycles
    interval: float
    #: provider kind (``ec2``, ``simulated``, ...)
    provider: str
    dry_run: bool

    @classmethod
    def of(cls, pool: PoolConfig) -> PoolSpec:
        return cls(pool.name, pool.min, pool.max, pool.unit_capacity, pool.interval,
                   pool.provider.kind, pool.dry_run)


def create(engine: sa.Engine) -> None:
    try:
        schema.create_all(metadata, engine)
    except SQLAlchemyError as exc:
        raise JournalError(f"pool catalogue: cannot create its table: {exc}") from exc


def publish(engine: sa.Engine, pools: Sequence[PoolSpec], at: datetime) -> None:
    """Write these pools' shapes (replacing earlier rows of the same pools)."""
    rows = [{"pool": p.name, "min": p.min, "max": p.max, "unit_capacity": p.unit_capacity,
             "interval": p.interval, "provider": p.provider, "dry_run": p.dry_run,
             "published_at": at.astimezone(UTC).replace(tzinfo=None)} for p in pools]
    if not rows:
        return
    try:
        with engine.begin() as conn:
            conn.execute(specs.delete().where(specs.c.pool.in_([p.name for p in pools])))
            conn.execute(specs.insert(), rows)
    except SQLAlchemyError as exc:
        raise JournalError(f"pool catalogue: publish failed: {exc}") from exc


def read(conn: sa.Connection) -> dict[str, PoolSpec]:
    """Every published pool by name (the table must exist: ``create``)."""
    return {r.pool: PoolSpec(r.pool, r.min, r.max, r.unit_capacity, r.interval, r.provider, bool(r.dry_run))
            for r in conn.execute(sa.select(specs))}
