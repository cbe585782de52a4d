"""Journal sink ``elasticsearch``: one document per pool per cycle (``CycleRecord.to_dict()``).

The SQL journal stays the source of truth; this sink is a copy for Kibana (one sink for every
pool; thread-safe). It never raises out of ``record``: a document is put in a bounded buffer
and the buffer is sent with the bulk API. While Elasticsearch is down or refuses, documents
wait in the buffer and the next cycle after ``retry_after`` seconds sends them all (catch-up);
when the buffer is full the oldest document is dropped and counted (``dropped``, logged as
``es_sink_dropped``).

Each document's ``_id`` is ``{pool}:{cycle_id}``, so a batch sent twice (a timeout after the
server stored it) overwrites instead of duplicating; ``@timestamp`` is the cycle's start.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from elasticsearch import Elasticsearch, helpers
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat, PositiveInt, SecretStr

from fleetscale.errors import ConfigError
from fleetscale.journal.record import CycleRecord

log = structlog.get_logger(__name__)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1)
    index: str = Field(default="fleetscale-cycles", pattern=r"^[a-z0-9][a-z0-9_.+-]{0,254}$")
    username: str | None = None
    password: SecretStr | None = None
    #: read the password from this environment variable (instead of ``password``)
    password_env: str | None = None
    api_key_env: str | None = None
    timeout: PositiveFloat = Field(default=5.0, le=300)
    #: documents kept while Elasticsearch is unreachable; beyond it the oldest are dropped
    buffer: PositiveInt = Field(default=10_000, le=1_000_000)
    #: documents per bulk request
    batch: PositiveInt = Field(default=500, le=100_000)
    #: seconds to wait after a failure before trying again (cycles in between only buffer)
    retry_after: NonNegativeFloat = Field(default=30.0, le=86400)
    verify_certs: bool = True


def make_client(settings: Settings, environ: Any = os.environ) -> Elasticsearch:
    options: dict[str, Any] = {"request_timeout": settings.timeout, "max_retries": 0,
                               "retry_on_timeout": False, "verify_certs": settings.verify_certs}
    password = settings.password.get_secret_value() if settings.password else None
    if password is None and settings.password_env:
        password = environ.get(settings.password_env) or None
    if settings.username:
        if password is None:
            where = settings.password_env or "password"
            raise ConfigError(f"sink.password: user {settings.username} needs a password "
                              f"(got nothing in {where})")
        options["basic_auth"] = (settings.username, password)
    if settings.api_key_env:
        key = environ.get(settings.api_key_env)
        if not key:
            raise ConfigError(f"sink.api_key_env: environment variable {settings.api_key_env} is not set "
                              "(got nothing)")
        options["api_key"] = key
    return Elasticsearch(settings.url, **options)


class ElasticsearchSink:
    """Buffers cycle documents and bulk-sends them; counts what it had to drop."""

    def __init__(self, settings: Settings, client: Elasticsearch, now: Any) -> None:
        self.settings = settings
        self.client = client
        self._now = now
        self._buffer: deque[tuple[str, dict[str, Any]]] = deque()
        self._next_try: datetime | None = None
        #: one sink serves every pool, each cycling in its own scheduler thread: one record or
        #: flush at a time (two flushes would send the same chunk and pop twice its length)
        self._lock = threading.Lock()
        self.sent = 0
        self.dropped = 0

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def record(self, cycle: CycleRecord) -> None:
        try:
            doc = cycle.to_dict()
            doc["@timestamp"] = doc["started_at"]
            with self._lock:
                self._push(f"{cycle.pool}:{cycle.cycle_id}", doc)
                self._flush(force=False)
        except Exception as exc:  # a journal copy must never break a cycle
            log.warning("es_sink_failed", error=f"{type(exc).__name__}: {exc}", buffered=self.buffered)

    def _push(self, ident: str, doc: dict[str, Any]) -> None:
        self._buffer.append((ident, doc))
        over = len(self._buffer) - self.settings.buffer
        for _ in range(max(0, over)):
            self._buffer.popleft()
        if over > 0:
            self.dropped += over
            log.warning("es_sink_dropped", dropped=over, dropped_total=self.dropped,
                        buffer=self.settings.buffer)

    def flush(self, force: bool = False) -> bool:
        """Send what is buffered. False if anything is left (down, or waiting ``retry_after``)."""
        with self._lock:
            return self._flush(force)

    def _flush(self, force: bool) -> bool:
        now = self._now()
        if not force and self._next_try is not None and now < self._next_try:
            return False
        while self._buffer:
            chunk = [self._buffer[i] for i in range(min(self.settings.batch, len(self._buffer)))]
            try:
                keep = self._send(chunk)
            except Exception as exc:
                self._next_try = _after(now, self.settings.retry_after)
                log.warning("es_sink_unavailable", error=f"{type(exc).__name__}: {exc}",
                            buffered=self.buffered, retry_after=self.settings.retry_after)
                return False
            for _ in chunk:
                self._buffer.popleft()
            if keep:  # the server was overloaded for some documents: retry them later
                self._buffer.extendleft(reversed(keep))
                self._next_try = _after(now, self.settings.retry_after)
                return False
        if self._next_try is not None:
            log.info("es_sink_caught_up", sent=self.sent, dropped=self.dropped)
        self._next_try = None
        return True

    def _send(self, chunk: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
        index = self.settings.index
        actions = [{"_op_type": "index", "_index": index, "_id": i, "_source": d} for i, d in chunk]
        ok, errors = helpers.bulk(self.client, actions, raise_on_error=False, raise_on_exception=True,
                                  max_retries=0, stats_only=False)
        self.sent += int(ok)
        failed = {_item_id(e): e for e in errors} if isinstance(errors, list) else {}
        keep = []
        for ident, doc in chunk:
            err = failed.get(ident)
            if err is None:
                continue
            item = _item(err)
            status = int(item.get("status", 0) or 0)
            if status == 429 or status >= 500:
                keep.append((ident, doc))
            else:
                self.dropped += 1
                log.warning("es_sink_rejected", id=ident, status=status,
                            error=str(item.get("error"))[:300])
        return keep

    def close(self) -> None:
        self.flush(force=True)
        self.client.close()


def _item(error: Any) -> dict[str, Any]:
    """The inner object of a bulk error item (``{"index": {...}}`` -> ``{...}``)."""
    if isinstance(error, dict) and error:
        inner = next(iter(error.values()))
        if isinstance(inner, dict):
            return inner
    return {}


def _item_id(error: Any) -> str | None:
    ident = _item(error).get("_id")
    return str(ident) if ident is not None else None


def _after(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)


def build(settings: Settings, ctx: Any) -> ElasticsearchSink:
    clock = getattr(ctx, "clock", None)
    if clock is not None:
        return ElasticsearchSink(settings, make_client(settings), clock.now)
    return ElasticsearchSink(settings, make_client(settings), lambda: datetime.now(UTC))
