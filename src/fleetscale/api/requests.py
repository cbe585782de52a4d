"""What the API accepts (request bodies, query values) and how it says no.

Every refusal is JSON ``{"error": "FIELD: message (got VALUE)", "field": "FIELD"}`` with a 4xx
status (the configuration's style of error line); a body or query value that does not
validate answers 422 naming the field as the client wrote it.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, field_validator

from fleetscale.config import redact


class ApiError(Exception):
    """A refusal: status, message, and the field it is about (if any)."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PauseBody(_Body):
    #: pause only this direction (default both)
    direction: Literal["up", "down"] | None = None
    reason: str = Field(min_length=1, max_length=500)


class ResumeBody(_Body):
    reason: str = Field(default="", max_length=500)


class HoldBody(_Body):
    units: NonNegativeInt
    #: ISO 8601 with a zone (``2026-01-05T18:00:00Z``) or ``+DURATION`` from now (``+2h``)
    until: str
    reason: str = Field(min_length=1, max_length=500)

    @field_validator("until")
    @classmethod
    def _until(cls, value: str) -> str:
        moment(value)
        return value

    def until_time(self, now: datetime) -> datetime:
        return moment(self.until, now)


def moment(text: str, now: datetime | None = None) -> datetime:
    """``+DURATION`` from now or an ISO 8601 time with zone (the CLI's ``--until``)."""
    from fleetscale.cli import moment as cli_moment

    try:
        return cli_moment(text, now)
    except argparse.ArgumentTypeError as exc:
        raise ValueError(str(exc)) from None


def since_time(text: str | None, now: datetime, default: timedelta) -> datetime:
    """``since=``: an ISO 8601 time with zone, or a duration back from now (``3h``, ``90m``)."""
    if not text:
        return now - default
    from fleetscale.cli import duration

    try:
        return now - timedelta(seconds=duration(text))
    except argparse.ArgumentTypeError:
        pass
    try:
        when = datetime.fromisoformat(text.replace(" ", "+"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise ApiError(422, f"since: expected an ISO 8601 time with zone or a duration like 3h "
                            f"(got {_shown(text)})", "since")
    return when.astimezone(UTC)


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = str(redact(text))
    return text if len(text) <= 80 else text[:77] + "..."


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in ("body", "query", "path", "header") else \
        [str(p) for p in loc]
    return ".".join(parts) or (str(loc[0]) if loc else "body")


def validation_problems(exc: RequestValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        field = _field(tuple(err.get("loc", ())))
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "missing":
            out.append((field, f"{field}: {msg} (got nothing)"))
        elif err.get("type") == "json_invalid":
            out.append(("body", f"body: not valid JSON: {err.get('ctx', {}).get('error', msg)}"))
        else:
            out.append((field, f"{field}: {msg} (got {_shown(err.get('input'))})"))
    return out


async def on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = validation_problems(exc)
    field, first = problems[0] if problems else ("body", "body: invalid")
    return JSONResponse({"error": first, "field": field, "problems": [p for _, p in problems]},
                        status_code=422)


async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse({"error": exc.message, "field": exc.field}, status_code=exc.status, headers=headers)
