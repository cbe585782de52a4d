"""Settings shared by the media source and drainer, and the client they open."""

from __future__ import annotations

from typing import Literal

import redis
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, SecretStr, field_validator

from fleetscale.errors import ConfigError
from fleetscale.media.keys import DEFAULT_PREFIX


class RedisMediaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: redis:// or rediss:// URL; may hold a password, so it is never logged
    url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    #: key prefix template; ``{pool}`` becomes the pool name (see docs/media-gateways.md)
    prefix: str = Field(default=DEFAULT_PREFIX)
    #: rooms one gateway of weight 1 holds when its hash has no ``capacity``;
    #: None = the pool's ``unit_capacity``
    rooms_per_gateway: PositiveInt | None = Field(default=None, le=1_000_000)
    socket_timeout: PositiveFloat = Field(default=2.0, le=300)

    @field_validator("prefix")
    @classmethod
    def _names_pool(cls, value: str) -> str:
        if "{pool}" not in value:
            raise ValueError("must contain {pool} so that pools do not share keys")
        return value

    def client(self) -> redis.Redis:
        """A client (connections open lazily). A malformed URL is a ConfigError that hides it."""
        try:
            return redis.Redis.from_url(
                self.url.get_secret_value(),
                decode_responses=True,
                socket_timeout=self.socket_timeout,
                socket_connect_timeout=self.socket_timeout,
            )
        except ValueError as exc:
            raise ConfigError(f"url: not a Redis URL: {exc} (got ***)") from None


LoadBasis = Literal["rooms", "participants"]
