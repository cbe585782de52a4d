"""The kamailio source's watch against a real Kamailio 5.6 (evapi), MariaDB and sipp: events
arrive, a registration puts the gateway into the dispatcher set with no cycle at all, calls
notify, and the watch survives Kamailio going away and coming back."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fleetscale.kamailio.rpc import KamailioRpc, RpcError
from fleetscale.model import Instance
from fleetscale.providers import local
from fleetscale.sources import kamailio as ksource
from tests.fixtures.kamailio import Kamailio, start_caller
from tests.integration.test_kamailio import context, db_settings

pytestmark = pytest.mark.integration


def wait_for(check: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


class Notes:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, why: str) -> None:
        with self.lock:
            self.items.append(why)

    def having(self, text: str) -> list[str]:
        with self.lock:
            return [x for x in self.items if text in x]


def members(rpc: KamailioRpc) -> dict[tuple[int, str], str]:
    try:
        return rpc.dispatcher_states()
    except RpcError as exc:  # "No Destination Sets" while the set is empty
        if "No Destination" in exc.message:
            return {}
        raise


@pytest.fixture
def source(kamailio: Kamailio) -> Iterator[ksource.KamailioSource]:
    s = ksource.build(ksource.Settings(db=db_settings(kamailio), rpc_url=kamailio.rpc_url, gw_prefix="gw-",
                                       evapi_address=kamailio.evapi_address), context())
    yield s
    s.close()


@pytest.fixture
def provider(kamailio: Kamailio, tmp_path: Path) -> Iterator[local.LocalProvider]:
    settings = local.Settings(registrar=kamailio.registrar, expires=30, lifetime=120,
                              state_dir=tmp_path / "local")
    p = local.build(settings, context())
    yield p
    p.terminate([i.id for i in p.list()], "cleanup")


def unregister(k: Kamailio, user: str, contact: str) -> None:
    """A REGISTER with Expires 0 (what a gateway sends when it shuts down cleanly)."""
    host, port = k.registrar.split(":")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(3)
        local_port = s.getsockname()[1]
        msg = (f"REGISTER sip:{k.registrar} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bK-fs1\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:{user}@{host}>;tag=fs1\r\nTo: <sip:{user}@{host}>\r\n"
               f"Call-ID: fs-unregister-{user}\r\nCSeq: 9 REGISTER\r\nContact: <sip:{user}@{contact}>\r\n"
               "Expires: 0\r\nContent-Length: 0\r\n\r\n")
        s.sendto(msg.encode(), (host, int(port)))
        assert s.recv(4096).startswith(b"SIP/2.0 200")


def test_registration_joins_the_dispatcher_without_a_cycle(
        kamailio: Kamailio, source: ksource.KamailioSource, provider: local.LocalProvider,
        tmp_path: Path) -> None:
    notes = Notes()
    watch = source.watch("sip", notes)
    rpc = KamailioRpc(kamailio.rpc_url)
    try:
        wait_for(lambda: notes.having("events connected"), 10, "connected to evapi")
        made: list[Instance] = provider.launch("gateway", 1, "r1")
        (gw,) = made
        address = gw.address or ""

        # no read() is ever called here: only the watch can have added the destination
        wait_for(lambda: notes.having(f"register {gw.id}"), 10, "register event")
        wait_for(lambda: (1, f"sip:{gw.address}") in members(rpc), 10, "dispatcher member")
        assert kamailio.query("SELECT description FROM dispatcher") == [("fs:sip",)]

        caller = start_caller(kamailio, tmp_path / "calls", calls=2, hold_ms=500, rate=20)
        assert caller.wait(30) == 0, caller.output()[-1500:]
        wait_for(lambda: len(notes.having(f"call-end {gw.address}")) == 2, 10, "two call-end events")
        assert len(notes.having(f"call-start {gw.address}")) == 2

        unregister(kamailio, gw.id, address)
        wait_for(lambda: notes.having(f"unregister {gw.id}"), 10, "unregister event")
    finally:
        watch.close()
        rpc.close()


def test_other_prefixes_do_not_notify_and_the_watch_closes_fast(
        kamailio: Kamailio, source: ksource.KamailioSource, tmp_path: Path) -> None:
    notes = Notes()
    watch = source.watch("sip", notes)
    try:
        wait_for(lambda: notes.having("events connected"), 10, "connected to evapi")
        unregister(kamailio, "other-1", "127.0.0.1:5999")  # nothing to delete: no event at all
        time.sleep(0.5)
        assert notes.having("other-1") == []
    finally:
        started = time.monotonic()
        watch.close()
        assert time.monotonic() - started < 3


def test_unreachable_evapi_retries_and_never_raises(kamailio: Kamailio) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"  # bound, not listening: connection refused
        src = ksource.build(ksource.Settings(db=db_settings(kamailio), rpc_url=kamailio.rpc_url,
                                             evapi_address=dead), context())
        notes = Notes()
        watch = src.watch("sip", notes)
        time.sleep(1.0)
        watch.close()
        src.close()
    assert notes.items == []


def test_no_address_no_watch(kamailio: Kamailio) -> None:
    src = ksource.build(ksource.Settings(db=db_settings(kamailio), rpc_url=kamailio.rpc_url), context())
    watch = src.watch("sip", Notes())
    assert isinstance(watch, ksource.NotWatching)
    watch.close()
    src.close()
