"""The seed's CSP object as a provider, and the Scaler facade's checks that need no service."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fleetscale.compat import Scaler
from fleetscale.compat.csp import CspProvider, instance_types
from fleetscale.compat.scaler import _instant
from fleetscale.drainers.none import NoDrainer
from fleetscale.errors import ConfigError, ProviderError
from fleetscale.model import InstanceState
from fleetscale.sources.fixed import FixedSource

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    def now(self) -> datetime:
        return NOW

    def sleep(self, seconds: float) -> None:
        return None


class SeedCsp:
    """A CSP object shaped like the seed's: instances are dicts with a name and a public IP."""

    def __init__(self, inst_type: Any = None) -> None:
        self.instType = inst_type if inst_type is not None else {"small": 2, "large": {"cpus": 8}}
        self.instances: list[dict[str, Any]] = []
        self.destroyed: list[list[str]] = []
        self.fail = False
        self.full = False

    def createInstance(self, type: str, name_prefix: str) -> dict[str, Any]:
        if self.full:
            raise RuntimeError("quota exceeded")
        n = len(self.instances) + 1
        item = {"name": f"{name_prefix}{n}", "public_ip": None, "type": type}
        self.instances.append(item)
        return item

    def destroyInstances(self, ips: list[str]) -> None:
        self.destroyed.append(list(ips))
        self.instances = [i for i in self.instances if (i.get("public_ip") or i.get("ip")) not in ips]

    def enumerateInstances(self) -> list[dict[str, Any]]:
        if self.fail:
            raise RuntimeError("api down")
        return [dict(i) for i in self.instances]


class TestCspProvider:
    """Launch, list and destroy through the seed's three CSP methods."""

    def test_launch_list_terminate(self) -> None:
        csp = SeedCsp()
        p = CspProvider(csp, "gw-", clock=Clock())
        made = p.launch("large", 2, "r1")
        assert [m.id for m in made] == ["gw-1", "gw-2"]
        assert p.launch("large", 2, "r1") == made, "same request: nothing new"
        assert all(m.state is InstanceState.PENDING and m.address is None for m in made), "no IP yet"
        csp.instances[0]["public_ip"] = "192.0.2.10"
        csp.instances.append({"name": "other-1", "public_ip": "192.0.2.99"})
        listed = {i.id: i for i in p.list()}
        assert set(listed) == {"gw-1", "gw-2"}, "only the pool's prefix"
        assert listed["gw-1"].state is InstanceState.READY and listed["gw-1"].address == "192.0.2.10:5060"
        assert listed["gw-1"].launched_at == NOW and listed["gw-1"].type == "large"
        p.terminate(["gw-1"], "t1")
        assert csp.destroyed == [["192.0.2.10"]]
        with pytest.raises(ProviderError, match="no IP"):
            p.terminate(["gw-2"], "t2")

    def test_ip_with_port_and_bare_ips(self) -> None:
        csp = SeedCsp()
        csp.instances = [{"name": "gw-a", "ip": "127.0.0.1:5071"}]
        p = CspProvider(csp, "gw-")
        (inst,) = p.list()
        assert inst.address == "127.0.0.1:5071"
        p.terminate(["gw-a"], "t")
        assert csp.destroyed == [["127.0.0.1:5071"]], "the CSP gets its own IP string back"

        class Bare:
            instType = {"x": 1}

            def enumerateInstances(self) -> list[str]:
                return ["198.51.100.7"]

        (bare,) = CspProvider(Bare(), "gw-").list()
        assert bare.id == "198.51.100.7" and bare.address == "198.51.100.7:5060"

    def test_csp_failures_are_provider_errors(self) -> None:
        csp = SeedCsp()
        csp.fail = True
        p = CspProvider(csp, "gw-")
        with pytest.raises(ProviderError, match="api down"):
            p.list()
        csp.fail, csp.full = False, True
        with pytest.raises(ProviderError, match="quota exceeded"):
            p.launch("small", 1, "r")


@pytest.mark.parametrize(
    ("inst_type", "expected"),
    [
        ({"small": 2, "large": 4}, [("small", 2002.0), ("large", 4.0)]),
        ({"a": {"vcpus": 8}}, [("a", 8.0)]),
        (["t1", "t2"], [("t1", 4.0), ("t2", 4.0)]),
    ],
    ids=["cpus", "mapping", "names-only"],
)
def test_instance_types(inst_type: Any, expected: list[tuple[str, float]]) -> None:
    types = instance_types(SeedCsp(inst_type), cpu_per_gw=4)
    assert [(t.name, t.price) for t in types] == expected and all(t.weight == 1 for t in types)


@pytest.mark.parametrize("inst_type", [{}, [], None], ids=["empty-dict", "empty-list", "missing"])
def test_empty_inst_type_is_a_config_error(inst_type: Any) -> None:
    csp = SeedCsp()
    csp.instType = inst_type
    with pytest.raises(ConfigError, match=r"csp\.instType"):
        instance_types(csp, 4)


