"""The read model: what the API shows, read from the journal's database and nothing else.

``fleetscale run`` (beside its controller) and ``fleetscale serve --journal URL`` (a read-only
view) both build a ``ReadModel`` on the journal's URL, so both serve the same thing. Sources:

- ``fs_cycles`` (``journal/sql.py``): the full CycleRecord of every cycle (decisions, reasons,
  proposals, governor steps, observations, instances);
- ``fs_operator`` and ``fs_operator_events``: pauses and holds, and who set them;
- ``fs_pool_specs`` (``api/catalogue.py``): each pool's bounds and capacity per unit;
- ``fs_ownership`` (``coordination/history.py``): which replica holds each pool, when several share them.

The fleet as it stands (``current_instances``) is read in one place, from the last cycle's
record, so that it can follow the controller's state wherever that is kept.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from fleetscale.api import catalogue, values
from fleetscale.api.catalogue import PoolSpec
from fleetscale.config import redact
from fleetscale.coordination.history import OwnershipLog, ownership
from fleetscale.errors import JournalError
from fleetscale.journal import cycle_rows, sql
from fleetscale.journal.explain import plan_text
from fleetscale.journal.operator_log import OperatorEvent, OperatorLog
from fleetscale.journal.record import _plain
from fleetscale.journal.state_store import SqlStateStore

#: the series never returns more points than this (older cycles are thinned, changes kept)
MAX_POINTS = 2000
_IN_SERVICE = ("pending", "ready", "draining")
#: (paused directions, unexpired hold)
Controls = tuple[tuple[str, ...], values.Hold | None]
#: the pools of ``fs_cycles`` in O(pools) index seeks (a loose index scan; SQLite and MariaDB)
_POOLS_CTE = (
    "WITH RECURSIVE p(pool) AS (SELECT MIN(pool) FROM fs_cycles UNION ALL "
    "SELECT (SELECT MIN(pool) FROM fs_cycles WHERE fs_cycles.pool > p.pool) FROM p "
    "WHERE p.pool IS NOT NULL) ")
_DISTINCT_POOLS = sa.text(_POOLS_CTE + "SELECT pool FROM p")
#: every pool's last record, one index seek per pool
_ROW = (sql.cycles.c.id, sql.cycles.c.pool, sql.cycles.c.cycle_id, sql.cycles.c.started_at,
        sql.cycles.c.finished_at, sql.cycles.c.dry_run, sql.cycles.c.record, sql.cycles.c.repeats,
        sql.cycles.c.last_at, sql.cycles.c.times)


def _last_of(row: Any) -> dict[str, Any]:
    """The newest cycle a journal row stands for (a row may be a span of identical cycles),
    as a ``CycleRecord.to_dict()`` dict."""
    newest: deque[dict[str, Any]] = deque(cycle_rows.expand(row), maxlen=1)
    return newest[0] if newest else {}


#: ``series?since=`` reads a pool's cycles by time: an index the journal's own table lacks, created
#: here when missing (its own MetaData: the journal's schema is not changed otherwise)
_by_time = sa.Table("fs_cycles", sa.MetaData(), sa.Column("pool", sa.String(64)),
                    sa.Column("started_at", sa.DateTime()))
_BY_TIME = sa.Index("ix_fs_cycles_pool_started", _by_time.c.pool, _by_time.c.started_at)


def _iso(dt: datetime) -> str:
    return dt.replace(tzinfo=UTC).isoformat() if dt.tzinfo is None else dt.astimezone(UTC).isoformat()


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _texts(items: Iterable[Any]) -> tuple[str, ...]:
    return tuple(str(redact(str(x))) for x in items)


def load_of(record: dict[str, Any]) -> float | None:
    """The cycle's ``load``: the newest good pool-wide reading, else the sum of per-instance ones
    (as the policies read it)."""
    pool_wide: tuple[str, float] | None = None
    per: list[float] = []
    for o in record.get("observations", ()):
        value = o.get("value")
        if o.get("metric") != "load" or o.get("error") or value is None or not 0 <= value < math.inf:
            continue
        if o.get("instance_id") is None:
            if pool_wide is None or o.get("at", "") > pool_wide[0]:
                pool_wide = (o.get("at", ""), float(value))
        else:
            per.append(float(value))
    if pool_wide is not None:
        return pool_wide[1]
    return sum(per) if per else None


def demanded(load: float | None, spec: PoolSpec | None) -> int | None:
    """``max(min, ceil(load / unit_capacity))``, as the simulator scores it."""
    if load is None or spec is None:
        return None
    return max(spec.min, math.ceil(load / spec.unit_capacity - 1e-9))


def _units(instances: Iterable[dict[str, Any]], states: tuple[str, ...]) -> int:
    return sum(int(i.get("weight", 1)) for i in instances if i.get("state") in states)


def _action(e: OperatorEvent) -> values.OperatorAction:
    return values.OperatorAction(_iso(e.at), e.who, e.action, e.detail, e.reason)


class ReadModel:
    """Reads for the API. Every method opens one short read transaction; a database that does
    not answer raises JournalError (the API answers 503)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.operator_log = OperatorLog(engine)
        self.states = SqlStateStore(engine)
        OwnershipLog(engine)  # creates fs_ownership when missing (written by coordinated replicas)
        catalogue.create(engine)
        try:
            _BY_TIME.create(engine, checkfirst=True)
        except SQLAlchemyError as exc:
            raise JournalError(f"journal: cannot index fs_cycles by time: {exc}") from exc

    def _read(self, what: str, fn: Any) -> Any:
        try:
            with self.engine.connect() as conn:
                return fn(conn)
        except SQLAlchemyError as exc:
            raise JournalError(f"journal: {what} failed: {redact(str(exc).splitlines()[0])}") from exc

    def ping(self) -> None:
        self._read("ping", lambda c: c.execute(sa.text("SELECT 1")).scalar())

    # --- pools ------------------------------------------------------------------------

    def specs(self) -> dict[str, PoolSpec]:
        return dict(self._read("read pools", catalogue.read))

    def pool_names(self) -> list[str]:
        """Published pools and every pool the journal has cycles of, by name."""
        def go(c: sa.Connection) -> list[str]:
            journaled = c.execute(_DISTINCT_POOLS).scalars().all()
            return sorted(set(catalogue.read(c)) | {p for p in journaled if p is not None})
        return list(self._read("read pools", go))

    def has_pool(self, pool: str) -> bool:
        def go(c: sa.Connection) -> bool:
            q = sa.select(sql.cycles.c.id).where(sql.cycles.c.pool == pool).limit(1)
            return pool in catalogue.read(c) or c.execute(q).first() is not None
        return bool(self._read("read pools", go))

    def last_record(self, pool: str) -> dict[str, Any] | None:
        q = (sa.select(*_ROW).where(sql.cycles.c.pool == pool)
             .order_by(sql.cycles.c.id.desc()).limit(1))
        row = self._read("read cycles", lambda c: c.execute(q).first())
        return _last_of(row) if row is not None else None

    def current_instances(self, pool: str, last: dict[str, Any] | None = None) -> tuple[
            datetime | None, list[dict[str, Any]], dict[str, int]]:
        """The fleet as the controller knows it: (as of, instances as CycleRecord dicts,
        sessions by instance id). The one place that decides where the fleet "now" is read
        from: the pool's saved state value (``state.FleetState``, saved at the end of the last
        cycle, so it includes what that cycle launched, drained or terminated), timed by the
        last cycle's record; the record's instances when no state was saved (a journal of an
        earlier release). Sessions come from the last record's readings."""
        rec = last if last is not None else self.last_record(pool)
        if rec is None:
            return None, [], {}
        try:
            state = self.states.load(pool)
        except JournalError:
            state = None
        sessions: dict[str, int] = {}
        for o in rec.get("observations", ()):
            value, iid = o.get("value"), o.get("instance_id")
            if o.get("metric") == "sessions" and iid and not o.get("error") and value is not None \
                    and 0 <= value < math.inf:
                sessions[iid] = max(sessions.get(iid, 0), int(value))
        if state is not None:
            instances: list[dict[str, Any]] = [_plain(i) for i in state.instances]
        else:
            instances = list(rec.get("instances", ()))
        return _when(rec.get("started_at")), instances, sessions

    def controls(self, pool: str, now: datetime) -> Controls:
        """The operator's pauses and (unexpired) hold of ``pool``."""
        return self._controls(pool, now).get(pool, ((), None))

    def _controls(self, pool: str | None, now: datetime) -> dict[str, Controls]:
        """Pauses and unexpired hold by pool (of one pool, or of all)."""
        q = sa.select(sql.operator)
        if pool is not None:
            q = q.where(sql.operator.c.pool == pool)
        rows = self._read("read operator", lambda c: c.execute(q).all())
        out: dict[str, Controls] = {}
        for name in {r.pool for r in rows}:
            mine = [r for r in rows if r.pool == name]
            paused = tuple(sorted(r.kind.removeprefix("pause_") for r in mine if r.kind.startswith("pause_")))
            held = None
            for r in mine:
                until = r.until.replace(tzinfo=UTC) if r.until is not None else None
                if r.kind == "hold" and r.hold is not None and until is not None and until > now:
                    held = values.Hold(r.hold, _iso(until))
            out[name] = (paused, held)
        return out

    def owners(self, pool: str | None = None) -> dict[str, tuple[str, int]]:
        """The replica holding each pool and its fencing token (``fs_ownership``, written by
        coordinated replicas): the highest token acquired that its holder has not released or
        lost. A pool nobody holds (or a deployment without coordination) is absent."""
        o = ownership.alias("o")
        end = ownership.alias("e")
        latest = sa.select(o.c.pool, sa.func.max(o.c.token).label("token")).where(o.c.change == "acquired")
        if pool is not None:
            latest = latest.where(o.c.pool == pool)
        top = latest.group_by(o.c.pool).subquery()
        acq = ownership.alias("a")
        q = (sa.select(acq.c.pool, acq.c.replica, acq.c.token)
             .join(top, sa.and_(acq.c.pool == top.c.pool, acq.c.token == top.c.token))
             .where(acq.c.change == "acquired")
             .where(~sa.exists().where(end.c.pool == acq.c.pool, end.c.token == acq.c.token,
                                       end.c.replica == acq.c.replica,
                                       end.c.change.in_(("released", "lost")))))
        rows = self._read("read owners", lambda c: c.execute(q).all())
        return {r.pool: (r.replica, int(r.token)) for r in rows}

    def pools(self, now: datetime) -> list[values.PoolView]:
        """Every pool at a glance, in four queries whatever their number."""
        def go(c: sa.Connection) -> tuple[dict[str, PoolSpec], dict[str, dict[str, Any]]]:
            newest = sa.select(sa.func.max(sql.cycles.c.id)).group_by(sql.cycles.c.pool)
            rows = c.execute(sa.select(*_ROW).where(sql.cycles.c.id.in_(newest)))
            return catalogue.read(c), {r.pool: _last_of(r) for r in rows}
        specs, records = self._read("read pools", go)
        controls, owners = self._controls(None, now), self.owners()
        return [self._pool(name, records.get(name, {}),
                           controls.get(name, ((), None)), specs.get(name), owners.get(name))
                for name in sorted(set(specs) | set(records))]

    def pool(self, name: str, now: datetime, spec: PoolSpec | None = None) -> values.PoolView:
        return self._pool(name, self.last_record(name) or {}, self.controls(name, now), spec,
                          self.owners(name).get(name))

    def _pool(self, name: str, rec: dict[str, Any], controls: Controls, spec: PoolSpec | None,
              owner: tuple[str, int] | None) -> values.PoolView:
        paused, held = controls
        _, instances, _ = self.current_instances(name, rec)
        d = rec.get("decision") or {}
        states = [i.get("state") for i in instances]
        load = load_of(rec) if rec else None
        return values.PoolView(
            name=name, as_of=rec.get("started_at"), current=d.get("current"), desired=d.get("desired"),
            ready=states.count("ready"), booting=states.count("pending"), draining=states.count("draining"),
            ready_units=_units(instances, ("ready",)), load=load, demanded=demanded(load, spec),
            direction=d.get("direction"), reason=redact(d["reason"]) if d.get("reason") else None,
            paused=paused, held=held, errors=_texts(rec.get("errors", ())),
            owner=owner[0] if owner else None, owner_token=owner[1] if owner else None,
            min=spec.min if spec else None, max=spec.max if spec else None,
            unit_capacity=spec.unit_capacity if spec else None, interval=spec.interval if spec else None,
            provider=spec.provider if spec else None, dry_run=bool(rec.get("dry_run", spec and spec.dry_run)),
        )

    def actions(self, pool: str, limit: int = 10) -> tuple[values.OperatorAction, ...]:
        return tuple(_action(e) for e in self.operator_log.events(pool, limit))

    # --- instances, decisions, series -------------------------------------------------

    def instances(self, pool: str) -> values.InstanceList:
        as_of, instances, sessions = self.current_instances(pool)
        out = []
        for i in instances:
            launched = _when(i.get("launched_at"))
            age = (as_of - launched).total_seconds() if as_of and launched else None
            out.append(values.InstanceView(
                id=str(i["id"]), type=str(i.get("type", "")), state=str(i.get("state", "")),
                weight=int(i.get("weight", 1)), sessions=sessions.get(i["id"]),
                launched_at=_iso(launched) if launched else None,
                age_seconds=round(age, 3) if age is not None else None, address=i.get("address")))
        return values.InstanceList(pool, _iso(as_of) if as_of else None, tuple(out))

    def decisions(self, pool: str, limit: int, before: int | None) -> values.DecisionPage:
        c = sql.cycles.c
        q = sa.select(*_ROW).where(c.pool == pool)
        if before is not None:
            q = q.where(c.id < before)
        rows = self._read("read cycles", lambda conn: conn.execute(
            q.order_by(c.id.desc()).limit(limit + 1)).all())
        more = len(rows) > limit
        rows = rows[:limit]
        views = tuple(self._decision(r.id, _last_of(r)) for r in rows)
        return values.DecisionPage(pool, views, rows[-1].id if more and rows else None)

    @staticmethod
    def _decision(row_id: int, rec: dict[str, Any]) -> values.DecisionView:
        d = rec.get("decision") or {}
        return values.DecisionView(
            id=row_id, cycle_id=rec["cycle_id"], started_at=rec["started_at"],
            finished_at=rec["finished_at"], dry_run=bool(rec.get("dry_run")), current=d.get("current"),
            desired=d.get("desired"), direction=d.get("direction"),
            reason=redact(d["reason"]) if d.get("reason") else None,
            proposals=tuple(values.ProposalView(p["policy"], p.get("desired"), redact(p.get("reason", "")),
                                                p.get("floor"), p.get("ceiling"))
                            for p in rec.get("proposals", ())),
            steps=_texts(rec.get("steps", ())), plan=plan_text(rec.get("plan")),
            outcome=_texts(rec.get("outcome", ())), errors=_texts(rec.get("errors", ())))

    def series(self, pool: str, since: datetime, spec: PoolSpec | None,
               max_points: int = MAX_POINTS) -> values.Series:
        """Load, demanded, ready and provisioned per cycle since ``since``; past ``max_points``
        cycles every n-th is kept, plus every cycle that scaled (so no decision is lost)."""
        c = sql.cycles.c
        where = sa.and_(c.pool == pool, c.started_at >= since.astimezone(UTC).replace(tzinfo=None))

        def go(conn: sa.Connection) -> list[Any]:
            n = conn.execute(sa.select(sa.func.count()).where(where)).scalar_one()
            stride = max(1, math.ceil(n / max_points))
            q = sa.select(*_ROW, sa.literal(stride).label("stride")).where(where)
            if stride > 1:
                q = q.where(sa.or_(c.id % stride == 0, c.direction.in_(("up", "down"))))
            return list(conn.execute(q.order_by(c.id)).all())

        rows = self._read("read series", go)
        stride = int(rows[0].stride) if rows else 1
        cols: dict[str, list[Any]] = {k: [] for k in ("t", "load", "demanded", "ready", "provisioned",
                                                       "desired")}
        markers = []
        for rec in (one for r in rows for one in cycle_rows.expand(r)):  # a span: each cycle
            when = _when(rec.get("started_at"))
            if when is None or when < since:
                continue
            t = when.timestamp()
            load = load_of(rec)
            d = rec.get("decision") or {}
            for key, value in (("t", t), ("load", load), ("demanded", demanded(load, spec)),
                               ("ready", _units(rec.get("instances", ()), ("ready",))),
                               ("provisioned", _units(rec.get("instances", ()), _IN_SERVICE)),
                               ("desired", d.get("desired"))):
                cols[key].append(value)
            if d.get("direction") in ("up", "down"):
                markers.append(values.Marker(t, d["direction"], d["current"], d["desired"],
                                             redact(d.get("reason", ""))))
        return values.Series(pool, t=tuple(cols["t"]), load=tuple(cols["load"]),
                             demanded=tuple(cols["demanded"]), ready=tuple(cols["ready"]),
                             provisioned=tuple(cols["provisioned"]), desired=tuple(cols["desired"]),
                             markers=tuple(markers), stride=stride)
