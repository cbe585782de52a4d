"""Libcloud provider through Libcloud's real EC2 driver against ec2_url (server mode, loopback)."""

from __future__ import annotations

import pytest

from fleetscale import registry
from fleetscale.config import parse
from fleetscale.errors import CapacityError, ConfigError, ProviderError
from fleetscale.model import InstanceState
from fleetscale.providers import cloud
from fleetscale.providers import libcloud as lc
from fleetscale.registry import BuildContext
from fleetscale.sim.clock import WallClock
from tests.contract import aws, libcloud_moto

pytestmark = pytest.mark.integration


class TestLaunch:
    """Nodes are named and tagged for the pool and launched once per request id and type."""

    def test_names_tags_and_weights(self, ec2_url: str) -> None:
        p = libcloud_moto.provider(ec2_url)
        made = p.launch("t3.large", 2, "req-1")
        assert [i.type for i in made] == ["t3.large", "t3.large"] and {i.weight for i in made} == {4}
        key = lc.launch_key("req-1", "t3.large")
        assert sorted(i.tags["Name"] for i in made) == [f"fleetscale-web-{key}-0", f"fleetscale-web-{key}-1"]
        assert {i.tags[cloud.TAG_POOL] for i in made} == {"web"}
        assert {i.tags[cloud.TAG_REQUEST] for i in made} == {"req-1"}
        # the same instances, seen by boto3: the tags are real EC2 tags
        pool_filter = [{"Name": "tag:fleetscale:pool", "Values": ["web"]}]
        raw = aws.client(ec2_url).describe_instances(Filters=pool_filter)
        ids = {i["InstanceId"] for r in raw["Reservations"] for i in r["Instances"]}
        assert ids == {i.id for i in made}
        listed = p.list()
        assert {i.id for i in listed} == ids
        assert {i.state for i in listed} == {InstanceState.READY} and all(i.address for i in listed)

    def test_retry_creates_only_missing_slots(self, ec2_url: str) -> None:
        p = libcloud_moto.provider(ec2_url)
        faulty = libcloud_moto.FaultyDriver(p.driver, "Unavailable", times=None)
        half = libcloud_moto.provider(ec2_url, driver=faulty)
        faulty.when = lambda kwargs: kwargs["name"].endswith("-2")  # dies on the third node
        with pytest.raises(ProviderError, match="Unavailable"):
            half.launch("t3.small", 4, "req-2")
        assert len(p.list()) == 2
        again = p.launch("t3.small", 4, "req-2")
        assert len(again) == 4 and len(p.list()) == 4
        assert sorted(i.id for i in p.launch("t3.small", 4, "req-2")) == sorted(i.id for i in again)

    def test_fallback_on_capacity(self, ec2_url: str) -> None:
        real = libcloud_moto.provider(ec2_url)
        faulty = libcloud_moto.FaultyDriver(real.driver, "InsufficientInstanceCapacity",
                                            when=lambda kwargs: kwargs["size"].id == "m5.large")
        p = libcloud_moto.provider(ec2_url, driver=faulty)
        made = p.launch("m5.large", 2, "req-3")  # 4 units: next cheapest per unit is t3.large
        assert [i.type for i in made] == ["t3.large"] and faulty.count == 1
        assert made[0].tags[cloud.TAG_LAUNCH_TYPE] == "m5.large"
        assert [i.id for i in p.launch("m5.large", 2, "req-3")] == [made[0].id]
        faulty.when = lambda kwargs: True
        with pytest.raises(CapacityError, match="no capacity"):
            p.launch("t3.large", 1, "req-4")

    def test_throttling_backs_off(self, ec2_url: str) -> None:
        sleeps: list[float] = []
        real = libcloud_moto.provider(ec2_url)
        faulty = libcloud_moto.FaultyDriver(real.driver, "RequestLimitExceeded", op="list_nodes", times=2)
        p = libcloud_moto.provider(ec2_url, driver=faulty, sleeps=sleeps)
        assert p.list() == [] and sleeps == [0.5, 1.0]


class TestTerminate:
    """Terminate touches only the pool's nodes and is idempotent."""

    def test_terminate(self, ec2_url: str) -> None:
        web, api = libcloud_moto.provider(ec2_url), libcloud_moto.provider(ec2_url, pool="api")
        a, b = web.launch("t3.small", 2, "r1")
        (other,) = api.launch("t3.small", 1, "r1")
        web.terminate([a.id, other.id, "i-0123456789abcdef0"], "t1")
        web.terminate([a.id], "t1")
        assert [i.id for i in web.list()] == [b.id]
        assert [i.id for i in api.list()] == [other.id]

    def test_pool_names_do_not_overlap(self, ec2_url: str) -> None:
        libcloud_moto.provider(ec2_url, pool="web-2").launch("t3.small", 1, "r1")
        assert libcloud_moto.provider(ec2_url, pool="web").list() == []


class TestSettings:
    """Options are validated at the boundary; an unknown driver is a clear error."""

    def test_unknown_option(self) -> None:
        doc = {"pools": [{"name": "web", "max": 3,
                          "provider": {"kind": "libcloud", "driver": "ec2", "key": "k", "image_id": "a",
                                       "colour": "red"}}]}
        with pytest.raises(ConfigError, match=r"pools\.0\.provider\.colour"):
            parse(doc)

    def test_built_from_configuration(self, ec2_url: str) -> None:
        s = libcloud_moto.settings(ec2_url)
        doc = {"pools": [{"name": "web", "max": 3,
                          "instance_types": [{"name": "t3.small", "weight": 1, "price": 0.02}],
                          "provider": {"kind": "libcloud", **s.model_dump(mode="json"),
                                       "secret": "testing"}}]}
        loaded = parse(doc)
        pool = loaded.config.pools[0]
        ctx = BuildContext(pool=pool, clock=WallClock(), journal_url="sqlite://")
        provider = registry.build("provider", "libcloud", loaded.provider_settings("web"), ctx)
        (made,) = provider.launch("t3.small", 1, "cfg-1")
        assert [i.id for i in provider.list()] == [made.id]

    def test_unknown_driver(self) -> None:
        with pytest.raises(ProviderError, match="nosuchcloud"):
            lc.make_driver(lc.Settings(driver="nosuchcloud", key="k", image_id="a"))
