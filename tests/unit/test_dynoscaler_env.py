"""DynoScaler's environment variables become a fleetscale configuration document."""

from __future__ import annotations

import pytest

from fleetscale import config
from fleetscale.compat.dynoscaler_env import document_from_env
from fleetscale.errors import ConfigError

SEED = {
    "MY_HEROKU_AUTH_DES": "autoscaler",
    "MY_HEROKU_AUTH_TOKEN": "hk-0123-secret-token",
    "MY_HEROKU_AS_APP": "shop-api",
    "MY_HEROKU_AS_PROCESS": "worker",
    "AWS_KEY": "AKIDEXAMPLE",
    "AWS_SECRET": "aws-very-secret",
    "AWS_SQS_NAME": "jobs",
    "AWS_SQS_REGION": "eu-west-1",
    "DYNOSCALER_MAX_DYNOS": "8",
    "DYNOSCALER_MIN_DYNOS": "1",
    "DYNOSCALER_UP_CYCLES": "3",
    "DYNOSCALER_DOWN_CYCLES": "5",
    "DYNOSCALER_BACKLOG_THRESHOLD": "20",
}


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        document_from_env(env)
    return err.value.problems


class TestDocument:
    """The seed's variables configure one pool: SQS source, Heroku provider, min/max, policy."""

    def test_recommended_by_default(self) -> None:
        doc = document_from_env(SEED)
        pool = doc["pools"][0]
        assert pool["name"] == "shop-api-worker" and (pool["min"], pool["max"]) == (1, 8)
        assert pool["policies"] == [
            {"kind": "target", "name": "recommended", "metric": "backlog", "target": 20.0}
        ]
        assert pool["sources"] == [
            {
                "kind": "sqs",
                "queues": ["jobs"],
                "region": "eu-west-1",
                "in_flight": True,
                "access_key_env": "AWS_KEY",
                "secret_key_env": "AWS_SECRET",
            }
        ]
        assert pool["provider"] == {
            "kind": "heroku",
            "app": "shop-api",
            "process_type": "worker",
            "token_env": "MY_HEROKU_AUTH_TOKEN",
        }
        assert "governor" not in pool and doc["journal"] == {"sinks": []}

    def test_cycles_is_dynoscaler(self) -> None:
        pool = document_from_env(SEED | {"FLEETSCALE_POLICY": "cycles"})["pools"][0]
        assert pool["policies"] == [
            {
                "kind": "cycles",
                "name": "dynoscaler",
                "metric": "backlog",
                "threshold": 20.0,
                "up_cycles": 3,
                "down_cycles": 5,
            }
        ]
        assert pool["governor"] == {"down": {"stabilisation": 0.0}}
        assert pool["sources"][0]["in_flight"] is False  # the seed counts visible messages only

    def test_backlog_from_latency_objective(self) -> None:
        env = SEED | {"FLEETSCALE_POLICY": "backlog", "FLEETSCALE_LATENCY_OBJECTIVE": "120"}
        del env["DYNOSCALER_BACKLOG_THRESHOLD"]
        pool = document_from_env(env)["pools"][0]
        assert pool["policies"] == [
            {"kind": "backlog", "name": "latency", "metric": "backlog", "latency": 120.0}
        ]

    def test_secrets_are_named_never_copied(self) -> None:
        text = repr(
            document_from_env(
                SEED
                | {
                    "ELK_ELASTIC_URL": "http://127.0.0.1:9200",
                    "ELK_ELASTIC_USER": "elastic",
                    "ELK_ELASTIC_PASS": "pw-secret",
                }
            )
        )
        for secret in ("hk-0123-secret-token", "aws-very-secret", "AKIDEXAMPLE", "pw-secret"):
            assert secret not in text

    def test_elasticsearch_sink_from_elk_variables(self) -> None:
        doc = document_from_env(
            SEED
            | {
                "ELK_ELASTIC_URL": "http://127.0.0.1:9200",
                "ELK_ELASTIC_USER": "elastic",
                "ELK_ELASTIC_PASS": "pw",
                "ELK_INDEX_AS": "dynoscaler",
                "ELK_INDEX_TYPE_AS": "_doc",
            }
        )
        assert doc["journal"]["sinks"] == [
            {
                "kind": "elasticsearch",
                "url": "http://127.0.0.1:9200",
                "index": "dynoscaler",
                "username": "elastic",
                "password_env": "ELK_ELASTIC_PASS",
            }
        ]

    def test_several_queues(self) -> None:
        source = document_from_env(SEED | {"AWS_SQS_NAME": "jobs, jobs-priority"})["pools"][0]["sources"][0]
        assert source["queues"] == ["jobs", "jobs-priority"]

    def test_without_aws_keys_boto3_finds_credentials(self) -> None:
        env = {k: v for k, v in SEED.items() if k not in ("AWS_KEY", "AWS_SECRET")}
        assert "access_key_env" not in document_from_env(env)["pools"][0]["sources"][0]

    def test_extras(self) -> None:
        doc = document_from_env(
            SEED
            | {
                "FLEETSCALE_INTERVAL": "15",
                "FLEETSCALE_METRICS_PORT": "9108",
                "FLEETSCALE_JOURNAL_SQL": "sqlite:///x.db",
                "FLEETSCALE_HEROKU_API_URL": "http://127.0.0.1:1",
                "FLEETSCALE_SQS_ENDPOINT_URL": "http://127.0.0.1:2",
            }
        )
        pool = doc["pools"][0]
        assert pool["interval"] == 15.0 and doc["journal"]["metrics_port"] == 9108
        assert doc["journal"]["sql"] == "sqlite:///x.db"
        assert pool["provider"]["api_url"] == "http://127.0.0.1:1"
        assert pool["sources"][0]["endpoint_url"] == "http://127.0.0.1:2"

    @pytest.mark.parametrize("policy", ["recommended", "cycles"])
    def test_document_validates(self, policy: str) -> None:
        loaded = config.parse(document_from_env(SEED | {"FLEETSCALE_POLICY": policy}))
        pool = loaded.config.pools[0]
        assert pool.provider.kind == "heroku" and loaded.provider_settings(pool.name).app == "shop-api"
        assert loaded.source_settings(pool.name, 0).queues == ("jobs",)


