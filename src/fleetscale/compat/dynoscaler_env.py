"""DynoScaler parity: a fleetscale configuration document from the seed's environment variables.

``fleetscale run --from-env`` calls ``document_from_env(os.environ)`` and runs the result, so a
DynoScaler deployment moves over with no file. One pool (``{app}-{process}``): source ``sqs``
on ``AWS_SQS_NAME``, provider ``heroku`` on ``MY_HEROKU_AS_APP``/``MY_HEROKU_AS_PROCESS``,
min/max from ``DYNOSCALER_MIN_DYNOS``/``DYNOSCALER_MAX_DYNOS``.

``FLEETSCALE_POLICY`` chooses the policy:

- ``recommended`` (default): target tracking on the backlog, ``DYNOSCALER_BACKLOG_THRESHOLD``
  messages per dyno, with the default governor (scale up at once, scale down after a 300 s
  stabilisation window) and in-flight messages counted;
- ``cycles``: DynoScaler exactly: its up/down counters (``DYNOSCALER_UP_CYCLES``,
  ``DYNOSCALER_DOWN_CYCLES``), one dyno per step, visible messages only, no extra governor;
- ``backlog``: the backlog per dyno derived from a latency objective
  (``FLEETSCALE_LATENCY_OBJECTIVE`` seconds) and the processing rate measured from the queue.

Secrets are never copied into the document: it names the variables that hold them
(``MY_HEROKU_AUTH_TOKEN``, ``AWS_KEY``/``AWS_SECRET``, ``ELK_ELASTIC_PASS``), and no error shows
their values. Every problem is one ConfigError line ``NAME: message (got VALUE)``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from fleetscale.errors import ConfigError

SECRETS = frozenset({"MY_HEROKU_AUTH_TOKEN", "AWS_KEY", "AWS_SECRET", "ELK_ELASTIC_PASS"})
POLICIES = ("recommended", "cycles", "backlog")
DEFAULT_INTERVAL = 60.0


class _Env:
    """Reads variables and collects one problem line per bad one."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []

    def _got(self, name: str, value: str) -> str:
        return "***" if name in SECRETS else value

    def text(self, name: str, required: bool = True) -> str | None:
        value = (self.environ.get(name) or "").strip()
        if not value:
            if required:
                self.problems.append(f"{name}: missing (got nothing)")
            return None
        return value

    def integer(self, name: str, lo: int, required: bool = True) -> int | None:
        raw = self.text(name, required)
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            self.problems.append(f"{name}: not a whole number (got {self._got(name, raw)})")
            return None
        if value < lo:
            self.problems.append(f"{name}: must be at least {lo} (got {raw})")
            return None
        return value

    def number(self, name: str, required: bool = True) -> float | None:
        raw = self.text(name, required)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            self.problems.append(f"{name}: not a number (got {self._got(name, raw)})")
            return None
        if not math.isfinite(value) or value <= 0:
            self.problems.append(f"{name}: must be a number above 0 (got {raw})")
            return None
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self.text(name, required=False)
        if raw is None:
            return default
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        self.problems.append(f"{name}: expected true or false (got {raw})")
        return default


