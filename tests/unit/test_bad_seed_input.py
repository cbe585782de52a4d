"""The seed's JSON and DynoScaler's environment: errors name what the user wrote, not the
translated document's field (``max_gw``, not ``pools.0.max``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fleetscale.cli import main
from fleetscale.compat.dynoscaler_env import parse_env
from fleetscale.config import parse
from fleetscale.errors import ConfigError

Cap = pytest.CaptureFixture[str]

SEED: dict[str, Any] = {
    "gw_name_prefix": "gw-",
    "sip_db": {"host": "127.0.0.1", "root_password": "secret"},
    "cpu_per_gw": 4,
    "auto_scale_threshold": {"00:00:00": {"unlockedMin": 2, "loadMax": 0.7}},
}


def seed_problems(seed: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(seed)
    return info.value.problems


class TestSeedNames:
    """A bad value in the seed file is named by its seed key."""

    @pytest.mark.parametrize(
        ("change", "expected"),
        [
            ({"max_gw": 0}, "max_gw: Input should be greater than 0 (got 0)"),
            ({"max_gw": True}, "max_gw: Input should be a valid integer (got True)"),
            ({"max_gw": "ten"}, "max_gw: Input should be a valid integer (got ten)"),
            ({"sip_db": {"host": "h", "root_password": 1234}},
             "sip_db.root_password: Input should be a valid string (got ***)"),
            ({"sip_db": {"host": "h", "password": 1234}},
             "sip_db.password: Input should be a valid string (got ***)"),
            ({"sip_db": {"host": "h", "root_password": "x", "port": 0}},
             "sip_db.port: Input should be greater than or equal to 1 (got 0)"),
            ({"sip_db": {"host": "h", "root_password": "x", "db": ""}},
             "sip_db.db: String should have at least 1 character (got )"),
            ({"timezone": "Mars/Olympus"}, "auto_scale_threshold: timezone: unknown IANA time zone"),
            ({"auto_scale_threshold": {"08:00:00": {"loadMax": 11}}},
             "auto_scale_threshold.08:00:00: loadMax must be in (0, 10]"),
            ({"calls_per_cpu": 1e300}, "calls_per_cpu: must be a number > 0 and at most 1e6"),
            ({"pool": "no spaces allowed"}, "pool: String should match pattern"),
            ({"fleetscale": {"interval": 0.001}},
             "fleetscale.interval: Input should be greater than or equal to 0.1 (got 0.001)"),
            ({"fleetscale": {"drainer": {"reload_budget": 1000}}},
             "fleetscale.drainer.reload_budget: Input should be less than or equal to 120 (got 1000)"),
        ],
        ids=["max-gw-zero", "max-gw-bool", "max-gw-text", "root-password", "password", "port", "db",
             "timezone", "load-max", "calls-per-cpu", "pool-name", "extra-interval", "extra-drainer"],
    )
    def test_named_as_written(self, change: dict[str, Any], expected: str) -> None:
        lines = seed_problems(SEED | change)
        assert any(line.startswith(expected) for line in lines), lines
        assert not any(line.startswith("pools.") for line in lines), lines
        assert "1234" not in "\n".join(lines), "a secret is never shown"

    def test_each_problem_once(self) -> None:
        lines = seed_problems(SEED | {"sip_db": {"host": "h", "root_password": "x", "port": 0}})
        assert lines.count("sip_db.port: Input should be greater than or equal to 1 (got 0)") == 1


class TestSeedMissingPrefix:
    """A seed file without gw_name_prefix is still a seed file, told what it lacks."""

    def test_through_check(self, tmp_path: Path, capsys: Cap) -> None:
        seed = {k: v for k, v in SEED.items() if k != "gw_name_prefix"}
        p = tmp_path / "scaler.json"
        p.write_text(json.dumps(seed))
        assert main(["check", str(p)]) == 2
        err = capsys.readouterr().err.splitlines()
        assert err == ["gw_name_prefix: field required (got nothing)"]

    def test_only_thresholds(self) -> None:
        lines = seed_problems({"auto_scale_threshold": SEED["auto_scale_threshold"]})
        assert {"gw_name_prefix: field required (got nothing)", "sip_db: field required (got nothing)",
                "cpu_per_gw: field required (got nothing)"} <= set(lines)


class TestEnvironmentNames:
    """DynoScaler's environment: an error names the variable."""

    ENV = {"MY_HEROKU_AUTH_TOKEN": "t", "MY_HEROKU_AS_APP": "app", "MY_HEROKU_AS_PROCESS": "worker",
           "AWS_SQS_NAME": "q", "AWS_SQS_REGION": "us-east-1", "DYNOSCALER_MAX_DYNOS": "5",
           "DYNOSCALER_MIN_DYNOS": "1", "DYNOSCALER_BACKLOG_THRESHOLD": "10"}

    @pytest.mark.parametrize(
        ("change", "expected"),
        [
            ({"FLEETSCALE_INTERVAL": "0.000001"},
             "FLEETSCALE_INTERVAL: Input should be greater than or equal to 0.1"),
            ({"FLEETSCALE_INTERVAL": "1e12"},
             "FLEETSCALE_INTERVAL: Input should be less than or equal to 86400"),
            ({"FLEETSCALE_INTERVAL": "inf"}, "FLEETSCALE_INTERVAL: must be a number above 0 (got inf)"),
            ({"DYNOSCALER_MAX_DYNOS": "99999999999"},
             "DYNOSCALER_MAX_DYNOS: Input should be less than or equal"),
            ({"DYNOSCALER_BACKLOG_THRESHOLD": "1e300"}, "DYNOSCALER_BACKLOG_THRESHOLD: must be between"),
        ],
        ids=["interval-tiny", "interval-huge", "interval-inf", "max-huge", "threshold-huge"],
    )
    def test_named(self, change: dict[str, str], expected: str) -> None:
        with pytest.raises(ConfigError) as info:
            parse_env(self.ENV | change)
        assert any(line.startswith(expected) for line in info.value.problems), info.value.problems

    def test_run_from_env_exits_2(self, monkeypatch: pytest.MonkeyPatch, capsys: Cap) -> None:
        for key, value in (self.ENV | {"FLEETSCALE_INTERVAL": "1e12"}).items():
            monkeypatch.setenv(key, value)
        assert main(["run", "--from-env", "--once"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("FLEETSCALE_INTERVAL: ") and "Traceback" not in err
