"""journal.metrics_port serves the controller's Prometheus metrics."""

from __future__ import annotations

import httpx

from fleetscale import config
from fleetscale.app import build_controller
from fleetscale.sim.clock import SimClock
from tests.fixtures.services import free_port


def test_metrics_port_serves_pool_series(tmp_path):
    port = free_port()
    loaded = config.parse({
        "pools": [{"name": "web", "max": 5, "sources": [{"kind": "fixed", "value": 3}],
                   "provider": {"kind": "simulated", "boot_delay": 0}}],
        "journal": {"sql": f"sqlite:///{tmp_path}/j.db", "metrics_port": port, "log": False},
    })
    controller = build_controller(loaded, SimClock())
    try:
        controller.cycle()
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        controller.close()
    lines = [line for line in body.splitlines() if line.startswith("fleetscale_") and 'pool="web"' in line]
    assert lines, body[:500]
    assert any("desired" in line for line in lines)
