"""The seed gateway Scaler's JSON becomes a fleetscale document; bad seeds name the field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleetscale.compat.gateway_config import seed_to_document
from fleetscale.errors import ConfigError
from fleetscale.kamailio.address import address_of, contact_address, destination

SEED: dict[str, Any] = {
    "gw_name_prefix": "gw-",
    "sip_db": {"host": "127.0.0.1", "root_password": "secret"},
    "cpu_per_gw": 4,
    "auto_scale_threshold": {
        "00:00:00": {"unlockedMin": 2, "loadMax": 0.7},
        "08:00:00": {"unlockedMin": 10, "loadMax": 0.75},
    },
}


class TestTranslation:
    """The seed's four keys are enough; each maps to one pool option."""

    def test_seed_as_is(self) -> None:
        doc = seed_to_document(SEED)
        (pool,) = doc["pools"]
        assert pool["unit_capacity"] == 4 * 10.0
        assert pool["require_registration"] is True
        (policy,) = pool["policies"]
        assert policy["kind"] == "schedule"
        assert policy["auto_scale_threshold"] == SEED["auto_scale_threshold"]
        (source,) = pool["sources"]
        assert source["kind"] == "kamailio" and source["gw_prefix"] == "gw-"
        assert source["db"] == {"host": "127.0.0.1", "user": "root", "password": "secret",
                                "database": "kamailio"}
        assert source["rpc_url"] == "http://127.0.0.1:5060/RPC"
        assert pool["drainer"]["kind"] == "kamailio" and pool["drainer"]["db"] == source["db"]
        assert pool["provider"] == {"kind": "local", "name_prefix": "gw-"}

    def test_document_is_json(self) -> None:
        assert json.loads(json.dumps(seed_to_document(SEED))) == seed_to_document(SEED)

    def test_extras_merge_over_the_pool(self) -> None:
        seed = SEED | {"calls_per_cpu": 25, "max_gw": 12, "timezone": "Europe/Paris",
                       "rpc_url": "http://10.0.0.1:5060/RPC",
                       "fleetscale": {"interval": 30, "provider": {"kind": "ec2", "region": "eu-west-1"},
                                      "drainer": {"reload_budget": 3}}}
        (pool,) = seed_to_document(seed)["pools"]
        assert pool["unit_capacity"] == 100.0 and pool["max"] == 12 and pool["interval"] == 30
        assert pool["policies"][0]["timezone"] == "Europe/Paris"
        assert pool["provider"] == {"kind": "ec2", "region": "eu-west-1"}, "another kind replaces the spec"
        assert pool["drainer"]["reload_budget"] == 3 and pool["drainer"]["kind"] == "kamailio"
        assert pool["sources"][0]["rpc_url"] == "http://10.0.0.1:5060/RPC"

    def test_plain_password_and_database(self) -> None:
        seed = SEED | {"sip_db": {"host": "db", "port": 3307, "user": "kam", "password": "pw", "db": "k"}}
        db = seed_to_document(seed)["pools"][0]["sources"][0]["db"]
        assert db == {"host": "db", "port": 3307, "user": "kam", "password": "pw", "database": "k"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"cpu_per_gw": None}, "cpu_per_gw: must be a whole number >= 1 and <= 4096 (got None)"),
        ({"cpu_per_gw": 0}, "cpu_per_gw: must be a whole number >= 1 and <= 4096 (got 0)"),
        ({"gw_name_prefix": ""}, "gw_name_prefix: must be a non-empty string (got '')"),
        ({"auto_scale_threshold": {}}, "auto_scale_threshold: must be a non-empty mapping"),
        ({"sip_db": {"root_password": "x"}}, "sip_db.host: must be a host name or address (got None)"),
        ({"sip_db": "db"}, "sip_db: must be a mapping with host and root_password (got str)"),
        ({"sip_db": {"host": "h", "pwd": "x"}}, "sip_db.pwd: unknown key"),
        ({"calls_per_cpu": -1}, "calls_per_cpu: must be a number > 0 and at most 1e6 (got -1)"),
        ({"loadmax": 1}, "loadmax: not a key of the gateway Scaler configuration"),
        ({"fleetscale": []}, "fleetscale: must be a mapping of pool options (got list)"),
    ],
    ids=["cpu-missing-value", "cpu-zero", "prefix-empty", "thresholds-empty", "db-host-missing",
         "db-not-mapping", "db-unknown-key", "calls-negative", "unknown-key", "extras-not-mapping"],
)
def test_bad_seed_names_the_field(change: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        seed_to_document(SEED | change)
    assert any(line.startswith(expected) for line in info.value.problems), info.value.problems


def test_missing_keys_all_reported_and_no_secret_shown() -> None:
    with pytest.raises(ConfigError) as info:
        seed_to_document({"gw_name_prefix": "gw-", "sip_db": {"host": "h", "root_password": "hunter2",
                                                              "password": "hunter2"}})
    text = str(info.value)
    assert "cpu_per_gw: field required (got nothing)" in text
    assert "auto_scale_threshold: field required (got nothing)" in text
    assert "hunter2" not in text


@pytest.mark.parametrize(
    ("uri", "address"),
    [
        ("sip:gw1@127.0.0.1:5071", "127.0.0.1:5071"),
        ("sip:gw1@127.0.0.1:5071;transport=udp", "127.0.0.1:5071"),
        ("<sip:127.0.0.1:5072;transport=UDP>", "127.0.0.1:5072"),
        ("sip:gw@Example.COM", "example.com:5060"),
        ("sips:gw@example.com", "example.com:5061"),
        ("sip:gw@[2001:db8::1]:5080", "[2001:db8::1]:5080"),
        ("tel:+123", None),
        ("", None),
    ],
    ids=["aor", "params", "angle", "default-port", "sips", "ipv6", "not-sip", "empty"],
)
def test_address_of(uri: str, address: str | None) -> None:
    assert address_of(uri) == address


def test_received_wins_over_contact() -> None:
    assert contact_address("sip:gw1@10.0.0.5:5060", "sip:203.0.113.7:40000") == "203.0.113.7:40000"
    assert contact_address("sip:gw1@10.0.0.5:5060", None) == "10.0.0.5:5060"
    assert destination("127.0.0.1:5071") == "sip:127.0.0.1:5071"


class TestThroughTheConfigBoundary:
    """config.parse recognises the seed and the decision reads like the seed's rules."""

    def test_parse_and_decide(self) -> None:
        from datetime import UTC, datetime

        from fleetscale.config import parse
        from fleetscale.decide import Memory, compile_spec, decide
        from fleetscale.model import Instance, InstanceState, Observation, Snapshot

        loaded = parse(SEED)
        pool = loaded.config.pool("sip-gateways")
        assert pool.require_registration and pool.drainer.kind == "kamailio"
        assert loaded.source_settings(pool.name, 0).gateway_capacity == 40.0
        now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        gws = tuple(Instance(f"gw-{i}", "gateway", InstanceState.READY) for i in range(3))
        snap = Snapshot(pool.name, now, gws, (Observation("kamailio", "load", 100.0, now),))
        verdict = decide(snap, compile_spec(pool.decision_spec()), Memory())
        assert verdict.decision.desired == 10
        assert "unlockedMin 10" in verdict.decision.reason and "08:00" in verdict.decision.reason
        night = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
        snap = Snapshot(pool.name, night, gws, (Observation("kamailio", "load", 100.0, night),))
        verdict = decide(snap, compile_spec(pool.decision_spec()), Memory())
        assert verdict.decision.desired == 4, verdict.decision.reason  # ceil(100 / (0.7 x 40))

    def test_bad_threshold_names_its_path(self) -> None:
        from fleetscale.config import parse

        seed = SEED | {"auto_scale_threshold": {"08:00:00": {"unlockedMin": 1, "loadMax": 50}}}
        with pytest.raises(ConfigError) as info:
            parse(seed)
        assert any("auto_scale_threshold" in line and "loadMax" in line for line in info.value.problems), \
            info.value.problems