def _pool_name(app: str, process: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", f"{app}-{process}").strip("-_.") or "dynos"
    return name[:64]


def _policy(env: _Env, choice: str, threshold: float | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The pool's policies and governor for ``choice``."""
    if choice == "cycles":
        up = env.integer("DYNOSCALER_UP_CYCLES", 0)
        down = env.integer("DYNOSCALER_DOWN_CYCLES", 0)
        policy = {"kind": "cycles", "name": "dynoscaler", "metric": "backlog",
                  "threshold": threshold, "up_cycles": up, "down_cycles": down}
        # the counters are the whole hysteresis: no stabilisation window on top of them
        return [policy], {"down": {"stabilisation": 0.0}}
    if choice == "backlog":
        latency = env.number("FLEETSCALE_LATENCY_OBJECTIVE")
        spec: dict[str, Any] = {"kind": "backlog", "name": "latency", "metric": "backlog",
                                "latency": latency}
        processing = env.number("FLEETSCALE_PROCESSING_TIME", required=False)
        if processing is not None:
            spec["processing_time"] = processing
        return [spec], {}
    return [{"kind": "target", "name": "recommended", "metric": "backlog", "target": threshold}], {}


def document_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """The configuration document for the seed's variables; ConfigError names every bad one."""
    env = _Env(environ)
    choice = (env.text("FLEETSCALE_POLICY", required=False) or "recommended").lower()
    if choice not in POLICIES:
        env.problems.append(f"FLEETSCALE_POLICY: expected one of {', '.join(POLICIES)} (got {choice})")
        choice = "recommended"

    env.text("MY_HEROKU_AUTH_TOKEN")
    app = env.text("MY_HEROKU_AS_APP")
    process = env.text("MY_HEROKU_AS_PROCESS")
    if process is not None and not re.fullmatch(r"[-\w]{1,128}", process):
        env.problems.append(f"MY_HEROKU_AS_PROCESS: not a Heroku process type (got {process})")
    queue = env.text("AWS_SQS_NAME")
    region = env.text("AWS_SQS_REGION")
    key, secret = env.text("AWS_KEY", False), env.text("AWS_SECRET", False)
    if bool(key) != bool(secret):
        missing = "AWS_SECRET" if key else "AWS_KEY"
        env.problems.append(f"{missing}: missing (got nothing; AWS_KEY and AWS_SECRET go together)")
    max_dynos = env.integer("DYNOSCALER_MAX_DYNOS", 1)
    min_dynos = env.integer("DYNOSCALER_MIN_DYNOS", 0)
    if max_dynos is not None and min_dynos is not None and min_dynos > max_dynos:
        env.problems.append(f"DYNOSCALER_MIN_DYNOS: above DYNOSCALER_MAX_DYNOS ({max_dynos}) "
                            f"(got {min_dynos})")
    threshold = env.number("DYNOSCALER_BACKLOG_THRESHOLD", required=choice != "backlog")
    policies, governor = _policy(env, choice, threshold)
    interval = env.number("FLEETSCALE_INTERVAL", required=False) or DEFAULT_INTERVAL
    in_flight = env.flag("FLEETSCALE_SQS_IN_FLIGHT", default=choice != "cycles")
    metrics_port = env.integer("FLEETSCALE_METRICS_PORT", 1, required=False)
    sinks = _sinks(env)
    if env.problems:
        raise ConfigError(env.problems)

    queues = [q.strip() for q in str(queue).split(",") if q.strip()]  # "a,b": several queues
    source: dict[str, Any] = {"kind": "sqs", "queues": queues, "region": region, "in_flight": in_flight}
    if key:
        source |= {"access_key_env": "AWS_KEY", "secret_key_env": "AWS_SECRET"}
    endpoint = env.text("FLEETSCALE_SQS_ENDPOINT_URL", required=False)
    if endpoint:
        source["endpoint_url"] = endpoint
    provider: dict[str, Any] = {"kind": "heroku", "app": app, "process_type": process,
                                "token_env": "MY_HEROKU_AUTH_TOKEN"}
    api_url = env.text("FLEETSCALE_HEROKU_API_URL", required=False)
    if api_url:
        provider["api_url"] = api_url
    pool: dict[str, Any] = {
        "name": _pool_name(str(app), str(process)), "interval": interval,
        "min": min_dynos, "max": max_dynos, "policies": policies,
        "sources": [source], "provider": provider,
    }
    if governor:
        pool["governor"] = governor
    journal: dict[str, Any] = {"sinks": sinks}
    sql = env.text("FLEETSCALE_JOURNAL_SQL", required=False)
    if sql:
        journal["sql"] = sql
    if metrics_port is not None:
        journal["metrics_port"] = metrics_port
    return {"pools": [pool], "journal": journal}


#: a path of the generated document -> the variable it came from (longest prefix first)
_ENV_NAMES = (
    ("pools.0.policies.0.threshold", "DYNOSCALER_BACKLOG_THRESHOLD"),
    ("pools.0.policies.0.target", "DYNOSCALER_BACKLOG_THRESHOLD"),
    ("pools.0.policies.0.up_cycles", "DYNOSCALER_UP_CYCLES"),
    ("pools.0.policies.0.down_cycles", "DYNOSCALER_DOWN_CYCLES"),
    ("pools.0.policies.0.latency", "FLEETSCALE_LATENCY_OBJECTIVE"),
    ("pools.0.policies.0.processing_time", "FLEETSCALE_PROCESSING_TIME"),
    ("pools.0.policies", "FLEETSCALE_POLICY"),
    ("pools.0.sources.0.queues", "AWS_SQS_NAME"),
    ("pools.0.sources.0.region", "AWS_SQS_REGION"),
    ("pools.0.sources.0.endpoint_url", "FLEETSCALE_SQS_ENDPOINT_URL"),
    ("pools.0.provider.app", "MY_HEROKU_AS_APP"),
    ("pools.0.provider.process_type", "MY_HEROKU_AS_PROCESS"),
    ("pools.0.provider.api_url", "FLEETSCALE_HEROKU_API_URL"),
    ("pools.0.interval", "FLEETSCALE_INTERVAL"),
    ("pools.0.min", "DYNOSCALER_MIN_DYNOS"),
    ("pools.0.max", "DYNOSCALER_MAX_DYNOS"),
    ("pools.0.name", "MY_HEROKU_AS_APP"),
    ("journal.sql", "FLEETSCALE_JOURNAL_SQL"),
    ("journal.metrics_port", "FLEETSCALE_METRICS_PORT"),
    ("journal.sinks.0.url", "ELK_ELASTIC_URL"),
    ("journal.sinks.0.index", "ELK_INDEX_AS"),
    ("journal.sinks.0.username", "ELK_ELASTIC_USER"),
)


def env_names(lines: list[str]) -> list[str]:
    """ConfigError lines about the generated document, renamed to the variables the user set
    (``pools.0.interval`` -> ``FLEETSCALE_INTERVAL``); each line once."""
    out: list[str] = []
    for line in lines:
        path, sep, rest = line.partition(": ")
        for head, name in _ENV_NAMES:
            if sep and (path == head or path.startswith(head + ".")):
                path = name
                break
        text = f"{path}{sep}{rest}"
        if text not in out:
            out.append(text)
    return out


def parse_env(environ: Mapping[str, str]) -> Any:
    """The validated configuration (``config.Loaded``) for the seed's variables; every error
    names the variable."""
    from fleetscale import config

    doc = document_from_env(environ)
    try:
        return config.parse(doc)
    except ConfigError as exc:
        raise ConfigError(env_names(exc.problems)) from None


def _sinks(env: _Env) -> list[dict[str, Any]]:
    """The Elasticsearch sink when ``ELK_ELASTIC_URL`` is set (the seed only logs otherwise).
    ``ELK_INDEX_TYPE_AS`` is accepted and unused: Elasticsearch 7 removed mapping types."""
    url = env.text("ELK_ELASTIC_URL", required=False)
    if url is None:
        return []
    sink: dict[str, Any] = {"kind": "elasticsearch", "url": url}
    index = env.text("ELK_INDEX_AS", required=False)
    if index is not None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.+-]{0,254}", index):
            env.problems.append(f"ELK_INDEX_AS: an index name is lowercase letters, digits, _ . + - "
                                f"(got {index})")
        sink["index"] = index
    user = env.text("ELK_ELASTIC_USER", required=False)
    if user is not None:
        env.text("ELK_ELASTIC_PASS")
        sink |= {"username": user, "password_env": "ELK_ELASTIC_PASS"}
    return [sink]
