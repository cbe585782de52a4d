"""The Prometheus sink, scraped over HTTP from its own /metrics endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fleetscale.journal import metrics
from fleetscale.journal.record import CycleRecord
from fleetscale.model import Decision, Instance, InstanceState, Observation

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
S = InstanceState


def record(pool: str, current: int, desired: int, states: list[InstanceState], load: float | None,
           error: str | None = None) -> CycleRecord:
    obs = [Observation("sqs", m, load, T0, error=error) for m in ("load", "backlog")]
    return CycleRecord(
        pool=pool, cycle_id="c", started_at=T0, finished_at=T0 + timedelta(seconds=2), dry_run=False,
        observations=tuple(obs),
        instances=tuple(Instance(f"{pool}.{n}", "std", s) for n, s in enumerate(states)),
        proposals=(), steps=(), decision=Decision(pool, T0, current, desired, "r"), plan=None,
    )


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


@pytest.fixture(scope="module")
def sink() -> Iterator[metrics.MetricsSink]:
    s = metrics.serve(0, "127.0.0.1")
    yield s
    s.close()


class TestScrape:
    """Each CycleRecord updates its pool's series; a scrape over HTTP shows them."""

    def test_series_per_pool(self, sink: metrics.MetricsSink) -> None:
        assert sink.port
        sink.record(record("dynos", 2, 4, [S.READY, S.READY, S.PENDING, S.DRAINING], 37.0))
        sink.record(record("dynos", 4, 4, [S.READY] * 4, 20.0))
        sink.record(record("gw", 3, 2, [S.READY] * 3, None, error="sqs queue jobs: QueueDoesNotExist"))
        got = scrape(sink.port)

        assert got[("fleetscale_desired_units", (("pool", "dynos"),))] == 4
        assert got[("fleetscale_instances", (("pool", "dynos"), ("state", "ready")))] == 4
        assert got[("fleetscale_instances", (("pool", "dynos"), ("state", "pending")))] == 0
        assert got[("fleetscale_load", (("pool", "dynos"),))] == 20.0
        assert got[("fleetscale_observation", (("metric", "backlog"), ("pool", "dynos")))] == 20.0
        assert got[("fleetscale_decisions_total", (("direction", "up"), ("pool", "dynos")))] == 1
        assert got[("fleetscale_decisions_total", (("direction", "hold"), ("pool", "dynos")))] == 1
        assert got[("fleetscale_decisions_total", (("direction", "down"), ("pool", "gw")))] == 1
        assert got[("fleetscale_source_errors_total", (("pool", "gw"), ("source", "sqs")))] == 1
        assert ("fleetscale_source_errors_total", (("pool", "dynos"), ("source", "sqs"))) not in got
        assert got[("fleetscale_cycles_total", (("pool", "dynos"),))] == 2
        assert got[("fleetscale_last_cycle_timestamp_seconds", (("pool", "gw"),))] == (T0.timestamp() + 2)

    def test_first_cycle_states(self, sink: metrics.MetricsSink) -> None:
        assert sink.port
        sink.record(record("first", 2, 4, [S.READY, S.READY, S.PENDING, S.DRAINING], 37.0))
        got = scrape(sink.port)
        assert got[("fleetscale_instances", (("pool", "first"), ("state", "pending")))] == 1
        assert got[("fleetscale_instances", (("pool", "first"), ("state", "draining")))] == 1

    def test_own_registry_per_controller(self) -> None:
        a, b = metrics.MetricsSink(), metrics.MetricsSink()  # no "Duplicated timeseries" error
        a.record(record("p", 1, 2, [S.READY], 1.0))
        assert b.registry.get_sample_value("fleetscale_desired_units", {"pool": "p"}) is None
        assert a.registry.get_sample_value("fleetscale_desired_units", {"pool": "p"}) == 2

    def test_never_raises(self) -> None:
        broken = replace(record("p", 1, 2, [S.READY], 1.0), instances=(None,))  # type: ignore[arg-type]
        metrics.MetricsSink().record(broken)
