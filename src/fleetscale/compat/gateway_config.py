"""The seed gateway Scaler's JSON configuration, loaded as a fleetscale document.

The seed file::

    {"gw_name_prefix": "gw-",
     "sip_db": {"host": "127.0.0.1", "root_password": "secret"},
     "cpu_per_gw": 4,
     "auto_scale_threshold": {"00:00:00": {"unlockedMin": 2, "loadMax": 0.7},
                              "08:00:00": {"unlockedMin": 10, "loadMax": 0.75}}}

becomes one pool of SIP gateways. One capacity unit is one gateway (``cpu_per_gw`` CPUs), so
``unlockedMin`` is a floor in gateways and ``loadMax`` the utilisation target of
``unit_capacity = cpu_per_gw x calls_per_cpu`` calls per gateway. Sources: the ``kamailio``
source (registrations, locks, active calls) on the seed's database; drainer: ``kamailio``
(lock, then terminate at zero calls); ``require_registration``: a gateway is ready once it has
registered; ``boot_timeout``: one without an address or a registration after 600 s is removed
(the seed's ``cleanup()``).

Optional keys beside the seed's (none is needed): ``calls_per_cpu`` (default 10: the seed does
not say how many calls a CPU carries; set your measured figure), ``rpc_url`` (default
``http://<sip_db.host>:5060/RPC``), ``timezone`` (of the threshold times, default UTC),
``max_gw`` (default 100), ``pool`` (default ``sip-gateways``), and ``fleetscale``: a mapping
merged over the generated pool (``provider``, ``interval``, ``governor``, ``drain``, ...). The
provider defaults to ``local`` (processes on this machine); in production set
``fleetscale.provider`` or use ``fleetscale.compat.Scaler`` with the seed's CSP object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleetscale.errors import ConfigError

SEED_KEYS = ("gw_name_prefix", "sip_db", "cpu_per_gw", "auto_scale_threshold")
EXTRA_KEYS = ("calls_per_cpu", "rpc_url", "timezone", "max_gw", "pool", "fleetscale")
DB_KEYS = ("host", "port", "user", "root_password", "password", "database", "db")
DEFAULT_CALLS_PER_CPU = 10.0
DEFAULT_MAX_GW = 100


def seed_to_document(data: Mapping[str, Any]) -> dict[str, Any]:
    """Translate the seed's JSON (decoded) into a fleetscale document ``{"pools": [...]}``.

    Raises ConfigError naming every bad key (``sip_db.host: ...``); secrets are never shown.
    """
    problems: list[str] = []
    for key in SEED_KEYS:
        if key not in data:
            problems.append(f"{key}: field required (got nothing)")
    unknown = sorted(set(data) - set(SEED_KEYS) - set(EXTRA_KEYS))
    problems.extend(f"{key}: not a key of the gateway Scaler configuration; known: "
                    f"{', '.join(SEED_KEYS + EXTRA_KEYS)} (got {key})" for key in unknown)
    prefix = data.get("gw_name_prefix")
    if "gw_name_prefix" in data and (not isinstance(prefix, str) or not prefix):
        problems.append(f"gw_name_prefix: must be a non-empty string (got {prefix!r})")
    cpu = data.get("cpu_per_gw")
    if "cpu_per_gw" in data and (isinstance(cpu, bool) or not isinstance(cpu, int) or not 1 <= cpu <= 4096):
        problems.append(f"cpu_per_gw: must be a whole number >= 1 and <= 4096 (got {cpu!r})")
    calls_per_cpu = data.get("calls_per_cpu", DEFAULT_CALLS_PER_CPU)
    if (isinstance(calls_per_cpu, bool) or not isinstance(calls_per_cpu, int | float)
            or not 0 < calls_per_cpu <= 1e6):
        problems.append(f"calls_per_cpu: must be a number > 0 and at most 1e6 (got {calls_per_cpu!r})")
    thresholds = data.get("auto_scale_threshold")
    if "auto_scale_threshold" in data and (not isinstance(thresholds, Mapping) or not thresholds):
        problems.append(f"auto_scale_threshold: must be a non-empty mapping of HH:MM:SS to "
                        f"{{unlockedMin, loadMax}} (got {thresholds!r})")
    extra = data.get("fleetscale", {})
    if not isinstance(extra, Mapping):
        problems.append(f"fleetscale: must be a mapping of pool options (got {type(extra).__name__})")
    db, db_problems = _db(data.get("sip_db"))
    if "sip_db" in data:
        problems.extend(db_problems)
    if problems:
        raise ConfigError(problems)

    assert isinstance(prefix, str) and isinstance(cpu, int) and isinstance(thresholds, Mapping)
    rpc_url = data.get("rpc_url") or f"http://{db['host']}:5060/RPC"
    kamailio = {"db": db, "rpc_url": rpc_url, "gw_prefix": prefix}
    pool: dict[str, Any] = {
        "name": data.get("pool", "sip-gateways"),
        "min": 0,
        "max": data.get("max_gw", DEFAULT_MAX_GW),
        "unit_capacity": cpu * float(calls_per_cpu),
        "instance_types": [{"name": "gateway", "weight": 1}],
        "policies": [{"kind": "schedule", "name": "auto_scale_threshold", "metric": "load",
                      "timezone": data.get("timezone", "UTC"),
                      "auto_scale_threshold": {str(k): v for k, v in thresholds.items()}}],
        "sources": [{"kind": "kamailio", **kamailio, "cpu_per_gw": cpu,
                     "calls_per_cpu": float(calls_per_cpu)}],
        "provider": {"kind": "local", "name_prefix": prefix},
        "drainer": {"kind": "kamailio", **kamailio},
        "require_registration": True,
        "boot_timeout": 600.0,
    }
    return {"pools": [_merge(pool, dict(extra))]}


#: a path of the translated document -> the seed key it came from (longest prefix first)
_SEED_NAMES = (
    ("pools.0.policies.0.auto_scale_threshold", "auto_scale_threshold"),
    ("pools.0.policies.0.timezone", "timezone"),
    ("pools.0.policies.0", "auto_scale_threshold"),
    ("pools.0.sources.0.cpu_per_gw", "cpu_per_gw"),
    ("pools.0.sources.0.calls_per_cpu", "calls_per_cpu"),
    ("pools.0.sources.0.gw_prefix", "gw_name_prefix"),
    ("pools.0.drainer.gw_prefix", "gw_name_prefix"),
    ("pools.0.provider.name_prefix", "gw_name_prefix"),
    ("pools.0.sources.0.rpc_url", "rpc_url"),
    ("pools.0.drainer.rpc_url", "rpc_url"),
    ("pools.0.max", "max_gw"),
    ("pools.0.name", "pool"),
)


def seed_names(lines: list[str], seed: Mapping[str, Any]) -> list[str]:
    """ConfigError lines about the translated document, renamed to what the seed file says
    (``pools.0.max`` -> ``max_gw``, ``pools.0.sources.0.db.password`` -> ``sip_db.root_password``,
    an option from ``fleetscale`` -> ``fleetscale.interval``); each line once."""
    out: list[str] = []
    for line in lines:
        path, sep, rest = line.partition(": ")
        renamed = _seed_name(path, seed) if sep else path
        text = f"{renamed}{sep}{rest}"
        if text not in out:
            out.append(text)
    return out


def _seed_name(path: str, seed: Mapping[str, Any]) -> str:
    extra = seed.get("fleetscale")
    if path.startswith("pools.0.") and isinstance(extra, Mapping):
        node: Any = extra
        parts = path.split(".")[2:]
        for part in parts:
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                break
        else:
            return "fleetscale." + ".".join(parts)
    for head in ("pools.0.sources.0.db", "pools.0.drainer.db"):
        if path == head or path.startswith(head + "."):
            return _db_name(path[len(head) + 1:], seed.get("sip_db"))
    if path == "pools.0.unit_capacity":
        return "cpu_per_gw x calls_per_cpu" if "calls_per_cpu" in seed else "cpu_per_gw"
    for head, name in _SEED_NAMES:
        if path == head or path.startswith(head + "."):
            return name + path[len(head):]
    return path


def _db_name(key: str, raw: Any) -> str:
    given = raw if isinstance(raw, Mapping) else {}
    if key == "password":
        key = "root_password" if "root_password" in given else "password"
    elif key == "database" and "db" in given and "database" not in given:
        key = "db"
    return f"sip_db.{key}" if key else "sip_db"


def _db(raw: Any) -> tuple[dict[str, Any], list[str]]:
    if not isinstance(raw, Mapping):
        return {}, [f"sip_db: must be a mapping with host and root_password (got {type(raw).__name__})"]
    problems = [f"sip_db.{key}: unknown key; known: {', '.join(DB_KEYS)} (got {key})"
                for key in sorted(set(raw) - set(DB_KEYS))]
    host = raw.get("host")
    if not isinstance(host, str) or not host:
        problems.append(f"sip_db.host: must be a host name or address (got {host!r})")
    if "root_password" in raw and "password" in raw:
        problems.append("sip_db.password: give root_password or password, not both (got ***)")
    db: dict[str, Any] = {"host": host}
    if "port" in raw:
        db["port"] = raw["port"]
    if "root_password" in raw:
        db["user"] = raw.get("user", "root")
        db["password"] = raw["root_password"]
    else:
        db["user"] = raw.get("user", "kamailio")
        if "password" in raw:
            db["password"] = raw["password"]
    db["database"] = raw.get("database", raw.get("db", "kamailio"))
    return db, problems


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into ``base``; mappings merge key by key (an adapter spec of another
    ``kind`` replaces the whole spec), anything else replaces."""
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        if (isinstance(value, Mapping) and isinstance(old, Mapping)
                and value.get("kind", old.get("kind")) == old.get("kind")):
            out[key] = _merge(dict(old), dict(value))
        else:
            out[key] = value
    return out
