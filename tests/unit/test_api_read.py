"""The API's read endpoints answer from the journal of real cycles (a simulated pool)."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from fleetscale.api import catalogue, views
from fleetscale.api.catalogue import PoolSpec
from fleetscale.coordination.history import OwnershipLog
from fleetscale.coordination.replica import ChangeKind, OwnershipChange
from fleetscale.model import Instance
from tests.unit.api_kit import TOKEN, ApiKit, api_kit
from tests.unit.controller_kit import kit, pool_config


@pytest.fixture
def ak(tmp_path: Path) -> ApiKit:
    return api_kit(tmp_path)


def _last(ak: ApiKit) -> dict[str, Any]:
    return ak.kit.journal.cycles(ak.pool, 1)[-1]


class TestPools:
    """GET /api/pools and /api/pools/{pool} show the last cycle's picture."""

    def test_list_matches_last_cycle(self, ak: ApiKit) -> None:
        body = ak.get("/api/pools").json()
        assert [p["name"] for p in body["pools"]] == ["web"]
        p = body["pools"][0]
        rec = _last(ak)
        # the fleet as the state value holds it: after the last cycle acted
        states = [i.state.value for i in ak.kit.saved().instances]
        assert (p["ready"], p["booting"], p["draining"]) == (
            states.count("ready"), states.count("pending"), states.count("draining"))
        assert p["desired"] == rec["decision"]["desired"]
        assert p["reason"] == rec["decision"]["reason"]
        assert p["direction"] == rec["decision"]["direction"]
        assert p["load"] == 1.0 and p["demanded"] == 1
        assert p["as_of"] == rec["started_at"]
        assert (p["min"], p["max"], p["unit_capacity"], p["provider"]) == (1, 10, 1.0, "simulated")
        assert p["paused"] == [] and p["held"] is None and p["errors"] == [] and p["owner"] is None
        assert p["owner_token"] is None

    def test_many_pools_listed_as_each_is_shown(self, ak: ApiKit, tmp_path: Path) -> None:
        """The list (a few queries for all pools) says what each pool's own endpoint says."""
        for name in ("alpha", "zeta"):
            other = kit(tmp_path, load=3.0, pool=pool_config(name=name), journal=ak.kit.journal,
                        clock=ak.kit.clock)
            other.runner.cycle()
        catalogue.publish(ak.model.engine, [PoolSpec("idle", 0, 4, 1.0, 60.0, "simulated", False)],
                          ak.kit.clock.now())
        ak.kit.journal.hold("zeta", 2, ak.kit.clock.now() + timedelta(hours=1), ak.kit.clock.now())
        ak.kit.journal.pause("alpha", ak.kit.clock.now())
        listed = ak.get("/api/pools").json()["pools"]
        assert [p["name"] for p in listed] == ["alpha", "idle", "web", "zeta"]
        for p in listed:
            assert p == ak.get(f"/api/pools/{p['name']}").json()["pool"]
        by_name = {p["name"]: p for p in listed}
        assert by_name["zeta"]["held"]["units"] == 2 and by_name["alpha"]["paused"] == ["down", "up"]
        assert by_name["idle"]["as_of"] is None and by_name["alpha"]["desired"] == 3

    def test_owner_from_the_ownership_journal(self, ak: ApiKit) -> None:
        """With coordinated replicas, the pool shows the replica holding it and its token."""
        log = OwnershipLog(ak.model.engine)
        assert ak.get("/api/pools/web").json()["pool"]["owner"] is None
        for replica, kind, token in [("r1", ChangeKind.ACQUIRED, 1), ("r1", ChangeKind.LOST, 1),
                                     ("r2", ChangeKind.ACQUIRED, 2)]:
            log.record([OwnershipChange("web", replica, kind, token, "test")])
        log.record([OwnershipChange("other", "r1", ChangeKind.ACQUIRED, 3, "test")])
        p = ak.get("/api/pools/web").json()["pool"]
        assert (p["owner"], p["owner_token"]) == ("r2", 2)
        assert ak.get("/api/pools").json()["pools"][0]["owner"] == "r2"
        log.record([OwnershipChange("web", "r2", ChangeKind.RELEASED, 2, "rebalance")])
        p = ak.get("/api/pools/web").json()["pool"]
        assert (p["owner"], p["owner_token"]) == (None, None)

    def test_one_pool(self, ak: ApiKit) -> None:
        body = ak.get("/api/pools/web").json()
        assert body["pool"] == ak.get("/api/pools").json()["pools"][0]
        assert body["operator_actions"] == []

    def test_errors_of_the_last_cycle(self, ak: ApiKit) -> None:
        ak.kit.provider.list = _raise  # type: ignore[method-assign]
        ak.step([1.0])
        p = ak.get("/api/pools/web").json()["pool"]
        assert p["errors"] == ["provider list failed: ProviderError: cloud down; holding"]
        assert p["direction"] is None

    def test_published_pool_without_cycles(self, tmp_path: Path) -> None:
        ak = api_kit(tmp_path, loads=())
        p = ak.get("/api/pools/web").json()["pool"]
        assert p["as_of"] is None and p["desired"] is None and p["ready"] == 0
        assert ak.get("/api/pools/web/instances").json()["instances"] == []

    def test_journal_only_pool_without_catalogue(self, tmp_path: Path) -> None:
        """``serve`` on a journal whose controller published nothing still lists its pools."""
        ak = api_kit(tmp_path, publish=False)
        p = ak.get("/api/pools").json()["pools"][0]
        assert p["name"] == "web" and p["demanded"] is None and p["max"] is None


