"""``fleetscale status``: each pool's owner and lease token, and the last ownership change.

Where it reads:

- the **holders** (who owns each pool now, and the token): with ``--config`` and a
  ``coordination:`` section, from that backend (the SQL lease table, or etcd); with
  ``--journal`` only, from the lease table ``fs_leases`` in the journal's database when it has
  one (the ``sql`` backend's default place);
- the **changes** (``acquired`` / ``released`` / ``lost``, who, token, when, why) from the
  journal's ``fs_ownership`` (``coordination.history.OwnershipLog``).

Without coordination, one replica owns every pool: the owner column says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from fleetscale.config import CoordinationConfig
from fleetscale.coordination.history import OwnershipLog, OwnershipRow
from fleetscale.coordination.lease import Holder
from fleetscale.errors import CoordinationError

SOLE = "(the one replica: no coordination)"


@dataclass(frozen=True, slots=True)
class PoolOwner:
    pool: str
    owner: str | None
    token: int | None
    last: OwnershipRow | None


def holders(engine: sa.Engine, coordination: CoordinationConfig | None, journal_url: str
            ) -> Mapping[str, Holder] | None:
    """Who holds each pool's lease now; None when no lease backend can be found."""
    if coordination is not None and coordination.backend == "etcd":
        from fleetscale.coordination.etcd import EtcdLeases

        etcd = EtcdLeases(coordination.endpoints, prefix=coordination.prefix)
        try:
            return dict(etcd.holders())
        finally:
            etcd.close()
    from fleetscale.coordination.sql import SqlLeases

    if coordination is not None and coordination.url and coordination.url != journal_url:
        other = SqlLeases.from_url(coordination.url, create=False)
        try:
            return dict(other.holders())
        finally:
            other.close()
    if not sa.inspect(engine).has_table("fs_leases"):
        return None
    return dict(SqlLeases(engine, create=False).holders())


def owners(engine: sa.Engine, pools: Iterable[str], coordination: CoordinationConfig | None,
           journal_url: str, coordinated: bool) -> list[PoolOwner]:
    """One line per pool (the configured or journaled pools, and any with a lease)."""
    try:
        held = holders(engine, coordination, journal_url)
    except CoordinationError:
        if coordinated:
            raise
        held = None
    last: dict[str, OwnershipRow] = {}
    if sa.inspect(engine).has_table("fs_ownership"):
        for row in OwnershipLog(engine, create=False).history(last=10_000):
            last[row.pool] = row
    names = sorted(set(pools) | set(held or {}) | set(last))
    out = []
    for name in names:
        h = (held or {}).get(name)
        if h is not None:
            out.append(PoolOwner(name, h.replica, h.token, last.get(name)))
        elif coordinated or held or last:
            out.append(PoolOwner(name, None, None, last.get(name)))
        else:
            out.append(PoolOwner(name, SOLE, None, None))
    return out


def render(rows: list[PoolOwner]) -> str:
    if not rows:
        return "no pools"
    lines = [f"{'POOL':<24} {'OWNER':<32} {'TOKEN':>8}  LAST CHANGE"]
    for r in rows:
        change = "-"
        if r.last is not None:
            change = (f"{r.last.change} by {r.last.replica} (token {r.last.token}) "
                      f"{r.last.at.strftime('%Y-%m-%d %H:%M:%S')}Z: {r.last.reason}")
        owner = r.owner or "(none: no live lease)"
        token = "-" if r.token is None else str(r.token)
        lines.append(f"{r.pool:<24} {owner:<32} {token:>8}  {change}")
    return "\n".join(lines)
