"""The one place where text becomes typed configuration.

YAML or JSON is validated with pydantic into typed values. Every problem becomes one line
``path.to.field: message (got VALUE)``; a ConfigError carries them all, and nothing starts
with an invalid file. Adapter options (``source``, ``provider``, ``drainer``, sinks) are
validated by the adapter module's own ``Settings`` model, named in ``registry.py``.

The seed gateway Scaler's JSON (``gw_name_prefix``, ``sip_db``, ``cpu_per_gw``,
``auto_scale_threshold``) is recognised and translated by ``compat.gateway_config``.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from fleetscale import document, durations, limits
from fleetscale.config_adapters import adapter_problems, raw_adapter_problems, validate_json
from fleetscale.config_errors import format_errors
from fleetscale.config_errors import redact as redact  # re-exported: the API masks with it
from fleetscale.decide import DecisionSpec, Override
from fleetscale.errors import ConfigError
from fleetscale.governor.settings import GovernorSettings
from fleetscale.model import Direction, InstanceType
from fleetscale.policy.specs import PolicySpec


def _forbid_extra(cls: Any, seen: set[Any] | None = None) -> None:
    """Make pydantic refuse unknown keys in the decision core's dataclasses (recursively),
    without the decision modules importing pydantic."""
    seen = seen if seen is not None else set()
    if cls in seen:
        return
    seen.add(cls)
    if dataclasses.is_dataclass(cls) and isinstance(cls, type):
        cls.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
        for hint in typing.get_type_hints(cls).values():
            _forbid_extra(hint, seen)
    for arg in typing.get_args(cls):
        _forbid_extra(arg, seen)


_forbid_extra(PolicySpec)
_forbid_extra(GovernorSettings)

PolicyField = typing.Annotated[PolicySpec, Field(discriminator="kind")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AdapterSpec(BaseModel):
    """``{kind: NAME, ...options}``; the options are checked by the adapter's Settings."""

    model_config = ConfigDict(extra="allow", frozen=True)
    kind: str

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class InstanceTypeConfig(_Strict):
    name: str = Field(min_length=1)
    weight: PositiveInt = Field(default=1, le=limits.UNITS_MAX)
    price: NonNegativeFloat = Field(default=1.0, le=limits.PRICE_MAX)

    def typed(self) -> InstanceType:
        return InstanceType(self.name, self.weight, self.price)


class DrainConfig(_Strict):
    #: seconds a drain may take; None = wait for the last session however long it takes
    deadline: PositiveFloat | None = Field(default=None, le=limits.WEEK)
    #: what happens at the deadline: keep waiting (default: calls are never cut) or terminate
    on_deadline: Literal["wait", "terminate"] = "wait"


class OverrideConfig(_Strict):
    hold: NonNegativeInt = Field(le=limits.UNITS_MAX)
    until: AwareDatetime


class PoolConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    #: seconds between cycles: 0.1 s .. 1 day
    interval: float = Field(default=60.0, ge=limits.INTERVAL_MIN, le=limits.INTERVAL_MAX)
    min: NonNegativeInt = Field(default=0, le=limits.UNITS_MAX)
    max: PositiveInt = Field(le=limits.UNITS_MAX)
    #: load one capacity unit serves at 100 % (calls, rooms, messages/min, ...): up to 1e9
    unit_capacity: PositiveFloat = Field(default=1.0, le=limits.CAPACITY_MAX)
    instance_types: tuple[InstanceTypeConfig, ...] = (InstanceTypeConfig(name="default"),)
    #: empty = the recommended policy
    policies: tuple[PolicyField, ...] = ()
    governor: GovernorSettings = GovernorSettings()
    sources: tuple[AdapterSpec, ...] = ()
    provider: AdapterSpec
    drainer: AdapterSpec = AdapterSpec(kind="none")
    drain: DrainConfig = DrainConfig()
    #: seconds an instance may stay pending (no address, not registered) before it is removed
    boot_timeout: PositiveFloat = Field(default=600.0, le=limits.WEEK)
    #: an instance counts as ready only once a source reports it ``registered``
    require_registration: bool = False
    #: tagged instances found that the journal does not know: adopt them or terminate them
    unknown_instances: Literal["adopt", "terminate"] = "adopt"
    dry_run: bool = False
    paused: frozenset[Literal["up", "down"]] = frozenset()
    override: OverrideConfig | None = None

    @model_validator(mode="after")
    def _bounds(self) -> PoolConfig:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        names = [t.name for t in self.instance_types]
        if len(set(names)) != len(names):
            raise ValueError(f"instance_types has duplicate names {names}")
        if self.provider.kind == "heroku" and self.unknown_instances == "terminate":
            # dynos are numbered by position: after a scale-down the remaining dynos are
            # renumbered, one takes the stopped dyno's (forgotten) id and would be stopped next
            raise ValueError("unknown_instances: terminate cannot be used with provider heroku "
                             "(dynos are numbered by position, so each stopped dyno's number goes "
                             "to another dyno, which would be stopped in turn); use adopt")
        return self

    def decision_spec(self, policies: tuple[PolicySpec, ...] | None = None) -> DecisionSpec:
        """The pure part of this pool. ``policies`` replaces the configured ones if given."""
        chosen = policies if policies is not None else self.policies
        if not chosen:
            from fleetscale.policy.recommended import recommended_policies

            chosen = recommended_policies()
        override = Override(self.override.hold, self.override.until) if self.override else None
        return DecisionSpec(
            pool=self.name,
            min=self.min,
            max=self.max,
            policies=tuple(chosen),
            governor=self.governor,
            unit_capacity=self.unit_capacity,
            paused=frozenset(Direction(p) for p in self.paused),
            override=override,
        )

    def types(self) -> tuple[InstanceType, ...]:
        return tuple(t.typed() for t in self.instance_types)


