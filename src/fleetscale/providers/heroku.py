"""Provider ``heroku``: one process type's dyno formation, through the Platform API v3 (httpx).

Heroku scales a formation by its *quantity*; it cannot be told which dyno to stop. So the
dynos of process type ``worker`` in app ``shop`` are modelled as instances
``shop.worker.1 .. shop.worker.N`` (N = quantity):

- ``list()``        GET   /apps/{app}/formation/{type}    -> N ready instances
- ``launch(t, k)``  PATCH /apps/{app}/formation/{type}    {"quantity": N + k}
- ``terminate(ids)``PATCH /apps/{app}/formation/{type}    {"quantity": N - len(ids)}
- ``resize(size)``  PATCH /apps/{app}/formation/{type}    {"dyno_size": {"name": size}}

A stopped dyno gets SIGTERM and 30 s to exit, then SIGKILL: a worker must finish or give
back its job within that time (an SQS message it has not deleted reappears after its
visibility timeout, so nothing is lost, only delayed).

Every request sends ``Accept: application/vnd.heroku+json; version=3`` and the bearer token
(read from an environment variable or a file; never logged). The API's rate limit is honoured:
when ``RateLimit-Remaining`` falls below ``low_remaining`` calls are paced at the refill rate,
and a 429 (or 5xx, or a transport error) is retried with exponential backoff, at most
``max_retries`` times. Other errors become ProviderErrors built from the body's ``id`` and
``message``.

A request id's quantities (before, asked) are remembered *before* its PATCH is sent, so a launch
or terminate replayed after a lost answer (the change was made, the reply was a 5xx or never
came) asks the same absolute quantity again instead of adding or removing its count twice. The
memory is per process: a launch replayed after a restart of fleetscale adds its count once
more (the next cycle's decision scales the surplus back down).
"""

from __future__ import annotations

import builtins
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import structlog
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveFloat, SecretStr

from fleetscale.errors import ConfigError, ProviderError
from fleetscale.model import Instance, InstanceState

log = structlog.get_logger(__name__)

ACCEPT = "application/vnd.heroku+json; version=3"
#: seconds a dyno has between SIGTERM and SIGKILL
SHUTDOWN_GRACE = 30.0
_HINTS = {
    401: "the token is missing, invalid or expired",
    403: "the token's account may not change this app",
    404: "no such app or process type",
    422: "the API refused the values",
}


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    app: str = Field(min_length=1)
    process_type: str = Field(default="worker", pattern=r"^[-\w]{1,128}$")
    #: the environment variable that holds the API token (ignored when token_file is set)
    token_env: str = "HEROKU_API_KEY"
    token_file: Path | None = None
    api_url: str = "https://api.heroku.com"
    timeout: PositiveFloat = Field(default=10.0, le=300)
    max_retries: NonNegativeInt = Field(default=4, le=20)
    #: first retry delay in seconds; doubles per retry, capped at max_backoff
    backoff: PositiveFloat = Field(default=1.0, le=300)
    max_backoff: PositiveFloat = Field(default=60.0, le=3600)
    #: below this many RateLimit-Remaining tokens, wait one token's refill before each call
    low_remaining: NonNegativeInt = Field(default=100, le=100_000)
    refill_per_minute: PositiveFloat = Field(default=75.0, le=100_000)
    user_agent: str = "fleetscale"


def read_token(settings: Settings, environ: Any = os.environ) -> SecretStr:
    if settings.token_file is not None:
        try:
            text = settings.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"provider.token_file: cannot read it: {exc.strerror} "
                              f"(got {settings.token_file})") from None
        if not text:
            raise ConfigError(f"provider.token_file: the file is empty (got {settings.token_file})")
        return SecretStr(text)
    value = environ.get(settings.token_env, "").strip()
    if not value:
        raise ConfigError(f"provider.token_env: environment variable {settings.token_env} is not set "
                          "(got nothing)")
    return SecretStr(value)


