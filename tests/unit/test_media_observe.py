"""Observations built from a pool's gateway entries (pure), and adapter settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from fleetscale.drainers import media_redis as drainer_module
from fleetscale.media.gateway import Gateway
from fleetscale.media.observe import observations
from fleetscale.media.registry import PoolView
from fleetscale.sources import media_redis as source_module

AT = datetime(2026, 1, 1, tzinfo=UTC)
GATEWAYS = (
    Gateway("g1", "ready", 10, "127.0.0.1", "i-1", rooms=4, participants=30),
    Gateway("g2", "draining", None, "127.0.0.2", None, rooms=2, participants=5),
    Gateway("g3", "pending", None, None, None, rooms=0, participants=0),
)


def by_name(obs: list, instance: str | None = None) -> dict[str, float | None]:
    return {o.metric: o.value for o in obs if o.instance_id == instance}


class TestObservations:
    """Load counts every registered gateway's rooms; capacity only ready gateways."""

    def test_rooms_basis(self) -> None:
        obs = observations(PoolView(GATEWAYS), source="media_redis", at=AT, metric="load", basis="rooms",
                           default_capacity=8)
        assert by_name(obs) == {"load": 6.0, "rooms": 6.0, "capacity": 10.0}
        assert by_name(obs, "i-1") == {"sessions": 4.0, "registered": 1.0}
        assert by_name(obs, "127.0.0.2") == {"sessions": 2.0, "registered": 1.0}
        assert by_name(obs, "g3") == {"sessions": 0.0, "registered": 0.0}

    def test_participants_basis_and_metric_name(self) -> None:
        obs = observations(PoolView(GATEWAYS), source="s", at=AT, metric="people", basis="participants",
                           default_capacity=8)
        assert by_name(obs) == {"people": 35.0, "rooms": 6.0, "capacity": 10.0, "participants": 35.0}

    def test_bad_data_turns_pool_readings_into_errors(self) -> None:
        view = PoolView(GATEWAYS, problems=("gateway 'g4': capacity is not an integer (got 'x')",))
        obs = observations(view, source="s", at=AT, metric="load", basis="rooms", default_capacity=8)
        pool = [o for o in obs if o.instance_id is None]
        assert {o.metric for o in pool} == {"load", "rooms", "capacity"}
        assert all(not o.ok and "capacity is not an integer" in (o.error or "") for o in pool)
        assert by_name(obs, "i-1")["sessions"] == 4.0  # good gateways still report for victim choice


class TestSettings:
    """Adapter options are checked at the boundary."""

    def test_defaults(self) -> None:
        s = source_module.Settings()
        assert (s.prefix, s.load, s.metric) == ("fleetscale:media:{pool}:", "rooms", "load")
        d = drainer_module.Settings()
        assert (d.register_instances, d.unknown_gateways, d.unknown_grace) == (True, "remove", 120.0)

    @pytest.mark.parametrize(
        ("options", "field"),
        [({"prefix": "fleetscale:media:"}, "prefix"), ({"load": "calls"}, "load"),
         ({"rooms_per_gateway": 0}, "rooms_per_gateway"), ({"hostname": "x"}, "hostname")],
        ids=["prefix-without-pool", "unknown-basis", "zero-capacity", "unknown-option"],
    )
    def test_bad_options(self, options: dict, field: str) -> None:
        with pytest.raises(ValidationError) as err:
            source_module.Settings.model_validate(options)
        assert err.value.errors()[0]["loc"] == (field,)

    def test_url_is_secret(self) -> None:
        s = source_module.Settings(url="redis://:hunter2@127.0.0.1:6379/0")
        assert "hunter2" not in repr(s) and "hunter2" not in str(s.model_dump())
