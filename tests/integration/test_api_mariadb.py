"""The API over a MariaDB journal filled by real cycles: the same answers as on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fleetscale.api import catalogue
from fleetscale.api.app import Serving, build_app
from fleetscale.api.auth import Tokens
from fleetscale.api.views import ReadModel
from fleetscale.journal.sql import SqlJournal
from tests.unit.api_kit import LOADS, TOKEN
from tests.unit.controller_kit import kit, pool_config

pytestmark = pytest.mark.integration


def test_api_on_mariadb(mysql_server, mysql_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = mysql_server.url(mysql_db)
    journal = SqlJournal(url)
    pool = pool_config(min=1, max=10, policies=[{"kind": "target", "target": 1}])
    k = kit(tmp_path, pool=pool, journal=journal)
    other = kit(tmp_path, pool=pool_config(name="api", max=3), journal=journal, clock=k.clock)
    engine = sa.create_engine(url)
    model = ReadModel(engine)
    catalogue.publish(engine, [catalogue.PoolSpec.of(pool)], k.clock.now())
    client = TestClient(build_app(Serving(model, Tokens(write=TOKEN.encode()), writable=True,
                                          cycles_done=lambda: 1, now=k.clock.now)))
    try:
        for load in LOADS:
            k.source.value = load
            k.runner.cycle()
            other.runner.cycle()
            k.clock.advance(60)
        assert [p["name"] for p in client.get("/api/pools").json()["pools"]] == ["api", "web"]
        s = client.get("/api/pools/web/series").json()
        assert s["ready"] == [0, 2, 2, 6, 6, 6, 6, 3, 3, 1, 1]
        assert len(client.get("/api/pools/web/series", params={"since": "5m"}).json()["t"]) == 5
        page = client.get("/api/pools/web/decisions", params={"limit": 4}).json()
        older = client.get("/api/pools/web/decisions",
                           params={"limit": 50, "before": page["next_before"]}).json()
        # one entry per journal row: a run of identical cycles is one entry, as in explain
        assert len(page["decisions"]) + len(older["decisions"]) == len(journal.spans("web", 100))
        r = client.post("/api/pools/web/hold", json={"units": 4, "until": "+1h", "reason": "db test"},
                        headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200 and r.json()["held"]["units"] == 4
        assert journal.operator("web", k.clock.now()).override is not None
        instances = client.get("/api/pools/web/instances").json()["instances"]
        assert [i["id"] for i in instances] == [i.id for i in k.saved().instances]  # the state value
        assert client.get("/api/pools/nope").status_code == 404
        with engine.connect() as conn:  # the series reads by time through its index
            names = {i["name"] for i in sa.inspect(conn).get_indexes("fs_cycles")}
        assert "ix_fs_cycles_pool_started" in names
    finally:
        engine.dispose()
        journal.close()