def _raise() -> tuple[Instance, ...]:
    from fleetscale.errors import ProviderError

    raise ProviderError("cloud down")


class TestInstances:
    """GET /api/pools/{pool}/instances is the fleet of the last cycle, with sessions of drains."""

    def test_matches_the_state_value(self, ak: ApiKit) -> None:
        """The instances are the pool's saved FleetState (as the last cycle left it)."""
        body = ak.get("/api/pools/web/instances").json()
        rec = _last(ak)
        assert [(i["id"], i["state"]) for i in body["instances"]] == [
            (i.id, i.state.value) for i in ak.kit.saved().instances]
        assert body["as_of"] == rec["started_at"]

    def test_sessions_age_address(self, tmp_path: Path) -> None:
        ak = api_kit(tmp_path, loads=(6.0, 6.0, 6.0, 3.0, 3.0))  # drains begun in the 4th cycle
        rows = {i["id"]: i for i in ak.get("/api/pools/web/instances").json()["instances"]}
        draining = [i for i in rows.values() if i["state"] == "draining"]
        assert draining and all(i["sessions"] == 5 for i in draining)  # 10 per unit, half drained
        assert all(i["sessions"] is None for i in rows.values() if i["state"] == "ready")
        first = rows["sim-00001"]
        assert first["age_seconds"] == 4 * 60.0 and first["launched_at"] == "2026-01-05T00:00:00+00:00"
        assert first["address"] == "sim-00001.sim.invalid" and first["type"] == "default"


class TestDecisions:
    """GET /api/pools/{pool}/decisions pages through the journal, newest first."""

    def test_pages_cover_every_entry_once(self, ak: ApiKit) -> None:
        """Pages cover every journal entry once (a run of identical cycles is one entry, as
        in ``explain``)."""
        seen: list[int] = []
        before = None
        for _ in range(20):
            params = {"limit": 3} | ({"before": before} if before else {})
            page = ak.get("/api/pools/web/decisions", params=params).json()
            seen += [d["id"] for d in page["decisions"]]
            before = page["next_before"]
            if before is None:
                break
        assert len(seen) == len(set(seen)) == len(ak.kit.journal.spans("web", 100))
        assert seen == sorted(seen, reverse=True)

    def test_reasons_proposals_steps(self, tmp_path: Path) -> None:
        pool = pool_config(min=1, governor={"down": {"hysteresis": 3, "stabilisation": 0}})
        k = kit(tmp_path, load=5.0, pool=pool)
        k.step(2)
        k.source.value = 1.0
        k.step(1)
        d = views.ReadModel(k.journal.engine).decisions("web", 1, None).decisions[0]
        assert d.direction == "hold" and d.reason and "hysteresis" in " ".join(d.steps)
        assert d.proposals[0].policy == "target" and d.proposals[0].desired == 1
        assert d.plan == "nothing to do"

    def test_plan_and_outcome(self, ak: ApiKit) -> None:
        decisions = ak.get("/api/pools/web/decisions", params={"limit": 50}).json()["decisions"]
        up = next(d for d in decisions if d["direction"] == "up" and d["desired"] == 6)
        assert up["plan"] == "launch 4 x default"
        assert up["outcome"][0].startswith("launched 4 x default: ")


