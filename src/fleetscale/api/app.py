"""The FastAPI application: the read endpoints, the operator's write endpoints, the dashboard.

Read (JSON; schema at ``/api/openapi.json``)::

    GET /api/pools                         every pool at a glance
    GET /api/pools/{pool}                  one pool, with the operator's last actions
    GET /api/pools/{pool}/instances        id, type, state, sessions, age, address
    GET /api/pools/{pool}/decisions        ?limit=20&before=ID: journaled cycles, newest first
    GET /api/pools/{pool}/series           ?since=3h: load, demanded, ready, provisioned per cycle
    GET /healthz  GET /readyz

Write (bearer token; journaled with who, when, why; the CLI's operator store)::

    POST /api/pools/{pool}/pause   {"direction"?: "up"|"down", "reason": "..."}
    POST /api/pools/{pool}/resume  {"reason"?: "..."}
    POST /api/pools/{pool}/hold    {"units": 4, "until": "+2h" | ISO 8601, "reason": "..."}

The dashboard is ``/`` (``web/static``) with uPlot from ``web/vendor``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles

from fleetscale.api import values
from fleetscale.api.auth import WRITE_NAME, Tokens
from fleetscale.api.requests import (
    ApiError,
    HoldBody,
    PauseBody,
    ResumeBody,
    on_api_error,
    on_validation,
    since_time,
)
from fleetscale.api.views import MAX_POINTS, ReadModel
from fleetscale.config import redact
from fleetscale.errors import JournalError
from fleetscale.model import Direction

_bearer = HTTPBearer(auto_error=False, description="the api token (write) or read token")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
_CSP = ("default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'")


@dataclass(frozen=True)
class Serving:
    """What the application serves from."""

    model: ReadModel
    tokens: Tokens
    #: False under ``fleetscale serve`` (a read-only view): the write endpoints answer 403
    writable: bool
    #: cycles this process completed (None: it runs no controller)
    cycles_done: Callable[[], int] | None = None
    #: pools whose journal or state the controller cannot write (``Controller.journal_errors``)
    journal_errors: Callable[[], Mapping[str, str]] | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)


def _serving(request: Request) -> Serving:
    serving: Serving = request.app.state.serving
    return serving


def _reader(request: Request, cred: Credentials) -> str:
    """Who reads: anyone, unless a read token is configured (then either token)."""
    s = _serving(request)
    if s.tokens.read_open:
        return "anyone"
    who = s.tokens.who(cred.credentials if cred else None)
    if who is None:
        raise ApiError(401, "a bearer token is needed to read (Authorization: Bearer TOKEN)", "Authorization")
    return who


def _writer(request: Request, cred: Credentials) -> str:
    """Who writes: only the write token's holder (401 without a token, 403 with the read token)."""
    s = _serving(request)
    if not s.writable or s.tokens.write is None:
        raise ApiError(403, "this server is read-only (fleetscale serve, or no api.token_file / "
                            "api.token_env configured)")
    who = s.tokens.who(cred.credentials if cred else None)
    if who is None:
        raise ApiError(401, "a bearer token is needed (Authorization: Bearer TOKEN)", "Authorization")
    if who != WRITE_NAME:
        raise ApiError(403, "this token may only read", "Authorization")
    return who


Reader = Annotated[str, Depends(_reader)]
Writer = Annotated[str, Depends(_writer)]