class TestScalerChecks:
    """The facade refuses to act unconfigured and reports bad files by name."""

    def test_methods_need_configure(self) -> None:
        s = Scaler()
        for call in (lambda: s.scale(), lambda: s.upScale(4), lambda: s.downScale(1), s.cleanup):
            with pytest.raises(ConfigError, match="configure"):
                call()

    def test_missing_and_broken_files(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="cannot read"):
            Scaler().configure(tmp_path / "nope.json")
        bad = tmp_path / "bad.json"
        bad.write_text('{"gw_name_prefix": "gw-",\n  oops}', encoding="utf-8")
        with pytest.raises(ConfigError, match="line 2"):
            Scaler().configure(bad)

    def test_empty_inst_type_at_configure(self, tmp_path: Path) -> None:
        seed = {"gw_name_prefix": "gw-", "sip_db": {"host": "127.0.0.1", "root_password": "x"},
                "cpu_per_gw": 4, "auto_scale_threshold": {"00:00:00": {"unlockedMin": 1, "loadMax": 0.7}}}
        path = tmp_path / "seed.json"
        path.write_text(json.dumps(seed), encoding="utf-8")
        with pytest.raises(ConfigError, match=r"csp\.instType"):
            Scaler(SeedCsp({}), journal_url="sqlite://").configure(path)
        scaler = Scaler(SeedCsp(), journal_url="sqlite://")
        scaler.configure(path)
        assert scaler.config == seed
        try:
            with pytest.raises(ConfigError, match="cpu_per_gw"):
                scaler.configure_from({**seed, "cpu_per_gw": 0})
            assert scaler.config == seed, "a refused file leaves the running configuration"
            assert scaler.cleanup() == []
        finally:
            scaler.close()


@pytest.mark.parametrize(
    ("value", "tz", "expected"),
    [
        ("08:30:00", "UTC", datetime(2026, 3, 2, 8, 30, tzinfo=UTC)),
        ("08:30", "Europe/Paris", datetime(2026, 3, 2, 7, 30, tzinfo=UTC)),
        (datetime(2026, 1, 1, 12, 0, tzinfo=UTC), "UTC", datetime(2026, 1, 1, 12, 0, tzinfo=UTC)),
    ],
    ids=["utc", "paris", "datetime"],
)
def test_scale_time(value: Any, tz: str, expected: datetime) -> None:
    assert _instant(value, NOW, tz) == expected


def test_bad_scale_time() -> None:
    with pytest.raises(ConfigError, match="scaleTime"):
        _instant("25:99", NOW)


class TestScalerOutage:
    """While Kamailio's database cannot be read, ``cleanup()`` destroys nothing."""

    def test_cleanup_keeps_gateways_when_registrations_are_unknown(self, tmp_path: Path) -> None:
        long_ago = datetime(2026, 3, 1, tzinfo=UTC)  # far past the boot timeout
        csp = SeedCsp()
        csp.instances = [{"name": f"gw-{n}", "public_ip": f"192.0.2.{n}", "type": "small",
                          "launched_at": long_ago} for n in (1, 2)]
        # nothing listens on port 1: every registration read fails with "connection refused"
        seed = {"gw_name_prefix": "gw-", "sip_db": {"host": "127.0.0.1", "port": 1, "root_password": "x"},
                "cpu_per_gw": 4, "auto_scale_threshold": {"00:00:00": {"unlockedMin": 1, "loadMax": 0.7}},
                "rpc_url": "http://127.0.0.1:1/RPC"}
        scaler = Scaler(csp, journal_url="sqlite://", clock=Clock())
        scaler.configure_from(seed)
        try:
            assert scaler.cleanup() == []
            assert csp.destroyed == [], "a failed registration read is not 'unregistered'"
        finally:
            scaler.close()

    def test_cleanup_trusts_the_busier_count(self, tmp_path: Path) -> None:
        """A locked gateway the drainer counts at 0 calls while a source still reports one is
        not destroyed: as in the controller's cycle, the busier count wins."""
        csp = SeedCsp()
        csp.instances = [{"name": "gw-1", "public_ip": "192.0.2.1", "type": "small"}]
        scaler = Scaler(csp, journal_url="sqlite://", clock=Clock())
        scaler.configure_from({"gw_name_prefix": "gw-", "cpu_per_gw": 4,
                               "sip_db": {"host": "127.0.0.1", "port": 1, "root_password": "x"},
                               "auto_scale_threshold": {"00:00:00": {"unlockedMin": 1, "loadMax": 0.7}},
                               "rpc_url": "http://127.0.0.1:1/RPC"})
        try:
            runner = scaler._runner
            assert runner is not None
            runner.sources = (FixedSource(None, metric="sessions", per_instance={"192.0.2.1:5060": 1}),)
            runner.drainer = NoDrainer()  # counts 0
            runner.state = runner.state.drain_recorded("gw-1", NOW)
            assert scaler.cleanup() == []
            assert csp.destroyed == []
        finally:
            scaler.close()
