"""EC2 provider against ec2_url in server mode: real boto3 calls over HTTP on loopback."""

from __future__ import annotations

import pytest

from fleetscale.config import parse
from fleetscale.errors import CapacityError, ConfigError, ProviderError
from fleetscale.model import InstanceState
from fleetscale.providers import cloud, ec2
from tests.contract import aws

pytestmark = pytest.mark.integration


class TestLaunch:
    """Launches are tagged, typed with their weight, and idempotent by request id."""

    def test_tags_weight_and_pending_until_running_with_address(self, ec2_url: str) -> None:
        p = aws.provider(ec2_url)
        made = p.launch("t3.large", 2, "req-1")
        assert len(made) == 2
        assert {i.type for i in made} == {"t3.large"}
        assert {i.weight for i in made} == {4}
        assert {i.state for i in made} == {InstanceState.PENDING}  # run_instances answers "pending"
        for i in made:
            assert i.tags[cloud.TAG_POOL] == "web"
            assert i.tags[cloud.TAG_REQUEST] == "req-1"
            assert i.tags[cloud.TAG_LAUNCH_TYPE] == "t3.large"
            assert i.tags["Name"] == "fleetscale-web"
        listed = {i.id: i for i in p.list()}
        assert set(listed) == {i.id for i in made}
        assert all(i.state is InstanceState.READY and i.address for i in listed.values())

    def test_retried_launch_returns_the_same_instances(self, ec2_url: str) -> None:
        p = aws.provider(ec2_url)
        first = p.launch("t3.small", 3, "req-7")
        again = aws.provider(ec2_url).launch("t3.small", 3, "req-7")  # a fresh process retrying
        assert sorted(i.id for i in again) == sorted(i.id for i in first)
        assert len(p.list()) == 3

    def test_same_request_other_type_is_another_launch(self, ec2_url: str) -> None:
        p = aws.provider(ec2_url)
        a = p.launch("t3.small", 1, "req-8")
        b = p.launch("m5.large", 1, "req-8")
        assert {i.id for i in a}.isdisjoint(i.id for i in b)
        assert len(p.list()) == 2

    def test_client_token_is_deterministic_and_within_limit(self) -> None:
        t = cloud.client_token("web", "req-1", "t3.small")
        assert t == cloud.client_token("web", "req-1", "t3.small")
        assert t != cloud.client_token("web", "req-1", "t3.large")
        assert len(t) <= 64 and t.isascii()

    def test_zero_count_launches_nothing(self, ec2_url: str) -> None:
        p = aws.provider(ec2_url)
        assert p.launch("t3.small", 0, "req-0") == []
        assert p.list() == []


class TestCapacityFallback:
    """InsufficientInstanceCapacity on a type: the provider tries the pool's next type."""

    def test_falls_back_to_cheapest_other_type_covering_the_units(self, ec2_url: str) -> None:
        p = aws.provider(ec2_url)
        hits = aws.inject(p.client, "RunInstances", "InsufficientInstanceCapacity",
                          lambda body: body.get("InstanceType") == "t3.large")
        made = p.launch("t3.large", 1, "req-f")  # 4 units wanted
        assert hits.count == 1
        # cheapest per unit after t3.large: t3.small (0.02/unit) -> 4 instances x 1 unit
        assert [i.type for i in made] == ["t3.small"] * 4
        assert {i.tags[cloud.TAG_LAUNCH_TYPE] for i in made} == {"t3.large"}
        # a retry finds the fallback instances and launches nothing more
        assert sorted(i.id for i in p.launch("t3.large", 1, "req-f")) == sorted(i.id for i in made)
        assert len(p.list()) == 4

    def test_every_type_out_raises_capacity_error(self, ec2_url: str) -> None:
        p = aws.provider(ec2_url)
        hits = aws.inject(p.client, "RunInstances", "InsufficientInstanceCapacity", lambda body: True)
        with pytest.raises(CapacityError, match=r"t3\.small, t3\.large, m5\.large"):
            p.launch("t3.small", 2, "req-x")
        assert hits.count == 3
        assert p.list() == []

    def test_without_fallback_the_type_error_reaches_the_caller(self, ec2_url: str) -> None:
        p = aws.provider(ec2_url, fallback=False)
        aws.inject(p.client, "RunInstances", "InsufficientInstanceCapacity",
                   lambda body: body.get("InstanceType") == "t3.small")
        with pytest.raises(CapacityError, match=r"t3\.small"):
            p.launch("t3.small", 1, "req-n")
        assert [i.type for i in p.launch("m5.large", 1, "req-n")] == ["m5.large"]


