"""Creating the tables when several replicas start at once on one database.

``create_all`` looks at what exists, then creates what is missing. Two processes doing that at
the same moment both see a table or an index missing, and one of them fails ("table already
exists", "duplicate key name"); retried in step, they can collide again on the next table.
On MariaDB/MySQL the creation runs under a named lock (``GET_LOCK``, one per database), so
replicas create one after another and the later ones find everything there. Elsewhere (SQLite:
one host) a failed creation is retried after a random pause, which takes processes out of step.
"""

from __future__ import annotations

import random
import time

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

#: seconds a replica waits for another one's creation to finish
LOCK_WAIT = 30
ATTEMPTS = 8


def create_all(metadata: sa.MetaData, engine: sa.Engine) -> None:
    """``metadata.create_all(engine)``, safe beside other processes doing the same. Raises
    ``SQLAlchemyError`` as ``create_all`` does when the tables cannot be created."""
    if engine.dialect.name in ("mysql", "mariadb") and _locked_create(metadata, engine):
        return
    for attempt in range(ATTEMPTS):
        try:
            metadata.create_all(engine)
            return
        except SQLAlchemyError:
            if attempt + 1 == ATTEMPTS:
                raise
            time.sleep(random.uniform(0.02, 0.1) * (attempt + 1))


def _locked_create(metadata: sa.MetaData, engine: sa.Engine) -> bool:
    """Creates under ``GET_LOCK``; False when the lock was not granted in time (then the
    caller retries without it)."""
    name = f"fleetscale.schema.{engine.url.database or ''}"[:64]
    with engine.connect() as conn:
        got = conn.execute(sa.text("SELECT GET_LOCK(:name, :wait)"),
                           {"name": name, "wait": LOCK_WAIT}).scalar()
        if got != 1:
            return False
        try:
            metadata.create_all(conn)
            conn.commit()
        finally:
            conn.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": name})
            conn.commit()
    return True
