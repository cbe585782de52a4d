"""The provider contract: every provider (ec2, libcloud, simulated; heroku and local once
registered) answers list/launch/terminate the same way.

Registration: each provider contributes a ``<name>_kit`` fixture (``tests/contract/kits.py``)
and its name in ``PROVIDERS`` below.
"""

from __future__ import annotations

import pytest

from fleetscale.model import Instance, InstanceState
from fleetscale.providers.cloud import TAG_POOL
from tests.contract.kits import Kit

pytestmark = pytest.mark.integration

PROVIDERS = ("ec2", "libcloud", "simulated", "heroku", "local")


@pytest.fixture(params=PROVIDERS)
def kit(request: pytest.FixtureRequest) -> Kit:
    return request.getfixturevalue(f"{request.param}_kit")  # type: ignore[no-any-return]


def live(kit: Kit) -> dict[str, Instance]:
    return {i.id: i for i in kit.provider.list()}


def settle_until_ready(kit: Kit, ids: set[str]) -> dict[str, Instance]:
    for _ in range(kit.settle_rounds):  # bounded
        kit.settle()
        seen = live(kit)
        if all(i in seen and seen[i].state is InstanceState.READY for i in ids):
            return seen
    raise AssertionError(f"{kit.name}: {sorted(ids)} not ready after {kit.settle_rounds} rounds: {live(kit)}")


class TestList:
    """list() shows the pool's instances, never a gone one."""

    def test_starts_empty(self, kit: Kit) -> None:
        assert list(kit.provider.list()) == []


class TestLaunch:
    """launch() makes exactly ``count`` instances of the type, once per request id."""

    def test_launch_count_type_weight(self, kit: Kit) -> None:
        _, large = kit.types
        made = kit.provider.launch(large.name, 2, "c-1")
        assert len(made) == 2 and len({i.id for i in made}) == 2
        assert {(i.type, i.weight) for i in made} == {(large.name, large.weight)}
        assert {i.state for i in made} <= {InstanceState.PENDING, InstanceState.READY}
        assert set(live(kit)) == {i.id for i in made}

    def test_pending_then_ready_with_address(self, kit: Kit) -> None:
        made = kit.provider.launch(kit.types[0].name, 1, "c-2")
        seen = settle_until_ready(kit, {made[0].id})
        assert bool(seen[made[0].id].address) is kit.addresses

    def test_same_request_id_launches_once(self, kit: Kit) -> None:
        t = kit.types[0].name
        first = kit.provider.launch(t, 2, "c-3")
        kit.settle()
        again = kit.provider.launch(t, 2, "c-3")
        assert sorted(i.id for i in again) == sorted(i.id for i in first)
        assert len(live(kit)) == 2

    def test_new_request_id_launches_again(self, kit: Kit) -> None:
        t = kit.types[0].name
        a = kit.provider.launch(t, 1, "c-4")
        b = kit.provider.launch(t, 1, "c-5")
        assert {i.id for i in a}.isdisjoint(i.id for i in b)
        assert len(live(kit)) == 2

    def test_zero_count(self, kit: Kit) -> None:
        assert kit.provider.launch(kit.types[0].name, 0, "c-6") == []
        assert live(kit) == {}

    def test_tagged_with_pool(self, kit: Kit) -> None:
        made = kit.provider.launch(kit.types[0].name, 1, "c-7")
        if kit.tagged:
            assert made[0].tags.get(TAG_POOL) == kit.pool
            assert live(kit)[made[0].id].tags.get(TAG_POOL) == kit.pool


class TestTerminate:
    """terminate() removes instances, idempotently, and ignores unknown ids."""

    def test_terminate_removes(self, kit: Kit) -> None:
        a, b = kit.provider.launch(kit.types[0].name, 2, "c-8")
        settle_until_ready(kit, {a.id, b.id})
        kit.provider.terminate([a.id], "t-1")
        if kit.positional:  # a formation drops its highest-numbered dyno, whichever was named
            kit.settle()
            assert [i.state for i in live(kit).values()] == [InstanceState.READY]
            return
        for _ in range(kit.settle_rounds):
            kit.settle()
            seen = live(kit)
            if a.id not in seen or seen[a.id].state is InstanceState.TERMINATING:
                break
        assert a.id not in seen or seen[a.id].state is InstanceState.TERMINATING
        assert seen[b.id].state is InstanceState.READY

    def test_terminate_twice_and_unknown_ids(self, kit: Kit) -> None:
        (a,) = kit.provider.launch(kit.types[0].name, 1, "c-9")
        kit.provider.terminate([a.id], "t-2")
        kit.provider.terminate([a.id], "t-2")
        kit.provider.terminate(list(kit.unknown_ids), "t-3")
        kit.provider.terminate([], "t-4")
        assert all(i.state is InstanceState.TERMINATING for i in live(kit).values())

    def test_states_are_never_gone(self, kit: Kit) -> None:
        made = kit.provider.launch(kit.types[0].name, 2, "c-10")
        kit.provider.terminate([made[0].id], "t-5")
        kit.settle()
        assert all(i.state is not InstanceState.GONE for i in kit.provider.list())