def _retention(value: object) -> float:
    return durations.bounded(value, 3600.0, 3650 * 86_400.0)


class JournalConfig(_Strict):
    #: SQLAlchemy URL of the journal table (SQLite by default; MariaDB works too)
    sql: str = "sqlite:///fleetscale.db"
    log: bool = True
    sinks: tuple[AdapterSpec, ...] = ()
    #: serve Prometheus /metrics on this port (None = off)
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    #: seconds journaled cycles are kept (``14d``, ``36h``, ``3600``; 1 h to 10 years)
    retention: typing.Annotated[float, BeforeValidator(_retention)] = 14 * 86_400.0

    @property
    def retention_period(self) -> timedelta:
        return timedelta(seconds=self.retention)

    @field_validator("sql")
    @classmethod
    def _database_url(cls, url: str) -> str:
        """A URL SQLAlchemy can parse, of a dialect whose driver is installed; a SQLite file's
        directory must exist (the journal itself is created on the first cycle)."""
        import sqlalchemy as sa
        from sqlalchemy.exc import SQLAlchemyError

        try:
            parsed = sa.engine.make_url(url)
            dialect = parsed.get_dialect()
            dialect.import_dbapi()
        except (SQLAlchemyError, ValueError) as exc:
            raise ValueError(f"not a usable database URL: {' '.join(str(exc).split())}") from None
        except ImportError as exc:
            raise ValueError(f"the database driver is not installed: {exc}") from None
        database = parsed.database or ""
        if parsed.query.get("uri") == "true" and database.startswith("file:"):
            database = database.removeprefix("file:")  # SQLite's URI file names (mode=ro, ...)
        if parsed.drivername.startswith("sqlite") and database not in ("", ":memory:"):
            folder = Path(database).parent
            try:
                usable = folder.is_dir()
            except (OSError, ValueError):
                usable = False
            if not usable:
                raise ValueError(f"no such directory {str(folder)!r} for the SQLite journal")
        return url