def build_app(s: Serving) -> FastAPI:
    app = FastAPI(title="fleetscale", version="1", openapi_url="/api/openapi.json", docs_url=None,
                  redoc_url=None, description="Pools, their instances and decisions; pause, resume, hold.")
    app.state.serving = s
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(ApiError, on_api_error)

    @app.exception_handler(JournalError)
    async def _journal_down(request: Request, exc: JournalError) -> JSONResponse:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__  # never the SQL text
        return JSONResponse({"error": f"journal unavailable: {redact(first)}", "field": None},
                            status_code=503)

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], object]) -> Response:
        response: Response = await call_next(request)  # type: ignore[misc]
        if request.url.path.startswith("/api/") or request.url.path in ("/healthz", "/readyz"):
            response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    def known(pool: str) -> None:
        if not s.model.has_pool(pool):
            names = s.model.pool_names()
            raise ApiError(404, f"pool: no pool named {pool!r} (have: {', '.join(names) or 'none'})", "pool")

    # --- read -------------------------------------------------------------------------

    @app.get("/api/pools", response_model=values.PoolList, tags=["read"])
    def pools(_: Reader) -> values.PoolList:
        return values.PoolList(tuple(s.model.pools(s.now())))

    @app.get("/api/pools/{pool}", response_model=values.PoolDetail, tags=["read"])
    def pool(pool: str, _: Reader) -> values.PoolDetail:
        known(pool)
        view = s.model.pool(pool, s.now(), s.model.specs().get(pool))
        return values.PoolDetail(view, s.model.actions(pool))

    @app.get("/api/pools/{pool}/instances", response_model=values.InstanceList, tags=["read"])
    def instances(pool: str, _: Reader) -> values.InstanceList:
        known(pool)
        return s.model.instances(pool)

    @app.get("/api/pools/{pool}/decisions", response_model=values.DecisionPage, tags=["read"])
    def decisions(pool: str, _: Reader, limit: Annotated[int, Query(ge=1, le=500)] = 20,
                  before: Annotated[int | None, Query(ge=1)] = None) -> values.DecisionPage:
        known(pool)
        return s.model.decisions(pool, limit, before)

    @app.get("/api/pools/{pool}/series", response_model=values.Series, tags=["read"])
    def series(pool: str, _: Reader, since: str | None = None,
               max_points: Annotated[int, Query(ge=10, le=20_000)] = MAX_POINTS) -> values.Series:
        when = since_time(since, s.now(), timedelta(hours=3))
        known(pool)
        return s.model.series(pool, when, s.model.specs().get(pool), max_points)

    # --- write ------------------------------------------------------------------------

    def done(pool: str, action: values.OperatorAction) -> values.ActionDone:
        paused, held = s.model.controls(pool, s.now())
        return values.ActionDone(pool, action, paused, held)

    @app.post("/api/pools/{pool}/pause", response_model=values.ActionDone, tags=["write"])
    def pause(pool: str, body: PauseBody, who: Writer) -> values.ActionDone:
        known(pool)
        direction = Direction(body.direction) if body.direction else None
        e = s.model.operator_log.pause(pool, direction, body.reason, who, s.now())
        return done(pool, values.OperatorAction(e.at.isoformat(), e.who, e.action, e.detail, e.reason))

    @app.post("/api/pools/{pool}/resume", response_model=values.ActionDone, tags=["write"])
    def resume(pool: str, who: Writer, body: ResumeBody | None = None) -> values.ActionDone:
        known(pool)
        e = s.model.operator_log.resume(pool, body.reason if body else "", who, s.now())
        return done(pool, values.OperatorAction(e.at.isoformat(), e.who, e.action, e.detail, e.reason))

    @app.post("/api/pools/{pool}/hold", response_model=values.ActionDone, tags=["write"])
    def hold(pool: str, body: HoldBody, who: Writer) -> values.ActionDone:
        known(pool)
        now = s.now()
        until = body.until_time(now)
        if until <= now:
            raise ApiError(422, f"until: must be in the future (got {body.until})", "until")
        spec = s.model.specs().get(pool)
        if spec is not None and not spec.min <= body.units <= spec.max:
            raise ApiError(422, f"units: must be within the pool's min..max {spec.min}..{spec.max} "
                                f"(got {body.units})", "units")
        e = s.model.operator_log.hold(pool, body.units, until, body.reason, who, now)
        return done(pool, values.OperatorAction(e.at.isoformat(), e.who, e.action, e.detail, e.reason))

    # --- health -----------------------------------------------------------------------

    @app.get("/healthz", response_model=values.Health, tags=["health"])
    def healthz() -> values.Health:
        return values.Health(ok=True)

    @app.get("/readyz", response_model=values.Readiness, tags=["health"],
             responses={503: {"model": values.Readiness}})
    def readyz() -> JSONResponse:
        cycles = s.cycles_done() if s.cycles_done else None
        try:
            s.model.ping()
        except JournalError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return _ready(False, f"unavailable: {redact(first)}", cycles, "the journal does not answer")
        if cycles == 0:
            return _ready(False, "ok", cycles, "the controller has not completed a cycle yet")
        failing = s.journal_errors() if s.journal_errors else {}
        if failing:
            why = "; ".join(f"pool {pool}: {redact(text)}" for pool, text in sorted(failing.items()))
            return _ready(False, "ok", cycles, f"the controller cannot write its journal: {why}")
        return _ready(True, "ok", cycles, None)

    # --- the dashboard ----------------------------------------------------------------

    web = resources.files("fleetscale.web")
    static, vendor = str(web.joinpath("static")), str(web.joinpath("vendor"))
    app.mount("/static", StaticFiles(directory=static), name="static")
    app.mount("/vendor", StaticFiles(directory=vendor), name="vendor")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(f"{static}/index.html", media_type="text/html")

    return app


def _ready(ready: bool, journal: str, cycles: int | None, why: str | None) -> JSONResponse:
    body = {"ready": ready, "journal": journal, "cycles": cycles, "why": why}
    return JSONResponse(body, status_code=200 if ready else 503)
