"""No secret of the configuration, the tokens or the journal ever appears in an API response."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from fleetscale import config
from fleetscale.api import catalogue
from fleetscale.api.app import Serving, build_app
from fleetscale.api.auth import load_tokens
from fleetscale.api.views import ReadModel
from fleetscale.app import build_controller, runner_for
from fleetscale.errors import SourceError
from fleetscale.journal.sql import SqlJournal
from fleetscale.journal.state_store import SqlStateStore
from fleetscale.model import Observation
from fleetscale.sim.clock import SimClock
from fleetscale.sim.provider import SimulatedProvider

SECRETS = ("es-pass-s3cret", "es-url-s3cret", "hunter2-db-pass", "write-tok-s3cret", "read-tok-s3cret")


class LeakySource:
    """A real Source whose failures carry a URL with a password (as a careless driver's would)."""

    metric = "load"

    def read(self, pool: str, now: datetime) -> list[Observation]:
        raise SourceError("cannot reach mysql+pymysql://fleet:hunter2-db-pass@db.internal/kamailio")


def _document(tmp_path: Path) -> dict[str, object]:
    (tmp_path / "tok").write_text("write-tok-s3cret\n")
    return {
        "pools": [{"name": "web", "max": 5, "interval": 60, "sources": [{"kind": "fixed", "value": 2}],
                   "provider": {"kind": "simulated", "boot_delay": 0}}],
        "journal": {"sql": f"sqlite:///{tmp_path / 'j.db'}", "log": False,
                    "sinks": [{"kind": "elasticsearch", "url": "http://elastic:es-url-s3cret@127.0.0.1:9",
                               "password": "es-pass-s3cret", "timeout": 0.5}]},
        "api": {"listen": "127.0.0.1:0", "token_file": str(tmp_path / "tok"), "read_token_env": "FS_READ"},
    }


def test_no_secret_in_any_response(tmp_path: Path) -> None:
    loaded = config.parse(_document(tmp_path))
    assert loaded.config.api is not None
    tokens = load_tokens(loaded.config.api, {"FS_READ": "read-tok-s3cret"})
    clock = SimClock()
    controller = build_controller(loaded, clock)
    try:
        for _ in range(3):
            controller.cycle()
            clock.advance(60)
        journal = next(j for j in controller.runners[0].journals if isinstance(j, SqlJournal))
        pool = config.PoolConfig.model_validate({"name": "db", "max": 3, "provider": {"kind": "simulated"}})
        provider = SimulatedProvider(clock, pool.types(), pool="db")
        leaky = runner_for(pool, sources=[LeakySource()], provider=provider, drainer=provider.drainer(),
                           journals=[journal], store=SqlStateStore(journal.engine), operator=journal,
                           clock=clock)
        for _ in range(2):
            record = leaky.cycle()
        assert "hunter2-db-pass" in " ".join(record.errors)  # the journal has it: the API must not show it
    finally:
        controller.close()
    model = ReadModel(sa.create_engine(loaded.config.journal.sql))
    catalogue.publish(model.engine, [catalogue.PoolSpec.of(p) for p in loaded.config.pools], clock.now())
    serving = Serving(model, tokens, writable=True, cycles_done=lambda: 3, now=clock.now)
    client = TestClient(build_app(serving))
    read = {"Authorization": "Bearer read-tok-s3cret"}
    write = {"Authorization": "Bearer write-tok-s3cret"}
    responses = [client.get(p, headers=read) for p in (
        "/", "/static/index.html", "/static/dashboard.js", "/static/dashboard.css",
        "/vendor/uPlot.iife.min.js",
        "/api/openapi.json", "/api/pools", "/healthz", "/readyz", "/api/pools/nope")]
    for name in ("web", "db"):
        responses += [client.get(f"/api/pools/{name}{p}", headers=read) for p in (
            "", "/instances", "/decisions?limit=500", "/series?since=1d")]
        responses += [client.post(f"/api/pools/{name}/pause", json={"reason": "r"}, headers=write),
                      client.post(f"/api/pools/{name}/hold", json={"units": 1, "until": "+1h", "reason": "r"},
                                  headers=write),
                      client.post(f"/api/pools/{name}/hold", json={"units": 99, "until": "x", "reason": "r"},
                                  headers=write),
                      client.post(f"/api/pools/{name}/resume", headers=write),
                      client.post(f"/api/pools/{name}/pause", json={"reason": "r"}, headers=read),
                      client.post(f"/api/pools/{name}/pause", json={"reason": "r"})]
    assert all(r.status_code < 500 for r in responses)
    errors = client.get("/api/pools/db", headers=read).json()["pool"]["errors"]
    assert errors and "fleet:***@db.internal" in errors[0]
    for r in responses:
        text = r.text + " ".join(f"{k}: {v}" for k, v in r.headers.items())
        for secret in SECRETS:
            assert secret not in text, f"{secret} in {r.request.method} {r.request.url}"
