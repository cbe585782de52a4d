"""The local fencing rule and the store-side guards, on SQLite files (no service needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from fleetscale.coordination.fence import LeaseRowFence, TokenFence, may_act
from fleetscale.coordination.lease import Lease
from fleetscale.coordination.sql import SqlLeases, make_engine
from fleetscale.errors import FencingError, FleetscaleError

writes = sa.Table("t_writes", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                  sa.Column("token", sa.Integer))


class TestMayAct:
    """A replica acts only strictly before its local deadline minus the margin."""

    @given(st.floats(0, 1e6), st.floats(0.1, 100), st.floats(0, 50), st.floats(-200, 200))
    def test_rule(self, acquired: float, ttl: float, margin: float, offset: float) -> None:
        lease = Lease("p", "a", 1, acquired + ttl)
        now = acquired + offset
        assert may_act(lease, now, margin) == (now < acquired + ttl - margin)

    @pytest.mark.parametrize(("now", "expected"),
                             [(100.0, True), (107.9, True), (108.0, False), (200.0, False)],
                             ids=["fresh", "just-before", "at-deadline", "long-after"])
    def test_table(self, now: float, expected: bool) -> None:
        assert may_act(Lease("p", "a", 1, 110.0), now, 2.0) is expected

    def test_no_lease_no_action(self) -> None:
        assert may_act(None, 0.0, 0.0) is False


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    e = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    writes.metadata.create_all(e)
    return e


def _write(engine: sa.Engine, fence: LeaseRowFence | TokenFence, token: int) -> None:
    with engine.begin() as conn:
        conn.execute(writes.insert(), {"token": token})  # the guard must roll this back too
        fence.guard(conn, "p", token)


def _count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(writes)).scalar_one())


class TestTokenFence:
    """A high-water mark per pool: older tokens are refused once a newer one wrote."""

    def test_older_token_refused_in_the_same_transaction(self, engine: sa.Engine) -> None:
        fence = TokenFence()
        fence.create(engine)
        _write(engine, fence, 5)
        with engine.begin() as conn:
            fence.claim(conn, "p", 9)
        with pytest.raises(FencingError, match=r"token 5 refused.*token 9") as err:
            _write(engine, fence, 5)
        assert isinstance(err.value, FleetscaleError)
        assert _count(engine) == 1
        _write(engine, fence, 9)
        _write(engine, fence, 12)
        _write(engine, fence, 12)  # the steady case: the holder's own mark, one UPDATE
        assert _count(engine) == 4
        with pytest.raises(FencingError, match=r"token 9 refused.*token 12"):
            _write(engine, fence, 9)

    def test_a_guard_before_any_claim_sets_the_mark(self, engine: sa.Engine) -> None:
        fence = TokenFence()
        fence.create(engine)
        _write(engine, fence, 3)  # no row yet: the full check inserts the mark
        with pytest.raises(FencingError, match=r"token 2 refused.*token 3"):
            _write(engine, fence, 2)
        assert _count(engine) == 1


class TestLeaseRowFence:
    """With the sql backend the guard compares with the lease row itself."""

    def test_current_token_passes_stale_refused(self, engine: sa.Engine) -> None:
        leases = SqlLeases(engine)
        fence = LeaseRowFence()
        lease = leases.acquire_or_renew("p", "a", 30)
        assert lease is not None
        _write(engine, fence, lease.token)
        leases.release("p", "a", lease.token)
        with pytest.raises(FencingError, match="another replica holds the pool or the lease expired"):
            _write(engine, fence, lease.token)
        newer = leases.acquire_or_renew("p", "b", 30)
        assert newer is not None and newer.token > lease.token
        with pytest.raises(FencingError):
            _write(engine, fence, lease.token)
        _write(engine, fence, newer.token)
        assert _count(engine) == 2

    def test_never_leased_refused(self, engine: sa.Engine) -> None:
        SqlLeases(engine)
        with pytest.raises(FencingError):
            _write(engine, LeaseRowFence(), 1)
