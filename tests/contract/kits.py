"""One factory fixture per provider for the contract suite (``test_provider_contract.py``).

A kit is a provider plus what the suite needs to drive it: the pool's two instance types and
``settle()``, which lets time pass so pending instances can become ready (ec2_url: nothing to do;
simulated: advance its clock). To add a provider: write a ``<name>_kit`` fixture here (or in a
module the contract test imports) and add ``"<name>"`` to ``PROVIDERS`` in
``tests/integration/test_provider_contract.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from fleetscale.model import InstanceType
from fleetscale.ports import Provider
from tests.contract import aws, libcloud_moto

TYPES = (InstanceType("t3.small", 1, 0.02), InstanceType("t3.large", 4, 0.07))


@dataclass
class Kit:
    name: str
    pool: str
    provider: Provider
    types: tuple[InstanceType, ...]
    settle: Callable[[], None]
    #: instances carry the ``fleetscale:pool`` tag
    tagged: bool = True
    #: rounds ``settle()`` may be repeated for (bounded waits for real processes)
    settle_rounds: int = 20
    #: instances get an address once ready (a Heroku dyno has none)
    addresses: bool = True
    #: terminate removes *some* instances, not the named ones (Heroku lowers a quantity)
    positional: bool = False
    #: ids of this provider's shape that name no instance
    unknown_ids: tuple[str, ...] = ("i-0123456789abcdef0", "no-such-instance")


def _nothing() -> None:
    return None


@pytest.fixture
def ec2_kit(ec2_url: str) -> Kit:
    return Kit("ec2", "web", aws.provider(ec2_url, types=TYPES), TYPES, _nothing)


@pytest.fixture
def libcloud_kit(ec2_url: str) -> Kit:
    return Kit("libcloud", "web", libcloud_moto.provider(ec2_url, types=TYPES), TYPES, _nothing)


@pytest.fixture
def simulated_kit() -> Kit:
    from fleetscale.sim.clock import SimClock
    from fleetscale.sim.provider import SimulatedProvider

    clock = SimClock()
    provider = SimulatedProvider(clock, TYPES, pool="web", boot_delay=30.0)
    return Kit("simulated", "web", provider, TYPES, lambda: clock.advance(31.0))


@pytest.fixture
def heroku_kit(heroku: Any) -> Kit:
    """The dyno formation of ``shop``/``worker`` on the fake Platform API (tests/fixtures/heroku.py)."""
    from pydantic import SecretStr

    from fleetscale.providers import heroku as hk

    heroku.add("shop", "worker", quantity=0)
    settings = hk.Settings.model_validate({"app": "shop", "api_url": heroku.url})
    api = hk.HerokuApi(settings, SecretStr(heroku.token), sleep=lambda s: None)
    types = (InstanceType("standard-1X", 1, 0.025), InstanceType("standard-2X", 2, 0.05))
    weights = {t.name: t.weight for t in types}
    return Kit("heroku", "shop", hk.HerokuProvider(settings, api, weights), types, _nothing, tagged=False,
               addresses=False, positional=True, unknown_ids=("shop.worker.99",))


@pytest.fixture
def local_kit(tmp_path: Any) -> Iterator[Kit]:
    """Local processes (branch sip): each instance a bounded ``sleep`` on loopback, stopped by pid."""
    from fleetscale.providers import local
    from fleetscale.sim.clock import WallClock

    settings = local.Settings(command=["sleep", "{lifetime}"], lifetime=120, stop_grace=1.0,
                              state_dir=tmp_path / "local")
    provider = local.LocalProvider(settings, "web", WallClock(), weights={t.name: t.weight for t in TYPES})
    try:
        yield Kit("local", "web", provider, TYPES, _nothing)
    finally:
        provider.terminate([i.id for i in provider.list()], "contract-teardown")
