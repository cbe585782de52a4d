"""Provider ``heroku`` fault matrix: the fake Platform API (tests/fixtures/heroku.py) answering
5xx, 429 with the documented ``rate_limit`` body, or too late, before or after the change took
effect; driven by a PoolRunner cycle as ``fleetscale run`` drives it (SQL journal, write-ahead
intents).

Each fault: retried within bounds or the pool holds, the formation never ends above what one
decision asked (a quantity is absolute, so a retried PATCH is harmless, but a *replayed* launch
must not add its count twice), and the cause is in ``fleetscale explain``.

Not applicable: a partial launch (a formation PATCH is all or nothing) and an instance that
never becomes ready (the formation API reports no dyno state; every dyno counts as ready).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from fleetscale.providers import heroku as hk
from fleetscale.sim.clock import SimClock
from tests.fixtures.heroku import FakeHeroku
from tests.integration.fault_runner import FaultRunner, fault_runner, pool_config

pytestmark = pytest.mark.integration

WANT = 3
#: the body Heroku documents for an exhausted rate limit
RATE_LIMIT = (429, "rate_limit", "Your account reached the API rate limit\n"
              "Please wait a few minutes before making new requests")
UNAVAILABLE = (503, "service_unavailable", "The service is temporarily unavailable.")
RETRIES = 3


@dataclass
class Rig:
    fake: FakeHeroku
    clock: SimClock
    sleeps: list[float]
    fr: FaultRunner

    def cycle(self) -> list[str]:
        rec = self.fr.cycle()
        self.clock.advance(60)
        return list(rec.errors)

    def patches(self) -> int:
        return len(self.fake.patches())


@pytest.fixture
def rig(heroku: FakeHeroku, tmp_path: Path) -> Iterator[Rig]:
    clock = SimClock()
    sleeps: list[float] = []
    settings = hk.Settings.model_validate({"app": "shop", "api_url": heroku.url, "timeout": 0.5,
                                           "max_retries": RETRIES, "backoff": 1, "max_backoff": 8})
    api = hk.HerokuApi(settings, SecretStr(heroku.token), sleep=sleeps.append)
    provider = hk.HerokuProvider(settings, api, {"standard-1X": 1})
    pool = pool_config(types=(("standard-1X", 1),), unknown_instances="adopt")
    try:
        yield Rig(heroku, clock, sleeps, fault_runner(tmp_path, provider, clock, load=float(WANT), pool=pool))
    finally:
        provider.close()


def twice(item: Any) -> list[Any]:
    return [item, item]


TRANSIENT = [
    ("503-before-twice", lambda f: f.failures.extend(twice(UNAVAILABLE))),
    ("503-after-once", lambda f: f.failures_after.append(UNAVAILABLE)),
    ("429-twice", lambda f: f.failures.extend(twice(RATE_LIMIT))),
    ("timeout-after-once", lambda f: f.delays.extend([0.0, 1.5])),  # the GET, then the PATCH
    ("500-on-list", lambda f: f.failures.append((500, "internal_server_error", "oops"))),
]


class TestTransientFaults:
    """Retried within bounds in the same cycle: the formation reaches WANT and stays there."""

    @pytest.mark.parametrize("inject", [f for _, f in TRANSIENT], ids=[n for n, _ in TRANSIENT])
    def test_retried_and_scaled_once(self, rig: Rig, inject: Any) -> None:
        inject(rig.fake)
        assert rig.cycle() == []
        for _ in range(3):
            assert rig.cycle() == []
        assert rig.fake.quantity("shop") == WANT
        assert all(q["quantity"] <= WANT for q in rig.fake.patches())
        assert len(rig.sleeps) <= RETRIES and max(rig.sleeps, default=0) <= 8


class TestPersistentFaults:
    """A fault that lasts: bounded attempts, the pool holds, the cause is in ``explain``; once it
    passes (or a replay of the pending launch runs) the formation is exactly WANT."""

    @pytest.mark.parametrize(("inject", "cause"), [
        (lambda f: f.failures.extend([UNAVAILABLE] * 50), "503 service_unavailable"),
        (lambda f: setattr(f, "remaining", 0), "429 rate_limit: Your account reached the API rate limit"),
        (lambda f: f.delays.extend([5.0] * 50), "ReadTimeout"),
        (lambda f: f.failures_after.extend([UNAVAILABLE] * 50), "503 service_unavailable"),
    ], ids=["503", "429", "timeout", "503-after-effect"])
    def test_holds_then_recovers(self, rig: Rig, inject: Any, cause: str) -> None:
        inject(rig.fake)
        errors = rig.cycle()
        assert any(cause in e and f"gave up after {RETRIES + 1} attempts" in e for e in errors), errors
        assert len(rig.fake.requests) <= 2 * (RETRIES + 1)  # a GET and a PATCH, each bounded
        text = rig.fr.explained()
        assert "ERROR:" in text and cause in text
        rig.fake.failures.clear()
        rig.fake.failures_after.clear()
        rig.fake.delays.clear()
        rig.fake.remaining = 4500
        for _ in range(3):
            assert rig.cycle() == []
        assert rig.fake.quantity("shop") == WANT
        assert all(q["quantity"] <= WANT for q in rig.fake.patches()), rig.fake.patches()
