"""One factory fixture per provider for the contract suite (``test_provider_contract.py``).

A kit is a provider plus what the suite needs to drive it: the pool's two instance types and
``settle()``, which lets time pass so pending instances can become ready (ec2_url: nothing to do;
simulated: advance its clock). To add a provider: write a ``<name>_kit`` fixture here (or in a
module the contract test imports) and add ``"<name>"`` to ``PROVIDERS`` in
``tests/integration/test_provider_contract.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
    #: seconds ``settle()`` may be repeated for (bounded waits for real processes)
    settle_rounds: int = 20


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
