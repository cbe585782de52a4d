"""The Kamailio source and drainer and the local-process provider against a real Kamailio 5.6,
MariaDB and sipp gateways/callers on loopback."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fleetscale.config import AdapterSpec, PoolConfig
from fleetscale.drainers import kamailio as kdrainer
from fleetscale.kamailio.db import DbSettings
from fleetscale.model import Instance, Observation
from fleetscale.providers import local
from fleetscale.registry import BuildContext
from fleetscale.sources import kamailio as ksource
from tests.fixtures.kamailio import Kamailio, running_kamailio, start_caller
from tests.fixtures.mysql import MySQL

pytestmark = pytest.mark.integration

POOL = "sip"


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def wait_for(check: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout} s")


def db_settings(k: Kamailio, **extra: object) -> DbSettings:
    return DbSettings(host=k.mysql.host, port=k.mysql.port, user=k.user, password=k.password,
                      database=k.database, **extra)


def context() -> BuildContext:
    pool = PoolConfig(name=POOL, max=5, provider=AdapterSpec(kind="local"))
    return BuildContext(pool=pool, clock=WallClock(), journal_url="sqlite://")


@pytest.fixture
def provider(kamailio: Kamailio, tmp_path: Path) -> Iterator[local.LocalProvider]:
    settings = local.Settings(registrar=kamailio.registrar, expires=4, lifetime=120,
                              state_dir=tmp_path / "local")
    p = local.build(settings, context())
    yield p
    p.terminate([i.id for i in p.list()], "cleanup")


@pytest.fixture
def source(kamailio: Kamailio) -> Iterator[ksource.KamailioSource]:
    s = ksource.build(ksource.Settings(db=db_settings(kamailio), rpc_url=kamailio.rpc_url, gw_prefix="gw-",
                                       capacity_per_gw=10), context())
    yield s
    s.close()


@pytest.fixture
def drainer(kamailio: Kamailio) -> Iterator[kdrainer.KamailioDrainer]:
    d = kdrainer.build(kdrainer.Settings(db=db_settings(kamailio), rpc_url=kamailio.rpc_url), context())
    yield d
    d.close()


def by_metric(obs: list[Observation], metric: str) -> dict[str | None, float | None]:
    return {o.instance_id: o.value for o in obs if o.metric == metric}


def read(source: ksource.KamailioSource) -> list[Observation]:
    return source.read(POOL, datetime.now(UTC))


def registered_all(source: ksource.KamailioSource, gws: list[Instance]) -> Callable[[], bool]:
    return lambda: all(by_metric(read(source), "registered").get(g.address) == 1 for g in gws)


class TestRegistrationAndCalls:
    """Gateways started by the local provider register; the source sees them and their calls."""

    def test_registered_gateways_join_the_dispatcher_and_calls_are_counted(
            self, kamailio: Kamailio, provider: local.LocalProvider, source: ksource.KamailioSource,
            tmp_path: Path) -> None:
        gws = provider.launch("default", 2, "req-1")
        assert len(gws) == 2 and {g.id for g in provider.list()} == {g.id for g in gws}
        assert provider.launch("default", 2, "req-1") == gws, "same request id: no new processes"
        wait_for(registered_all(source, gws), 10, "both gateways registered")

        obs = read(source)
        assert not [o for o in obs if not o.ok]
        assert by_metric(obs, "unlocked") == {g.address: 1.0 for g in gws}
        assert by_metric(obs, "gateways_registered") == {None: 2.0}
        assert by_metric(obs, "capacity")[None] == 20.0
        assert by_metric(obs, "load") == {None: 0.0}
        rows = kamailio.query("SELECT destination, flags, description FROM dispatcher ORDER BY destination")
        assert sorted(rows) == sorted((f"sip:{g.address}", 0, f"fs:{POOL}") for g in gws)
        states = {uri: flags for (_, uri), flags in _dispatcher(kamailio).items()}
        assert states == {f"sip:{g.address}": "AX" for g in gws}

        caller = start_caller(kamailio, tmp_path / "caller", calls=4, hold_ms=3000, rate=20)
        wait_for(lambda: by_metric(read(source), "load").get(None) == 4, 5, "4 active calls")
        sessions = by_metric(read(source), "sessions")
        assert sessions == {gws[0].address: 2.0, gws[1].address: 2.0}
        assert caller.wait(30) == 0, caller.output()[-2000:]
        assert caller.counts() == (4, 0)
        assert by_metric(read(source), "load") == {None: 0.0}

    def test_sql_call_counting(self, kamailio: Kamailio, provider: local.LocalProvider,
                               tmp_path: Path) -> None:
        sql_source = ksource.build(ksource.Settings(db=db_settings(kamailio), rpc_url=kamailio.rpc_url,
                                                    calls="sql"), context())
        try:
            gws = provider.launch("default", 1, "req-sql")
            wait_for(registered_all(sql_source, gws), 10, "gateway registered")
            caller = start_caller(kamailio, tmp_path / "caller", calls=3, hold_ms=3000, rate=20)
            wait_for(lambda: by_metric(read(sql_source), "calls").get(None) == 3, 5,
                     "3 calls in the dialog table")
            assert by_metric(read(sql_source), "sessions") == {gws[0].address: 3.0}
            assert caller.wait(30) == 0
        finally:
            sql_source.close()


class TestDrain:
    """A locked gateway gets no new calls, keeps its calls, survives a dispatcher reload."""

    def test_lock_then_unlock(self, kamailio: Kamailio, provider: local.LocalProvider,
                              source: ksource.KamailioSource, drainer: kdrainer.KamailioDrainer,
                              tmp_path: Path) -> None:
        gws = provider.launch("default", 2, "req-2")
        wait_for(registered_all(source, gws), 10, "both gateways registered")
        read(source)  # dispatcher sync
        first = start_caller(kamailio, tmp_path / "first", calls=2, hold_ms=6000, rate=20)
        wait_for(lambda: all(drainer.sessions(g) == 1 for g in gws), 5, "one call on each gateway")

        victim, other = gws
        drainer.begin(victim)
        assert kamailio.query("SELECT locked, to_stop FROM fleetscale_gateway WHERE address=%s",
                              (victim.address,)) == [(1, 1)]
        assert kamailio.query("SELECT flags FROM dispatcher WHERE destination=%s",
                              (f"sip:{victim.address}",)) == [(1,)]
        assert _dispatcher(kamailio)[(1, f"sip:{victim.address}")] == "IX"
        kamailio.rpc("dispatcher.reload")
        assert _dispatcher(kamailio)[(1, f"sip:{victim.address}")] == "IX", "a reload keeps the lock"
        obs = read(source)
        assert by_metric(obs, "unlocked") == {victim.address: 0.0, other.address: 1.0}
        assert by_metric(obs, "to_stop") == {victim.address: 1.0, other.address: 0.0}
        assert by_metric(obs, "capacity")[None] == 10.0

        second = start_caller(kamailio, tmp_path / "second", calls=4, hold_ms=2000, rate=20)
        wait_for(lambda: drainer.sessions(other) == 5, 5, "the 4 new calls all on the other gateway")
        assert drainer.sessions(victim) == 1, "the locked gateway keeps its call and gets no new one"
        assert second.wait(30) == 0 and second.counts() == (4, 0)
        assert first.wait(30) == 0 and first.counts() == (2, 0)
        assert drainer.sessions(victim) == 0

        drainer.cancel(victim)
        assert _dispatcher(kamailio)[(1, f"sip:{victim.address}")] == "AX"
        assert kamailio.query("SELECT flags FROM dispatcher WHERE destination=%s",
                              (f"sip:{victim.address}",)) == [(0,)]
        assert by_metric(read(source), "unlocked")[victim.address] == 1.0
        assert by_metric(read(source), "to_stop")[victim.address] == 0.0

    def test_terminated_gateway_leaves_the_dispatcher_after_its_registration_expires(
            self, kamailio: Kamailio, provider: local.LocalProvider,
            drainer: kdrainer.KamailioDrainer) -> None:
        fast = ksource.build(ksource.Settings(db=db_settings(kamailio), rpc_url=kamailio.rpc_url,
                                              unregistered_grace=0), context())
        try:
            gws = provider.launch("default", 1, "req-3")
            wait_for(registered_all(fast, gws), 10, "gateway registered")
            read(fast)
            drainer.begin(gws[0])
            provider.terminate([gws[0].id], "stop-3")
            assert provider.list() == []
            wait_for(lambda: not by_metric(read(fast), "registered"), 20, "registration expired")
            # last_seen has a resolution of one second: the row goes at the next read after it
            wait_for(lambda: read(fast) and kamailio.query("SELECT COUNT(*) FROM dispatcher") == [(0,)], 5,
                     "dispatcher row removed")
        finally:
            fast.close()


class TestDispatcherMembership:
    """The source adds and removes only its own pool's dispatcher rows."""

    def test_other_rows_are_left_alone(self, kamailio: Kamailio) -> None:
        kamailio.query("INSERT INTO dispatcher (setid, destination, flags, description) VALUES "
                       "(1, 'sip:127.0.0.1:7001', 0, 'operator'), (1, 'sip:127.0.0.1:7002', 0, 'fs:other'),"
                       "(1, 'sip:127.0.0.1:7003', 0, %s)", (f"fs:{POOL}",))
        src = ksource.build(ksource.Settings(db=db_settings(kamailio), rpc_url=kamailio.rpc_url,
                                             unregistered_grace=0), context())
        try:
            obs = read(src)
            assert not [o for o in obs if o.error]
        finally:
            src.close()
        rows = kamailio.query("SELECT destination FROM dispatcher ORDER BY destination")
        assert rows == [("sip:127.0.0.1:7001",), ("sip:127.0.0.1:7002",)], "only this pool's stale row goes"
        assert set(_dispatcher(kamailio)) == {(1, "sip:127.0.0.1:7001"), (1, "sip:127.0.0.1:7002")}


