"""Prometheus metrics, as a journal sink: each CycleRecord updates the series of its pool.

Series (label ``pool`` on all):

- ``fleetscale_desired_units`` / ``fleetscale_current_units``: the decision's capacity;
- ``fleetscale_instances{state}``: instances per state (pending, ready, draining, ...);
- ``fleetscale_load``: the pool-wide ``load`` reading; ``fleetscale_observation{metric}``: every
  pool-wide reading that succeeded (``backlog``, ``calls``, ...);
- ``fleetscale_decisions_total{direction}``: decisions by direction (up, hold, down);
- ``fleetscale_source_errors_total{source}``: cycles in which a source failed to read;
- ``fleetscale_scale_actions_total{action}``: what the plans of acted (not dry-run) cycles did:
  ``launch`` (instances launched), ``begin_drain``, ``cancel_drain``, ``terminate`` (instances);
- ``fleetscale_cycle_duration_seconds``: a histogram of how long cycles took;
- ``fleetscale_cycle_errors_total``, ``fleetscale_cycles_total``,
  ``fleetscale_last_cycle_timestamp_seconds``.

``docs/grafana/fleetscale.json`` is a Grafana dashboard of these series
(``tests/unit/test_grafana_dashboard.py`` checks that every series it queries is exported here).

Each controller process serves its own registry (not the global one) on
``journal.metrics_port``: ``serve(port)`` returns the sink with its HTTP server running.
"""

from __future__ import annotations

from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from pydantic import BaseModel, ConfigDict, Field

from fleetscale.errors import JournalError
from fleetscale.journal.record import CycleRecord
from fleetscale.model import InstanceState

log = structlog.get_logger(__name__)
#: seconds: a cycle is a few reads and writes; a slow source or cloud API shows past 1 s
DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    port: int = Field(ge=0, le=65535)
    addr: str = "0.0.0.0"


class MetricsSink:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.desired = Gauge("fleetscale_desired_units", "Desired capacity (units)", ["pool"], registry=r)
        self.current = Gauge("fleetscale_current_units", "Capacity when deciding (units)", ["pool"],
                             registry=r)
        self.instances = Gauge("fleetscale_instances", "Instances by state", ["pool", "state"], registry=r)
        self.load = Gauge("fleetscale_load", "Pool-wide load reading", ["pool"], registry=r)
        self.observation = Gauge("fleetscale_observation", "Pool-wide readings by metric",
                                 ["pool", "metric"], registry=r)
        self.decisions = Counter("fleetscale_decisions", "Decisions by direction", ["pool", "direction"],
                                 registry=r)
        self.source_errors = Counter("fleetscale_source_errors", "Cycles in which a source failed",
                                     ["pool", "source"], registry=r)
        self.cycle_errors = Counter("fleetscale_cycle_errors", "Errors recorded by cycles", ["pool"],
                                    registry=r)
        self.cycles = Counter("fleetscale_cycles", "Cycles recorded", ["pool"], registry=r)
        self.actions = Counter("fleetscale_scale_actions", "Instances launched, drained, drain-cancelled "
                               "or terminated by acted plans", ["pool", "action"], registry=r)
        self.duration = Histogram("fleetscale_cycle_duration_seconds", "How long a cycle took", ["pool"],
                                  buckets=DURATION_BUCKETS, registry=r)
        self.last_cycle = Gauge("fleetscale_last_cycle_timestamp_seconds",
                                "End of the last cycle (unix time)", ["pool"], registry=r)
        self._server: Any = None
        self._thread: Any = None

    @property
    def port(self) -> int | None:
        return int(self._server.server_port) if self._server is not None else None

    def record(self, cycle: CycleRecord) -> None:
        try:
            self._update(cycle)
        except Exception as exc:  # metrics must never break a cycle
            log.warning("metrics_sink_failed", pool=cycle.pool, error=f"{type(exc).__name__}: {exc}")

    def _update(self, cycle: CycleRecord) -> None:
        pool = cycle.pool
        self.cycles.labels(pool).inc()
        self.last_cycle.labels(pool).set(cycle.finished_at.timestamp())
        self.duration.labels(pool).observe(max(0.0, (cycle.finished_at - cycle.started_at).total_seconds()))
        plan = cycle.plan
        if plan is not None and not cycle.dry_run:
            counts = {"launch": sum(x.count for x in plan.launch), "begin_drain": len(plan.begin_drain),
                      "cancel_drain": len(plan.cancel_drain), "terminate": len(plan.terminate)}
            for action, n in counts.items():
                self.actions.labels(pool, action).inc(n)
        for state in InstanceState:
            self.instances.labels(pool, state.value).set(sum(1 for i in cycle.instances if i.state is state))
        if cycle.decision is not None:
            self.desired.labels(pool).set(cycle.decision.desired)
            self.current.labels(pool).set(cycle.decision.current)
            self.decisions.labels(pool, cycle.decision.direction.value).inc()
        for source in sorted({o.source for o in cycle.observations if not o.ok}):
            self.source_errors.labels(pool, source).inc()
        for obs in cycle.observations:
            if obs.ok and obs.instance_id is None and obs.value is not None:
                self.observation.labels(pool, obs.metric).set(obs.value)
                if obs.metric == "load":
                    self.load.labels(pool).set(obs.value)
        if cycle.errors:
            self.cycle_errors.labels(pool).inc(len(cycle.errors))

    def serve(self, port: int, addr: str = "0.0.0.0") -> MetricsSink:
        try:
            self._server, self._thread = start_http_server(port, addr=addr, registry=self.registry)
        except OSError as exc:  # the port is taken, or not ours to bind
            raise JournalError(f"journal.metrics_port: cannot serve metrics on {addr}:{port}: "
                               f"{exc.strerror or exc}") from exc
        log.info("metrics_serving", addr=addr, port=self.port)
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def serve(port: int, addr: str = "0.0.0.0") -> MetricsSink:
    """A metrics sink with its own registry, serving ``/metrics`` on ``addr:port``."""
    return MetricsSink().serve(port, addr)


def build(settings: Settings, ctx: Any) -> MetricsSink:
    return serve(settings.port, settings.addr)
