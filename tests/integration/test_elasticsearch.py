"""The Elasticsearch journal sink with the official client against a local fake endpoint."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fleetscale.errors import ConfigError
from fleetscale.journal import elasticsearch as es_sink
from fleetscale.journal.record import CycleRecord
from fleetscale.model import Decision, Instance, InstanceState, Launch, Observation, Plan, Proposal
from tests.fixtures.elasticsearch import FakeElasticsearch

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def now(self) -> datetime:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


def cycle(n: int, pool: str = "dynos") -> CycleRecord:
    at = T0 + timedelta(seconds=60 * n)
    return CycleRecord(
        pool=pool, cycle_id=f"c{n}", started_at=at, finished_at=at + timedelta(seconds=1), dry_run=False,
        observations=(Observation("sqs", "backlog", 40.0 + n, at),),
        instances=(Instance("shop.worker.1", "standard-1X", InstanceState.READY),),
        proposals=(Proposal("cycles", 2, "backlog per dyno 41 > 10"),),
        steps=("bounds: 1..5",),
        decision=Decision(pool, at, 1, 2, "backlog per dyno 41 > 10"),
        plan=Plan(pool, f"c{n}", launch=(Launch("standard-1X", 1),)),
        outcome=("launched 1",),
    )


def sink(url: str, clock: Clock, **options: Any) -> es_sink.ElasticsearchSink:
    settings = es_sink.Settings.model_validate({"url": url, "index": "autoscaler", **options})
    return es_sink.build(settings, type("Ctx", (), {"clock": clock})())


class TestIndexing:
    """One document per cycle, id {pool}:{cycle_id}, body CycleRecord.to_dict() plus @timestamp."""

    def test_one_document_per_cycle(self, elasticsearch_fake: FakeElasticsearch) -> None:
        s = sink(elasticsearch_fake.url, Clock())
        for n in range(3):
            s.record(cycle(n))
        docs = elasticsearch_fake.docs["autoscaler"]
        assert sorted(docs) == ["dynos:c0", "dynos:c1", "dynos:c2"]
        expected = cycle(1).to_dict() | {"@timestamp": (T0 + timedelta(seconds=60)).isoformat()}
        assert docs["dynos:c1"] == expected
        assert docs["dynos:c1"]["decision"]["direction"] == "up"
        assert (s.sent, s.buffered, s.dropped) == (3, 0, 0)

    def test_basic_auth_password_from_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from tests.fixtures.services import free_port

        fake = FakeElasticsearch(free_port(), user=("elastic", "s3cret"))
        fake.start()
        try:
            monkeypatch.setenv("ELK_ELASTIC_PASS", "s3cret")
            s = sink(fake.url, Clock(), username="elastic", password_env="ELK_ELASTIC_PASS")
            s.record(cycle(0))
            assert fake.count("autoscaler") == 1
            wrong = sink(fake.url, Clock(), username="elastic", password="nope")
            wrong.record(cycle(1))  # 401: buffered, not raised
            assert fake.count("autoscaler") == 1 and wrong.buffered == 1
        finally:
            fake.stop()

    def test_user_without_password_is_a_config_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("NO_PASS", raising=False)
        with pytest.raises(ConfigError, match=r"sink\.password"):
            sink("http://127.0.0.1:9", Clock(), username="elastic", password_env="NO_PASS")


class TestOutage:
    """While Elasticsearch is down every cycle completes; documents buffer, then catch up in bulk."""

    def test_buffer_then_catch_up(self, elasticsearch_fake: FakeElasticsearch) -> None:
        clock = Clock()
        elasticsearch_fake.stop()
        s = sink(elasticsearch_fake.url, clock, retry_after=30)
        for n in range(3):
            s.record(cycle(n))  # must not raise
            clock.sleep(10)
        assert s.buffered == 3 and s.sent == 0

        elasticsearch_fake.start()
        clock.t = T0 + timedelta(seconds=5)  # still inside retry_after of the last failure
        s.record(cycle(3))
        assert elasticsearch_fake.requests == [] and s.buffered == 4

        clock.sleep(60)
        s.record(cycle(4))
        assert elasticsearch_fake.count("autoscaler") == 5 and s.buffered == 0 and s.sent == 5
        bulk_calls = [r for r in elasticsearch_fake.requests if r[1].startswith("/_bulk")]
        assert len(bulk_calls) == 1  # the catch-up went as one bulk request

    def test_bounded_buffer_counts_dropped(self, elasticsearch_fake: FakeElasticsearch) -> None:
        clock = Clock()
        elasticsearch_fake.stop()
        s = sink(elasticsearch_fake.url, clock, buffer=2, retry_after=0)
        for n in range(5):
            s.record(cycle(n))
        assert (s.buffered, s.dropped) == (2, 3)
        elasticsearch_fake.start()
        s.record(cycle(5))
        assert sorted(elasticsearch_fake.docs["autoscaler"]) == ["dynos:c4", "dynos:c5"]
        assert s.dropped == 4  # c5 pushed c3 out before the flush

    def test_pools_recording_at_once_send_each_document_once(
            self, elasticsearch_fake: FakeElasticsearch) -> None:
        """Pools cycle in their own scheduler threads and share the sink."""
        elasticsearch_fake.stop()
        s = sink(elasticsearch_fake.url, Clock(), retry_after=0, batch=3)
        for n in range(20):
            s.record(cycle(n))  # buffered while down
        elasticsearch_fake.start()

        def pool(name: str) -> None:
            for n in range(20, 60):
                s.record(cycle(n, name))

        threads = [threading.Thread(target=pool, args=(name,)) for name in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert s.flush(force=True)
        assert elasticsearch_fake.count("autoscaler") == 100
        assert (s.sent, s.buffered, s.dropped) == (100, 0, 0), "a chunk sent twice pops twice"

    def test_item_failures(self, elasticsearch_fake: FakeElasticsearch) -> None:
        clock = Clock()
        s = sink(elasticsearch_fake.url, clock, retry_after=0)
        elasticsearch_fake.item_failures += [429, 400]
        s.record(cycle(0))  # 429: kept for later
        assert s.buffered == 1 and elasticsearch_fake.count("autoscaler") == 0
        s.record(cycle(1))  # c0 -> 400 (rejected, dropped), c1 -> stored
        assert (s.buffered, s.dropped) == (0, 1)
        assert sorted(elasticsearch_fake.docs["autoscaler"]) == ["dynos:c1"]
