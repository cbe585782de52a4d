"""Table definitions: the columns fleetscale reads of Kamailio's ``location`` (usrloc, table
version 9) and ``dispatcher`` (version 4) tables, and the fleetscale-owned ``fleetscale_gateway``
table kept beside them (the seed's ``locked``/``to_stop`` marks)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, SmallInteger, String, Table, func

kamailio_metadata = MetaData()
owned_metadata = MetaData()

location = Table(
    "location", kamailio_metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64)),
    Column("domain", String(64)),
    Column("contact", String(512)),
    Column("received", String(128)),
    Column("expires", DateTime),
    Column("user_agent", String(255)),
)

dispatcher = Table(
    "dispatcher", kamailio_metadata,
    Column("id", Integer, primary_key=True),
    Column("setid", Integer),
    Column("destination", String(192)),
    Column("flags", Integer),
    Column("priority", Integer),
    Column("attrs", String(128)),
    Column("description", String(64)),
)

#: dispatcher ``flags`` bit: destination inactive (not selected for new calls)
DS_INACTIVE = 1
#: ``description`` of the dispatcher rows fleetscale adds for a pool (``fs:<pool>``, at most 64
#: characters); it never touches the membership of other rows (an operator's, another pool's)
MANAGED_PREFIX = "fs:"


def managed_mark(pool: str) -> str:
    return (MANAGED_PREFIX + pool)[:64]

gateway = Table(
    "fleetscale_gateway", owned_metadata,
    Column("address", String(255), primary_key=True),
    Column("pool", String(64), nullable=False),
    Column("instance_id", String(255), nullable=True),
    Column("locked", SmallInteger, nullable=False, default=0),
    Column("to_stop", SmallInteger, nullable=False, default=0),
    Column("locked_at", DateTime, nullable=True),
    Column("last_seen", DateTime, nullable=False, server_default=func.now()),
    mysql_charset="latin1",
)
