"""The seed-compatible Scaler against a real Kamailio: a CSP object whose instances are sipp
gateways (through the local-process provider), the seed's JSON as is plus test-only extras."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetscale.compat import Scaler
from fleetscale.providers.local import LocalProvider, Settings
from fleetscale.sim.clock import WallClock
from tests.fixtures.kamailio import Kamailio, start_caller

pytestmark = pytest.mark.integration



class SippCsp:
    """The seed's CSP interface over local sipp gateways; an instance's IP is ``127.0.0.1:port``."""

    instType = {"gw.small": 2, "gw.large": 4}

    def __init__(self, provider: LocalProvider) -> None:
        self.provider = provider
        self.created: list[str] = []

    def createInstance(self, type: str, name_prefix: str) -> dict[str, Any]:
        (inst,) = self.provider.launch(type, 1, uuid.uuid4().hex)
        self.created.append(type)
        return {"name": inst.id, "ip": inst.address, "type": type}

    def destroyInstances(self, ips: list[str]) -> None:
        ids = [i.id for i in self.provider.list() if i.address in ips]
        self.provider.terminate(ids, uuid.uuid4().hex)

    def enumerateInstances(self) -> list[dict[str, Any]]:
        return [{"name": i.id, "ip": i.address, "type": i.type} for i in self.provider.list()]


def wait_for(check: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s")


@pytest.fixture
def csp(kamailio: Kamailio, tmp_path: Path) -> Iterator[SippCsp]:
    settings = Settings(registrar=kamailio.registrar, expires=4, lifetime=120, name_prefix="gw-",
                        state_dir=tmp_path / "csp")
    provider = LocalProvider(settings, "csp", WallClock())
    yield SippCsp(provider)
    provider.terminate([i.id for i in provider.list()], "cleanup")


@pytest.fixture
def scaler(kamailio: Kamailio, csp: SippCsp, tmp_path: Path) -> Iterator[Scaler]:
    seed = {
        "gw_name_prefix": "gw-",
        "sip_db": {"host": kamailio.mysql.host, "port": kamailio.mysql.port, "user": kamailio.user,
                   "password": kamailio.password, "database": kamailio.database},
        "cpu_per_gw": 4,
        "auto_scale_threshold": {"00:00:00": {"unlockedMin": 1, "loadMax": 0.5},
                                 "08:00:00": {"unlockedMin": 2, "loadMax": 0.75}},
        "calls_per_cpu": 1,
        "max_gw": 3,
        "rpc_url": kamailio.rpc_url,
        "fleetscale": {"governor": {"down": {"stabilisation": 0}}, "boot_timeout": 30},
    }
    path = tmp_path / "scaler.json"
    path.write_text(json.dumps(seed), encoding="utf-8")
    s = Scaler(csp, journal_url=f"sqlite:///{tmp_path / 'journal.db'}")
    s.configure(path)
    yield s
    s.close()


def registered(k: Kamailio) -> set[str]:
    return {str(u) for (u,) in k.query("SELECT username FROM location WHERE expires > NOW()")}


class TestScalerFacade:
    """The seed's methods on the engine: up, down (lock, destroy after the last call), scale."""

    def test_up_down_cleanup_scale(self, kamailio: Kamailio, csp: SippCsp, scaler: Scaler,
                                   tmp_path: Path) -> None:
        made = scaler.upScale(numCPU=7)  # ceil(7 / 4) = 2 gateways of the cheapest type with 4 CPUs
        assert len(made) == 2 and csp.created == ["gw.large", "gw.large"]
        wait_for(lambda: registered(kamailio) >= {m.id for m in made}, 10, "gateways registered")
        scaler.cleanup()  # lets the source add them to the dispatcher set
        assert kamailio.query("SELECT COUNT(*) FROM dispatcher WHERE flags = 0") == [(2,)]

        caller = start_caller(kamailio, tmp_path / "calls", calls=3, hold_ms=4000, rate=50)
        wait_for(lambda: kamailio.rpc("dlg.profile_get_size", "gw") == 3, 5, "3 calls up")
        busy = {m.id: kamailio.rpc("dlg.profile_get_size", "gw", f"sip:{m.address}") for m in made}
        quiet = min(busy, key=lambda i: busy[i])
        assert sorted(busy.values()) == [1, 2]

        assert scaler.downScale(numGW=1) == [quiet]
        assert {i.id for i in csp.provider.list()} == {m.id for m in made}, "not destroyed: a call is up"
        assert scaler.cleanup() == []
        assert caller.wait(30) == 0 and caller.counts() == (3, 0), caller.output()[-1500:]
        wait_for(lambda: kamailio.rpc("dlg.profile_get_size", "gw") == 0, 5, "calls ended")
        assert scaler.cleanup() == [quiet]
        assert {i.id for i in csp.provider.list()} == {m.id for m in made} - {quiet}

        # scale at 09:00 for 10 calls: ceil(10 / (0.75 x 4)) = 4 -> max_gw 3
        record = scaler.scale(scaleTime="09:00:00", incallsNum=10)
        assert record.decision is not None and record.decision.desired == 3, record.decision
        assert "load 10" in record.decision.reason
        assert sum(1 for line in record.outcome if line.startswith("launched")) == 1
        assert len(csp.provider.list()) == 3
        wait_for(lambda: len(registered(kamailio) & {i.id for i in csp.provider.list()}) == 3, 10,
                 "three registered")

        # scale at 03:00 with Kamailio's own count (0 calls): floor unlockedMin 1 -> lock 2; they
        # carry no call, so scale() destroys them at once (as the seed's downScale did)
        record = scaler.scale(scaleTime="03:00:00")
        assert record.decision is not None and record.decision.desired == 1, record.decision
        assert "unlockedMin 1" in record.decision.reason
        assert len([line for line in record.outcome if line.startswith("drain begun")]) == 2, record.outcome
        assert len(csp.provider.list()) == 1
