"""Serving the API: uvicorn in a background thread, beside the controller of ``fleetscale run``
or alone for ``fleetscale serve`` (until SIGINT/SIGTERM).

Under ``run`` the server has its own database engine on the journal's URL (its reads never
wait for the controller's connections), its own event loop in one daemon thread, and learns
that cycles complete through ``CycleWatch``, a journal sink the controller calls after each
cycle. The socket is bound before the controller starts, so a port in use is one clear error
and nothing runs.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import structlog
import uvicorn

from fleetscale.api import catalogue
from fleetscale.api.app import Serving, build_app
from fleetscale.api.auth import Tokens, load_tokens
from fleetscale.api.views import ReadModel
from fleetscale.config import ApiConfig, Loaded
from fleetscale.errors import FleetscaleError, JournalError
from fleetscale.journal.record import CycleRecord
from fleetscale.journal.sql import SqlJournal

log = structlog.get_logger(__name__)


class CycleWatch:
    """A journal sink counting the cycles this process completed (``/readyz``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    def record(self, cycle: CycleRecord) -> None:
        with self._lock:
            self._count += 1

    def count(self) -> int:
        with self._lock:
            return self._count


def bind(api: ApiConfig) -> socket.socket:
    """A listening socket on ``api.listen``. Raises FleetscaleError naming the field."""
    family = socket.AF_INET6 if ":" in api.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((api.host, api.port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise FleetscaleError(f"api.listen: cannot listen on {api.listen}: {exc.strerror or exc} "
                              f"(got {api.listen})") from None
    sock.set_inheritable(True)
    return sock


def read_model(url: str) -> ReadModel:
    """The read model on its own engine (the controller's pool stays the controller's)."""
    store = SqlJournal(url)  # creates the journal's tables when missing (a fresh database)
    engine: sa.Engine = store.engine
    return ReadModel(engine)


class ApiServer:
    """uvicorn serving one application on a bound socket, in a daemon thread."""

    def __init__(self, serving: Serving, sock: socket.socket) -> None:
        self.sock = sock
        host, port = sock.getsockname()[:2]
        self.url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
        config = uvicorn.Config(build_app(serving), log_level="warning", access_log=False, lifespan="off",
                                log_config=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._serve, name="fleetscale-api", daemon=True)
        self.model = serving.model
        self.writable = serving.writable

    def _serve(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except BaseException as exc:  # never take the controller down
            log.error("api server stopped", error=f"{type(exc).__name__}: {exc}")

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        for _ in range(int(timeout / 0.02)):  # bounded wait for uvicorn to start
            if self.server.started or not self.thread.is_alive():
                break
            time.sleep(0.02)
        if not self.server.started:
            self.stop()
            raise FleetscaleError(f"api: the server did not start within {timeout:g} s")
        log.info("api listening", url=self.url, read_only=not self.writable)

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout)
        self.sock.close()
        self.model.engine.dispose()


class RunApi:
    """The API beside ``fleetscale run``'s controller. ``prepare`` before the controller is
    built (tokens read, socket bound: a bad token file or a port in use stops everything
    before it starts); ``sinks`` go to the controller; ``start`` publishes the pools and serves;
    ``close`` stops serving."""

    def __init__(self, loaded: Loaded, tokens: Tokens, sock: socket.socket) -> None:
        self.loaded = loaded
        self.tokens = tokens
        self.sock = sock
        self.watch = CycleWatch()
        self.sinks: tuple[CycleWatch, ...] = (self.watch,)
        self.server: ApiServer | None = None

    @classmethod
    def prepare(cls, loaded: Loaded, environ: Mapping[str, str] | None = None) -> RunApi:
        api = loaded.config.api
        if api is None:
            raise FleetscaleError("api: no api section in the configuration")
        tokens = load_tokens(api, environ)
        return cls(loaded, tokens, bind(api))

    def start(self, journal_errors: Callable[[], Mapping[str, str]] | None = None) -> None:
        """Publish the pools and serve; ``journal_errors`` (the controller's) makes ``/readyz``
        answer 503 while a pool's journal cannot be written."""
        model = read_model(self.loaded.config.journal.sql)
        try:
            catalogue.publish(model.engine, [catalogue.PoolSpec.of(p) for p in self.loaded.config.pools],
                              datetime.now(UTC))
        except JournalError:
            model.engine.dispose()
            raise
        self.server = ApiServer(Serving(model, self.tokens, writable=True, cycles_done=self.watch.count,
                                        journal_errors=journal_errors), self.sock)
        self.server.start()

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        self.sock.close()


def serve_journal(url: str, api: ApiConfig, environ: Mapping[str, str] | None = None,
                  stop: threading.Event | None = None) -> None:
    """``fleetscale serve``: a read-only view of a journal until ``stop`` is set or SIGINT/SIGTERM."""
    tokens = load_tokens(api, environ)
    sock = bind(api)
    try:
        server = ApiServer(Serving(read_model(url), tokens, writable=False), sock)
    except BaseException:
        sock.close()
        raise
    stop = stop or threading.Event()
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, frame: stop.set())
    try:
        server.start()
        while not stop.wait(0.2):
            pass
    finally:
        server.stop()
        for sig, before in previous.items():
            signal.signal(sig, before)