class TestErrors:
    """Missing or malformed variables are named, one line each; secrets never shown."""

    def test_missing(self) -> None:
        env = {
            k: v
            for k, v in SEED.items()
            if k not in ("MY_HEROKU_AS_APP", "AWS_SQS_NAME", "MY_HEROKU_AUTH_TOKEN")
        }
        assert problems(env) == [
            "MY_HEROKU_AUTH_TOKEN: missing (got nothing)",
            "MY_HEROKU_AS_APP: missing (got nothing)",
            "AWS_SQS_NAME: missing (got nothing)",
        ]

    def test_empty_is_missing(self) -> None:
        assert problems(SEED | {"AWS_SQS_REGION": "  "}) == ["AWS_SQS_REGION: missing (got nothing)"]

    @pytest.mark.parametrize(
        ("var", "value", "line"),
        [
            ("DYNOSCALER_MAX_DYNOS", "ten", "DYNOSCALER_MAX_DYNOS: not a whole number (got ten)"),
            ("DYNOSCALER_MAX_DYNOS", "0", "DYNOSCALER_MAX_DYNOS: must be at least 1 (got 0)"),
            ("DYNOSCALER_MIN_DYNOS", "9", "DYNOSCALER_MIN_DYNOS: above DYNOSCALER_MAX_DYNOS (8) (got 9)"),
            (
                "DYNOSCALER_BACKLOG_THRESHOLD",
                "-3",
                "DYNOSCALER_BACKLOG_THRESHOLD: must be a number above 0 (got -3)",
            ),
            (
                "DYNOSCALER_BACKLOG_THRESHOLD",
                "nan",
                "DYNOSCALER_BACKLOG_THRESHOLD: must be a number above 0 (got nan)",
            ),
            (
                "FLEETSCALE_POLICY",
                "magic",
                "FLEETSCALE_POLICY: expected one of recommended, cycles, backlog (got magic)",
            ),
            (
                "MY_HEROKU_AS_PROCESS",
                "my worker",
                "MY_HEROKU_AS_PROCESS: not a Heroku process type (got my worker)",
            ),
            (
                "ELK_INDEX_AS",
                "Logs",
                "ELK_INDEX_AS: an index name is lowercase letters, digits, _ . + - (got Logs)",
            ),
        ],
        ids=[
            "max-text",
            "max-zero",
            "min-above-max",
            "threshold-negative",
            "threshold-nan",
            "policy",
            "process",
            "index",
        ],
    )
    def test_malformed(self, var: str, value: str, line: str) -> None:
        env = SEED | {var: value}
        if var == "ELK_INDEX_AS":
            env["ELK_ELASTIC_URL"] = "http://127.0.0.1:9200"
        assert problems(env) == [line]

    def test_cycles_needs_its_counters(self) -> None:
        env = {k: v for k, v in SEED.items() if k != "DYNOSCALER_UP_CYCLES"} | {"FLEETSCALE_POLICY": "cycles"}
        assert problems(env) == ["DYNOSCALER_UP_CYCLES: missing (got nothing)"]
        env = {k: v for k, v in SEED.items() if k != "DYNOSCALER_UP_CYCLES"}
        document_from_env(env)  # the recommended policy does not use them

    def test_backlog_needs_a_latency_objective(self) -> None:
        assert problems(SEED | {"FLEETSCALE_POLICY": "backlog"}) == [
            "FLEETSCALE_LATENCY_OBJECTIVE: missing (got nothing)"
        ]

    def test_half_a_key_pair(self) -> None:
        env = {k: v for k, v in SEED.items() if k != "AWS_SECRET"}
        assert problems(env) == ["AWS_SECRET: missing (got nothing; AWS_KEY and AWS_SECRET go together)"]

    def test_user_without_password(self) -> None:
        env = SEED | {"ELK_ELASTIC_URL": "http://127.0.0.1:9200", "ELK_ELASTIC_USER": "elastic"}
        assert problems(env) == ["ELK_ELASTIC_PASS: missing (got nothing)"]

    def test_secret_values_never_shown(self) -> None:
        lines = problems(SEED | {"DYNOSCALER_MAX_DYNOS": "x", "AWS_KEY": "AKIDEXAMPLE"} | {"AWS_SECRET": ""})
        assert "AKIDEXAMPLE" not in "\n".join(lines)