class ApiConfig(_Strict):
    """``api:``: the HTTP API and dashboard ``fleetscale run`` serves (``api/``)."""

    #: ``host:port`` to listen on (port 0: any free port, logged at start)
    listen: str = "127.0.0.1:8080"
    #: the bearer token of the write endpoints (pause, resume, hold): a file, or else a variable
    token_file: Path | None = None
    token_env: str | None = Field(default=None, min_length=1)
    #: an optional read-only token: when set, reading needs a token too (403 on writes)
    read_token_file: Path | None = None
    read_token_env: str | None = Field(default=None, min_length=1)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("expected host:port with a port from 0 to 65535, e.g. 127.0.0.1:8080")
        return value

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].removeprefix("[").removesuffix("]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class CoordinationConfig(_Strict):
    """Several replicas sharing the pools by lease (``coordination/``); absent: one replica."""

    backend: Literal["sql", "etcd"]
    #: seconds a lease lives without renewal; a dead replica's pools move after about this long
    ttl: float = Field(default=10.0, ge=1.0, le=600.0)
    #: a replica stops acting this long before its lease's local deadline (default ttl / 5)
    safety_margin: PositiveFloat | None = Field(default=None, le=600.0)
    #: heartbeat and renewal period (default ttl / 3)
    renew_every: PositiveFloat | None = Field(default=None, le=600.0)
    #: this replica's name, unique among the replicas (default HOSTNAME-PID)
    replica: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:@-]+$")
    #: etcd: client URLs, e.g. [http://127.0.0.1:2379]
    endpoints: tuple[str, ...] = ()
    #: etcd: key prefix
    prefix: str = Field(default="/fleetscale", pattern=r"^/[A-Za-z0-9._/-]*$")
    #: sql: SQLAlchemy URL of the lease table (default: the journal's database)
    url: str | None = None
    #: at most this many pools change hands per rebalancing round
    max_moves: PositiveInt = Field(default=100, le=1_000_000)

    @field_validator("endpoints")
    @classmethod
    def _urls(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for url in v:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"expected http://HOST:PORT, got {url!r}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> CoordinationConfig:
        if self.backend == "etcd" and not self.endpoints:
            raise ValueError("the etcd backend needs endpoints, e.g. [http://127.0.0.1:2379]")
        if self.backend == "etcd" and self.url is not None:
            raise ValueError("url is for the sql backend; the etcd backend uses endpoints")
        if self.backend == "sql" and self.endpoints:
            raise ValueError("endpoints are for the etcd backend; the sql backend uses url")
        if self.margin >= self.ttl / 2:
            raise ValueError(f"safety_margin {self.margin:g} must be less than half the ttl {self.ttl:g}")
        if 2 * self.every + self.margin > self.ttl:
            raise ValueError(f"renew_every {self.every:g} is too long for ttl {self.ttl:g}: a lease must "
                             f"survive one missed renewal (2 x renew_every + safety_margin <= ttl)")
        return self

    @property
    def margin(self) -> float:
        return self.safety_margin if self.safety_margin is not None else self.ttl / 5

    @property
    def every(self) -> float:
        return self.renew_every if self.renew_every is not None else self.ttl / 3


class Config(_Strict):
    pools: tuple[PoolConfig, ...] = Field(min_length=1)
    journal: JournalConfig = JournalConfig()
    api: ApiConfig | None = None
    coordination: CoordinationConfig | None = None

    @model_validator(mode="after")
    def _unique(self) -> Config:
        names = [p.name for p in self.pools]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"pool names must be unique, {dupes} repeat")
        if self.api is not None and self.journal.sql in ("sqlite://", "sqlite:///:memory:"):
            raise ValueError(f"api: needs a journal the API can open beside the controller (a file or "
                             f"a server), not one in memory: journal.sql is {self.journal.sql}")
        return self

    def pool(self, name: str) -> PoolConfig:
        for p in self.pools:
            if p.name == name:
                return p
        raise ConfigError(f"pool: no pool named {name!r} (have {[p.name for p in self.pools]})")


# --- loading -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Loaded:
    """A validated configuration plus each adapter's validated settings."""

    config: Config
    settings: Mapping[tuple[str, int | None, str], Any]

    def source_settings(self, pool: str, index: int) -> Any:
        return self.settings[(pool, index, "source")]

    def provider_settings(self, pool: str) -> Any:
        return self.settings[(pool, None, "provider")]

    def drainer_settings(self, pool: str) -> Any:
        return self.settings[(pool, None, "drainer")]

    def sink_settings(self, index: int) -> Any:
        return self.settings[("", index, "sink")]


def seed_document(data: Any) -> bool:
    """A seed gateway Scaler configuration (even one missing some of its keys)?"""
    from fleetscale.compat.gateway_config import SEED_KEYS

    return isinstance(data, Mapping) and "pools" not in data and any(k in data for k in SEED_KEYS)


def parse(data: Any) -> Loaded:
    """Validate a decoded document. Raises ConfigError listing every problem."""
    if seed_document(data):
        from fleetscale.compat.gateway_config import seed_names, seed_to_document

        try:
            return _parse(seed_to_document(data))
        except ConfigError as exc:
            raise ConfigError(seed_names(exc.problems, data)) from None
    return _parse(data)


def _parse(data: Any) -> Loaded:
    if not isinstance(data, Mapping):
        raise ConfigError(f"(document): expected a mapping with 'pools' (got {type(data).__name__})")
    bad = document.problems(data)
    if bad:
        raise ConfigError(bad)
    try:
        config = validate_json(Config, data)
    except ValidationError as exc:
        lines = format_errors(exc, data)
        lines += [p for p in raw_adapter_problems(data) if p not in lines]
        raise ConfigError(lines) from None
    problems, settings = adapter_problems(config)
    problems = limits.problems(config.pools) + problems
    if problems:
        raise ConfigError(problems)
    return Loaded(config, settings)


def read_document(path: str | Path) -> Any:
    """The decoded YAML or JSON document of a file (``document.read``: refuses what is too
    big, too deep, binary, ambiguous or has a key twice)."""
    return document.read(path)


def load(path: str | Path) -> Loaded:
    return parse(read_document(path))
