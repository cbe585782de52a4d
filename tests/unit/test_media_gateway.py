"""Parsing gateway entries and the key schema (pure)."""

from __future__ import annotations

import pytest

from fleetscale.errors import ConfigError
from fleetscale.media.gateway import BadGatewayData, parse_gateway
from fleetscale.media.keys import KeySchema, render_prefix


class TestKeySchema:
    """Every key of a pool sits under its rendered prefix."""

    def test_default_prefix(self) -> None:
        k = KeySchema.for_pool("conf")
        assert k.index == "fleetscale:media:conf:gateways"
        assert k.gateway("g1") == "fleetscale:media:conf:gw:g1"
        assert k.gateway_rooms("g1") == "fleetscale:media:conf:gw:g1:rooms"
        assert (k.assignments, k.participants, k.clock) == (
            "fleetscale:media:conf:rooms", "fleetscale:media:conf:participants",
            "fleetscale:media:conf:clock")

    def test_cluster_hash_tag(self) -> None:
        assert render_prefix("fleetscale:media:{{pool}}:", "conf") == "fleetscale:media:{conf}:"

    def test_prefix_must_name_pool(self) -> None:
        with pytest.raises(ConfigError, match=r"prefix: must contain \{pool\}"):
            render_prefix("fleetscale:media:", "conf")


class TestParseGateway:
    """A gateway hash parses strictly; anything off the schema names the field and value."""

    def test_full_entry(self) -> None:
        gw = parse_gateway("g1", {"state": "draining", "capacity": "40", "address": "127.0.0.5",
                                  "instance_id": "i-7", "state_seq": "12", "unknown_since": "1700.5"}, 3, 9)
        assert (gw.state, gw.capacity, gw.address, gw.instance_id, gw.rooms, gw.participants) == (
            "draining", 40, "127.0.0.5", "i-7", 3, 9)
        assert (gw.state_seq, gw.unknown_since, gw.key) == (12, 1700.5, "i-7")

    def test_key_falls_back_to_address_then_id(self) -> None:
        assert parse_gateway("g1", {"state": "ready", "address": "127.0.0.5"}, 0).key == "127.0.0.5"
        assert parse_gateway("g1", {"state": "ready"}, 0).key == "g1"

    def test_missing_capacity_uses_default(self) -> None:
        gw = parse_gateway("g1", {"state": "ready"}, 0)
        assert gw.capacity is None and gw.capacity_or(25) == 25

    @pytest.mark.parametrize(
        ("gateway_id", "fields", "rooms", "message"),
        [
            ("g1", {"state": "up"}, 0, "state must be one of draining, pending, ready (got 'up')"),
            ("g1", {}, 0, "hash is missing"),
            ("g1", {"capacity": "5"}, 0, "got None"),
            ("g1", {"state": "ready", "capacity": "lots"}, 0, "capacity is not an integer (got 'lots')"),
            ("g1", {"state": "ready", "capacity": "-1"}, 0, "capacity must be >= 0 (got '-1')"),
            ("g1", {"state": "ready", "unknown_since": "nan"}, 0, "unknown_since is not finite"),
            ("g 1", {"state": "ready"}, 0, "has spaces"),
            ("", {"state": "ready"}, 0, "empty"),
            ("g1", {"state": "ready"}, -1, "negative count"),
        ],
        ids=["bad-state", "no-hash", "no-state", "capacity-text", "capacity-negative", "nan", "space-id",
             "empty-id", "negative-rooms"],
    )
    def test_garbage_is_rejected(self, gateway_id: str, fields: dict[str, str], rooms: int,
                                 message: str) -> None:
        with pytest.raises(BadGatewayData, match=message.replace("(", r"\(").replace(")", r"\)")):
            parse_gateway(gateway_id, fields, rooms)