class TestFailedReads:
    """Unreachable database or RPC: error observations, never an exception (the pool holds)."""

    def test_database_down(self, kamailio: Kamailio) -> None:
        bad = ksource.build(ksource.Settings(db=DbSettings(host="127.0.0.1", port=1, connect_timeout=1),
                                             rpc_url=kamailio.rpc_url), context())
        obs = bad.read(POOL, datetime.now(UTC))
        assert {o.metric for o in obs} >= {"load", "calls", "registered"}
        assert all(o.error and not o.ok for o in obs)

    def test_rpc_down(self, kamailio: Kamailio, provider: local.LocalProvider) -> None:
        bad = ksource.build(ksource.Settings(db=db_settings(kamailio), rpc_url="http://127.0.0.1:1/RPC",
                                             rpc_timeout=1), context())
        gws = provider.launch("default", 1, "req-4")
        wait_for(registered_all(bad, gws), 10, "gateway registered")
        obs = bad.read(POOL, datetime.now(UTC))
        errors = {(o.metric, o.instance_id) for o in obs if o.error}
        assert ("load", None) in errors and ("sessions", gws[0].address) in errors
        assert by_metric(obs, "registered") == {gws[0].address: 1.0}
        drainer = kdrainer.build(kdrainer.Settings(db=db_settings(kamailio), rpc_url="http://127.0.0.1:1/RPC",
                                                   rpc_timeout=1, reload_budget=0), context())
        assert drainer.sessions(gws[0]) is None, "unknown calls: treated as busy"


    def test_http_error_does_not_quote_credentials(self, kamailio: Kamailio) -> None:
        from fleetscale.kamailio.rpc import KamailioRpc, RpcError

        wrong = kamailio.rpc_url.replace("http://", "http://admin:hunter2@").replace("/RPC", "/nope")
        rpc = KamailioRpc(wrong, timeout=5)
        try:
            with pytest.raises(RpcError) as err:
                rpc.call("core.version")
        finally:
            rpc.close()
        assert "404" in str(err.value) and "hunter2" not in str(err.value)


def _dispatcher(k: Kamailio) -> dict[tuple[int, str], str]:
    from fleetscale.kamailio.rpc import KamailioRpc

    rpc = KamailioRpc(k.rpc_url)
    try:
        return rpc.dispatcher_states()
    finally:
        rpc.close()


class TestReloadRateLimit:
    """Kamailio refuses a dispatcher reload within reload_delta ("Ongoing reload"); the client
    retries within its budget, and gives up with the error when the budget is too short."""

    def test_retry_then_give_up(self, mysql_server: MySQL) -> None:
        from fleetscale.kamailio.rpc import ONGOING_RELOAD, KamailioRpc, RpcError

        with running_kamailio(mysql_server, reload_delta=2) as k:
            rpc = KamailioRpc(k.rpc_url)
            try:
                rpc.reload_dispatcher()
                with pytest.raises(RpcError, match=ONGOING_RELOAD):
                    rpc.reload_dispatcher(budget=0)
                started = time.monotonic()
                rpc.reload_dispatcher(budget=5, pause=0.2)
                assert 0.2 <= time.monotonic() - started < 5
            finally:
                rpc.close()
