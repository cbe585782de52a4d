"""Sources under fault, through a PoolRunner: a source that is down, slow beyond its timeouts,
or answers garbage makes the pool hold; it never shrinks, and the cause is in ``explain``.

The pool first settles at 5 ready instances on a healthy reading, then its source is replaced
by a real source object (sqs, media_redis, kamailio) whose service is down (nothing listens),
a black hole (accepts, never answers) or a babbler (answers garbage), or by a source that
reads non-finite or absurd numbers.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from fleetscale.journal.explain import explain
from fleetscale.kamailio.db import DbSettings, make_engine
from fleetscale.kamailio.rpc import KamailioRpc
from fleetscale.kamailio.store import GatewayStore
from fleetscale.model import Observation
from fleetscale.ports import Source
from fleetscale.sources import kamailio, sqs
from fleetscale.sources.media_redis import MediaRedisSource
from tests.fixtures.fault_proxy import TcpFault
from tests.fixtures.services import free_port
from tests.unit.controller_kit import Kit, kit

pytestmark = pytest.mark.integration

SIZE = 5
#: a cycle that takes longer than this is blocked (a bound for the test, not a timing assertion)
BOUND = 60.0


def sqs_source(endpoint: str) -> sqs.SqsSource:
    settings = sqs.Settings(queues=("jobs",), endpoint_url=endpoint, region="us-east-1", timeout=0.5,
                            access_key_id="testing", secret_access_key="testing")  # type: ignore[arg-type]
    return sqs.SqsSource(settings, sqs.make_client(settings))


def redis_source(port: int) -> MediaRedisSource:
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.5, socket_connect_timeout=0.5,
                         retry=Retry(NoBackoff(), 0))
    return MediaRedisSource(client, "fs:{pool}:", "rooms", "load", 1)


def kamailio_source(db_port: int, rpc_port: int) -> kamailio.KamailioSource:
    db = DbSettings(port=db_port, connect_timeout=1, read_timeout=1)
    settings = kamailio.Settings(db=db, rpc_url=f"http://127.0.0.1:{rpc_port}/RPC", rpc_timeout=0.5)
    return kamailio.KamailioSource(settings, GatewayStore(make_engine(db), "web"),
                                   KamailioRpc(settings.rpc_url or "", settings.rpc_timeout))


class Numbers:
    """A source reading whatever number it is given (a broken exporter, a unit mix-up)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def read(self, pool: str, now: datetime) -> list[Observation]:
        return [Observation("numbers", "load", self.value, now)]


Make = Callable[[Callable[..., TcpFault]], Source]
#: an HTTP 200 whose body is not what SQS answers
GARBAGE_HTTP = (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: 52\r\n\r\n"
                b'{"Attributes": {"ApproximateNumberOfMessages": "x"}}')

FAULTS: list[tuple[str, Make, str]] = [
    ("sqs-down", lambda tcp: sqs_source(f"http://127.0.0.1:{free_port()}"), "sqs queue jobs"),
    ("sqs-slow", lambda tcp: sqs_source(f"http://127.0.0.1:{tcp('blackhole').port}"), "timeout"),
    ("sqs-garbage", lambda tcp: sqs_source(f"http://127.0.0.1:{tcp('garbage').port}"), "sqs"),
    ("sqs-garbage-http", lambda tcp: sqs_source(f"http://127.0.0.1:{tcp('garbage', GARBAGE_HTTP).port}"),
     "sqs"),
    ("redis-down", lambda tcp: redis_source(free_port()), "redis read failed"),
    ("redis-slow", lambda tcp: redis_source(tcp("blackhole").port), "redis read failed"),
    ("redis-garbage", lambda tcp: redis_source(tcp("garbage").port), "redis read failed"),
    ("kamailio-down", lambda tcp: kamailio_source(free_port(), free_port()), "kamailio"),
    ("kamailio-slow", lambda tcp: kamailio_source(tcp("blackhole").port, tcp("blackhole").port), "kamailio"),
    ("kamailio-garbage", lambda tcp: kamailio_source(tcp("garbage").port, tcp("garbage").port), "kamailio"),
]


@pytest.fixture
def settled(tmp_path: Path) -> Iterator[Kit]:
    """A pool at SIZE ready instances, held there by a healthy reading of SIZE."""
    k = kit(tmp_path, load=float(SIZE), initial=SIZE)
    k.step(2)
    assert k.ready() == SIZE
    yield k


def bounded_cycles(k: Kit, n: int) -> list[Any]:
    """``n`` cycles in a thread; the test fails (rather than hangs) if one blocks."""
    out: list[Any] = []
    worker = threading.Thread(target=lambda: out.extend(k.step(n)), daemon=True)
    worker.start()
    worker.join(BOUND * n)
    assert not worker.is_alive(), "a cycle blocked on its source"
    return out


def assert_held(k: Kit, before: set[str], recs: list[Any]) -> None:
    assert k.live() == before, "the pool changed under a failing source"
    assert dict(k.saved().drains) == {}
    for rec in recs:
        assert rec.plan is None or (not rec.plan.begin_drain and not rec.plan.terminate), rec.plan
        assert rec.decision is None or rec.decision.desired >= SIZE


class TestSourceFaults:
    """Down, slow, garbage: every cycle holds, reports the source's error, and never shrinks."""

    @pytest.mark.parametrize(("make", "cause"), [(m, c) for _, m, c in FAULTS], ids=[n for n, _, _ in FAULTS])
    def test_pool_holds(self, settled: Kit, tcp_fault: Callable[..., TcpFault], make: Make,
                        cause: str) -> None:
        before = settled.live()
        settled.runner.sources = (make(tcp_fault),)
        recs = bounded_cycles(settled, 3)
        assert_held(settled, before, recs)
        assert all(any(cause in e for e in rec.errors) for rec in recs), [r.errors for r in recs]
        text = explain(settled.journal.cycles("web", 1))
        assert "ERROR:" in text and cause in text


class TestGarbageNumbers:
    """A reading that is not a finite, non-negative number is not a load: the pool holds."""

    @pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -5.0, 1e300],
                             ids=["nan", "inf", "-inf", "negative", "absurd"])
    def test_pool_never_shrinks(self, settled: Kit, value: float) -> None:
        before = settled.live()
        settled.runner.sources = (Numbers(value),)
        recs = bounded_cycles(settled, 3)
        assert settled.live() >= before, "a garbage reading shrank the pool"
        assert dict(settled.saved().drains) == {}
        for rec in recs:
            assert rec.plan is None or (not rec.plan.begin_drain and not rec.plan.terminate), rec.plan