class TestThrottling:
    """Throttled calls back off (bounded) and then succeed or fail as ProviderError."""

    def test_backs_off_then_succeeds(self, ec2_url: str) -> None:
        sleeps: list[float] = []
        p = aws.provider(ec2_url, sleeps=sleeps)
        hits = aws.inject(p.client, "DescribeInstances", "RequestLimitExceeded", lambda body: True, times=2)
        assert p.list() == []
        assert hits.count == 2
        assert sleeps == [0.5, 1.0]

    def test_gives_up_after_bounded_retries(self, ec2_url: str) -> None:
        sleeps: list[float] = []
        p = aws.provider(ec2_url, sleeps=sleeps, throttle_retries=2)
        hits = aws.inject(p.client, "DescribeInstances", "Throttling", lambda body: True)
        with pytest.raises(ProviderError, match="Throttling"):
            p.list()
        assert hits.count == 3
        assert sleeps == [0.5, 1.0]

    def test_other_errors_are_not_retried(self, ec2_url: str) -> None:
        sleeps: list[float] = []
        p = aws.provider(ec2_url, sleeps=sleeps)
        aws.inject(p.client, "RunInstances", "UnauthorizedOperation", lambda body: True)
        with pytest.raises(ProviderError, match="UnauthorizedOperation"):
            p.launch("t3.small", 1, "req-u")
        assert sleeps == []


class TestListAndTerminate:
    """Only the pool's own instances are seen and touched; terminate is idempotent."""

    def test_other_pools_and_untagged_instances_are_invisible(self, ec2_url: str) -> None:
        web, api = aws.provider(ec2_url, pool="web"), aws.provider(ec2_url, pool="api")
        mine = web.launch("t3.small", 1, "r1")
        theirs = api.launch("t3.small", 1, "r1")
        raw = aws.client(ec2_url)
        untagged = raw.run_instances(ImageId=aws.ami(ec2_url), MinCount=1, MaxCount=1)["Instances"][0]
        assert [i.id for i in web.list()] == [mine[0].id]
        web.terminate([theirs[0].id, untagged["InstanceId"]], "t1")  # foreign ids: untouched
        assert [i.id for i in api.list()] == [theirs[0].id]
        state = raw.describe_instances(InstanceIds=[untagged["InstanceId"]])
        assert state["Reservations"][0]["Instances"][0]["State"]["Name"] == "running"

    def test_terminate_is_idempotent_and_tolerates_unknown_ids(self, ec2_url: str) -> None:
        p = aws.provider(ec2_url)
        made = p.launch("t3.small", 2, "r2")
        p.terminate([made[0].id, "i-0123456789abcdef0"], "t2")
        p.terminate([made[0].id], "t2")
        assert [i.id for i in p.list()] == [made[1].id]
        p.terminate([], "t3")

    def test_state_mapping(self) -> None:
        types = {t.name: t for t in aws.TYPES}
        base = {"InstanceId": "i-1", "InstanceType": "m5.large", "PrivateIpAddress": "10.0.0.1"}
        cases = {"pending": InstanceState.PENDING, "running": InstanceState.READY,
                 "shutting-down": InstanceState.TERMINATING, "terminated": InstanceState.GONE,
                 "stopping": InstanceState.FAILED, "stopped": InstanceState.FAILED}
        for name, want in cases.items():
            got = ec2.to_instance({**base, "State": {"Name": name}}, types, "private")
            assert (name, got.state, got.weight) == (name, want, 2)
        no_addr = ec2.to_instance({**base, "PrivateIpAddress": None, "State": {"Name": "running"}},
                                  types, "private")
        assert no_addr.state is InstanceState.PENDING
        public = ec2.to_instance({**base, "State": {"Name": "running"}}, types, "public")
        assert public.state is InstanceState.PENDING and public.address is None


class TestSettings:
    """Options are validated at the configuration boundary."""

    def test_unknown_option_and_missing_image_are_named(self) -> None:
        doc = {"pools": [{"name": "web", "max": 3, "provider": {"kind": "ec2", "regoin": "x"}}]}
        with pytest.raises(ConfigError) as err:
            parse(doc)
        text = str(err.value)
        assert "pools.0.provider.regoin" in text
        assert "pools.0.provider.image_id" in text

    def test_secret_is_not_shown(self) -> None:
        s = ec2.Settings(image_id="ami-1", secret_access_key="hunter2")
        assert "hunter2" not in repr(s)