class HerokuApi:
    """The few Platform API calls fleetscale needs, with rate-limit pacing and retries."""

    def __init__(self, settings: Settings, token: SecretStr, sleep: Callable[[float], None] = time.sleep,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.sleep = sleep
        self.remaining: int | None = None
        self._http = httpx.Client(
            base_url=settings.api_url.rstrip("/"),
            timeout=settings.timeout,
            transport=transport,
            headers={"Accept": ACCEPT, "User-Agent": settings.user_agent,
                     "Authorization": f"Bearer {token.get_secret_value()}"},
        )

    def close(self) -> None:
        self._http.close()

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if retry_after and retry_after.isdigit():
            return min(float(retry_after), self.settings.max_backoff)
        return min(self.settings.backoff * float(2**attempt), self.settings.max_backoff)

    def _pace(self) -> None:
        if self.remaining is not None and self.remaining < self.settings.low_remaining:
            wait = 60.0 / self.settings.refill_per_minute
            log.info("heroku_rate_limit_low", remaining=self.remaining, wait=wait)
            self.sleep(wait)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        what = f"heroku {method} {path}"
        for attempt in range(self.settings.max_retries + 1):
            if attempt == 0:
                self._pace()  # a retry has waited its backoff already
            response: httpx.Response | None = None
            try:
                response = self._http.request(method, path, json=body)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                remaining = response.headers.get("RateLimit-Remaining", "")
                if remaining.isdigit():
                    self.remaining = int(remaining)
                if response.is_success:
                    try:
                        return response.json()
                    except ValueError as exc:
                        raise ProviderError(f"{what}: {response.status_code} with a body that is not "
                                            "JSON") from exc
                if response.status_code != 429 and response.status_code < 500:
                    raise ProviderError(f"{what}: {_explain(response)}")
                problem = _explain(response)
            if attempt == self.settings.max_retries:
                raise ProviderError(f"{what}: {problem}; gave up after {attempt + 1} attempts")
            delay = self._delay(attempt, response)
            log.warning("heroku_retry", call=what, problem=problem, attempt=attempt + 1, wait=delay)
            self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def formation(self, app: str, process_type: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/apps/{app}/formation/{process_type}"))

    def formations(self, app: str) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/apps/{app}/formation"))

    def update(self, app: str, process_type: str, quantity: int | None = None,
               size: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if quantity is not None:
            body["quantity"] = quantity
        if size is not None:
            body["dyno_size"] = {"name": size}
        return dict(self.call("PATCH", f"/apps/{app}/formation/{process_type}", body))


def _explain(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    ident = body.get("id", "error")
    message = body.get("message", response.reason_phrase)
    hint = _HINTS.get(response.status_code)
    return f"{response.status_code} {ident}: {message}" + (f" ({hint})" if hint else "")


def _size(formation: dict[str, Any]) -> str:
    dyno_size = formation.get("dyno_size")
    if isinstance(dyno_size, dict) and dyno_size.get("name"):
        return str(dyno_size["name"])
    return str(formation.get("size") or "default")


class HerokuProvider:
    """A formation's dynos as instances ``{app}.{type}.{n}``; quantity is all Heroku lets us set."""

    def __init__(self, settings: Settings, api: HerokuApi, weights: Mapping[str, int] | None = None) -> None:
        self.settings = settings
        self.api = api
        #: capacity units per dyno, by dyno size (the pool's instance_types); 1 when not named
        self.weights = dict(weights or {})
        #: request_id -> (quantity before, absolute quantity asked for): a retried plan PATCHes
        #: the same quantity and a retried launch answers with the same dynos
        self._requests: OrderedDict[str, tuple[int, int]] = OrderedDict()

    @property
    def prefix(self) -> str:
        return f"{self.settings.app}.{self.settings.process_type}."

    def _instances(self, quantity: int, size: str, first: int = 1,
                   state: InstanceState = InstanceState.READY) -> list[Instance]:
        tags = {"app": self.settings.app, "process_type": self.settings.process_type}
        weight = self.weights.get(size, 1)
        return [Instance(id=f"{self.prefix}{n}", type=size, state=state, weight=weight, tags=tags)
                for n in range(first, quantity + 1)]

    def _current(self) -> tuple[int, str]:
        formation = self.api.formation(self.settings.app, self.settings.process_type)
        try:
            return int(formation["quantity"]), _size(formation)
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderError(f"heroku formation {self.settings.process_type}: "
                                f"no readable quantity in {formation!r}") from exc

    def _remember(self, request_id: str, before: int, quantity: int) -> None:
        self._requests[request_id] = (before, quantity)
        while len(self._requests) > 256:
            self._requests.popitem(last=False)

    def list(self) -> list[Instance]:
        quantity, size = self._current()
        return self._instances(quantity, size)

    def launch(self, type: str, count: int, request_id: str) -> builtins.list[Instance]:
        current, size = self._current()
        before, target = self._requests.get(request_id, (current, current + count))
        resize = type if type not in ("default", size) else None
        # remembered before the PATCH: if its answer is lost (5xx after the change, a timeout),
        # a replay of this request asks the same quantity instead of adding ``count`` again
        self._remember(request_id, before, target)
        if target > current or resize is not None:
            self.api.update(self.settings.app, self.settings.process_type,
                            quantity=max(target, current), size=resize)
            log.info("heroku_scaled", app=self.settings.app, process_type=self.settings.process_type,
                     quantity_from=current, quantity_to=max(target, current), request_id=request_id)
        # a retry answers with the dynos this request made, not an empty list
        return self._instances(target, resize or size, first=before + 1, state=InstanceState.PENDING)

    def terminate(self, ids: Sequence[str], request_id: str) -> None:
        foreign = [i for i in ids if not i.startswith(self.prefix) or not i[len(self.prefix):].isdigit()]
        if foreign:
            raise ProviderError(f"heroku: not dynos of {self.prefix}N: {sorted(foreign)}")
        current, _ = self._current()
        live = {i for i in ids if int(i[len(self.prefix):]) <= current}
        before, target = self._requests.get(request_id, (current, max(0, current - len(live))))
        if target >= current:
            return
        self._remember(request_id, before, target)  # before the PATCH, as in launch()
        self.api.update(self.settings.app, self.settings.process_type, quantity=target)
        log.info("heroku_scaled", app=self.settings.app, process_type=self.settings.process_type,
                 quantity_from=current, quantity_to=target, request_id=request_id)

    def resize(self, size: str) -> None:
        """Change the dyno size of the whole process type (Heroku restarts its dynos)."""
        self.api.update(self.settings.app, self.settings.process_type, size=size)

    def close(self) -> None:
        self.api.close()


def build(settings: Settings, ctx: Any) -> HerokuProvider:
    sleep = ctx.clock.sleep if ctx is not None else time.sleep
    weights = {t.name: t.weight for t in ctx.pool.instance_types} if ctx is not None else None
    return HerokuProvider(settings, HerokuApi(settings, read_token(settings), sleep=sleep), weights)