class TestSeries:
    """GET /api/pools/{pool}/series: per cycle load, demanded, ready, provisioned; scalings marked."""

    def test_columns_per_cycle(self, ak: ApiKit) -> None:
        s = ak.get("/api/pools/web/series").json()
        assert s["load"] == [2.0, 2.0, 6.0, 6.0, 6.0, 6.0, 3.0, 3.0, 1.0, 1.0, 1.0]
        assert s["demanded"] == [2, 2, 6, 6, 6, 6, 3, 3, 1, 1, 1]
        assert s["ready"] == [0, 2, 2, 6, 6, 6, 6, 3, 3, 1, 1]
        assert s["provisioned"] == [0, 2, 2, 6, 6, 6, 6, 6, 6, 3, 3]
        assert len(s["t"]) == 11 and s["t"] == sorted(s["t"]) and s["stride"] == 1
        assert [(m["direction"], m["current"], m["desired"]) for m in s["markers"]] == [
            ("up", 0, 2), ("up", 2, 6), ("down", 6, 3), ("down", 3, 1)]
        assert s["markers"][2]["reason"].startswith("down 6 -> 3: target: load 3")

    @pytest.mark.parametrize("since, n", [("5m", 5), ("2026-01-05T00:08:00Z", 3),
                                          ("2026-01-05T00:08:00+00:00", 3), ("1h", 11)],
                             ids=["duration", "iso-z", "iso-offset", "all"])
    def test_since(self, ak: ApiKit, since: str, n: int) -> None:
        assert len(ak.get("/api/pools/web/series", params={"since": since}).json()["t"]) == n

    def test_default_window_is_three_hours(self, ak: ApiKit) -> None:
        ak.kit.clock.advance(3 * 3600 - 5 * 60)  # only the last ~5 cycles are inside 3 h
        assert len(ak.get("/api/pools/web/series").json()["t"]) == 5

    def test_thinning_keeps_every_scaling(self, tmp_path: Path) -> None:
        loads = [2.0] * 30 + [6.0] * 30 + [3.0] * 30
        ak = api_kit(tmp_path, loads=loads)
        s = ak.get("/api/pools/web/series", params={"max_points": 10}).json()
        full = ak.get("/api/pools/web/series").json()
        # thinning works on journal rows (a run of identical cycles is one row, shown whole)
        rows = len(ak.kit.journal.spans("web", 1000))
        assert s["stride"] == max(1, -(-rows // 10)) and len(s["t"]) <= len(full["t"])
        assert s["markers"] == full["markers"] and len(full["t"]) == 90


class TestBadInput:
    """A bad query value is a 422 naming the field; an unknown pool is a 404 on every endpoint."""

    @pytest.mark.parametrize("path, params, field", [
        ("decisions", {"limit": 0}, "limit"),
        ("decisions", {"limit": "many"}, "limit"),
        ("decisions", {"limit": 501}, "limit"),
        ("decisions", {"before": -3}, "before"),
        ("series", {"since": "yesterday"}, "since"),
        ("series", {"since": "2026-01-05T00:08:00"}, "since"),
        ("series", {"max_points": 1}, "max_points"),
    ], ids=["limit-0", "limit-text", "limit-big", "before-negative", "since-text", "since-no-zone", "points"])
    def test_422_names_the_field(self, ak: ApiKit, path: str, params: dict[str, object], field: str) -> None:
        r = ak.get(f"/api/pools/web/{path}", params=params)
        assert r.status_code == 422
        body = r.json()
        assert body["field"] == field and body["error"].startswith(f"{field}: ")
        assert "(got " in body["error"]

    @pytest.mark.parametrize("path", ["", "/instances", "/decisions", "/series"])
    def test_unknown_pool(self, ak: ApiKit, path: str) -> None:
        r = ak.get(f"/api/pools/nope{path}")
        assert r.status_code == 404
        assert r.json() == {"error": "pool: no pool named 'nope' (have: web)", "field": "pool"}


class TestHealth:
    """/healthz answers while the process lives; /readyz when the journal answers and a cycle ran."""

    def test_healthz(self, ak: ApiKit) -> None:
        assert ak.get("/healthz").json() == {"ok": True}

    def test_ready_after_cycles(self, ak: ApiKit) -> None:
        r = ak.get("/readyz")
        assert r.status_code == 200
        assert r.json() == {"ready": True, "journal": "ok", "cycles": 11, "why": None}

    def test_not_ready_before_a_cycle(self, tmp_path: Path) -> None:
        r = api_kit(tmp_path, loads=()).get("/readyz")
        assert r.status_code == 503 and r.json()["why"] == "the controller has not completed a cycle yet"

    def test_not_ready_while_the_controller_cannot_write(self, tmp_path: Path) -> None:
        failing = {"web": "journal: record failed: disk full"}
        ak = api_kit(tmp_path, journal_errors=lambda: failing)
        r = ak.get("/readyz")
        assert r.status_code == 503
        assert r.json()["why"] == ("the controller cannot write its journal: pool web: "
                                   "journal: record failed: disk full")
        failing.clear()
        assert ak.get("/readyz").status_code == 200

    def test_not_ready_when_the_journal_is_away(self, ak: ApiKit) -> None:
        ak.model.engine = sa.create_engine("mysql+pymysql://fleetscale@127.0.0.1:1/none",
                                           connect_args={"connect_timeout": 2})
        r = ak.get("/readyz")
        assert r.status_code == 503
        assert r.json()["ready"] is False
        assert r.json()["journal"].startswith("unavailable: journal: ping failed")
        r = ak.get("/api/pools")
        assert r.status_code == 503 and r.json()["error"].startswith("journal unavailable: ")


class TestSchema:
    """The OpenAPI schema lists every endpoint; the dashboard and its files are served."""

    def test_openapi(self, ak: ApiKit) -> None:
        schema = ak.get("/api/openapi.json").json()
        assert set(schema["paths"]) == {
            "/api/pools", "/api/pools/{pool}", "/api/pools/{pool}/instances", "/api/pools/{pool}/decisions",
            "/api/pools/{pool}/series", "/api/pools/{pool}/pause", "/api/pools/{pool}/resume",
            "/api/pools/{pool}/hold", "/healthz", "/readyz"}
        assert "HTTPBearer" in schema["components"]["securitySchemes"]

    @pytest.mark.parametrize("path, kind", [("/", "text/html"), ("/static/dashboard.js", "javascript"),
                                            ("/static/dashboard.css", "text/css"),
                                            ("/vendor/uPlot.iife.min.js", "javascript"),
                                            ("/vendor/uPlot.min.css", "text/css")])
    def test_dashboard_files(self, ak: ApiKit, path: str, kind: str) -> None:
        r = ak.get(path)
        assert r.status_code == 200 and kind in r.headers["content-type"]
        assert "default-src 'self'" in r.headers["content-security-policy"]


def test_demanded_units() -> None:
    """demanded = max(min, ceil(load / capacity)), as the simulator scores it."""
    spec = PoolSpec("p", 2, 9, 10.0, 60.0, "simulated", False)
    assert [views.demanded(x, spec) for x in (None, 0.0, 10.0, 10.000000001, 31.0)] == [None, 2, 2, 2, 4]
    assert views.demanded(5.0, None) is None


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -5.0, 1e300],
                         ids=["nan", "inf", "-inf", "negative", "absurd"])
def test_garbage_readings_in_the_journal_are_served_as_valid_json(tmp_path: Path, bad: float) -> None:
    """Cycles that saw a garbage reading (recorded as an error, no value) or an absurd finite
    one (recorded as it came) read back on every endpoint as valid JSON: no NaN or Infinity,
    which JSON does not have and a strict encoder would turn into a failed request."""
    ak = api_kit(tmp_path)
    ak.step([bad, bad])
    (seen,) = _last(ak)["observations"]
    if bad == 1e300:
        assert seen["value"] == bad and seen["error"] is None
    else:
        assert seen["value"] is None and "garbage reading" in seen["error"]
    for path in ("/api/pools", f"/api/pools/{ak.pool}", f"/api/pools/{ak.pool}/instances",
                 f"/api/pools/{ak.pool}/decisions", f"/api/pools/{ak.pool}/series"):
        r = ak.get(path, TOKEN)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        constants: list[str] = []
        json.loads(r.text, parse_constant=constants.append)
        assert constants == [], f"{path} sent {constants}"
