"""Bearer tokens of the HTTP API.

Two tokens, each read from a file or an environment variable when the server starts:

- the **write** token (``api.token_file`` / ``api.token_env``) may pause, resume and hold;
  without one, the API is read-only (the write endpoints answer 403);
- the optional **read** token (``api.read_token_file`` / ``api.read_token_env``): when it is
  set, reading needs a token too (either one); writing with it answers 403.

A request without a token where one is needed answers 401, with an unknown token 401, with
the read token on a write endpoint 403. Tokens are compared in constant time
(``hmac.compare_digest``) and never logged or served.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fleetscale.config import ApiConfig
from fleetscale.errors import ConfigError

#: who a write is journaled as, by token
WRITE_NAME = "api"
READ_NAME = "api-read"


@dataclass(frozen=True)
class Tokens:
    """The tokens the server accepts (repr hides them)."""

    write: bytes | None = field(default=None, repr=False)
    read: bytes | None = field(default=None, repr=False)

    @property
    def read_open(self) -> bool:
        """Reading needs no token (no read token configured)."""
        return self.read is None

    def who(self, presented: str | None) -> str | None:
        """The name of the token presented (``api`` or ``api-read``), None if it is neither."""
        if not presented:
            return None
        given = presented.encode("utf-8")
        # compare with both, always, so the time taken does not tell which one exists
        is_write = self.write is not None and hmac.compare_digest(given, self.write)
        is_read = self.read is not None and hmac.compare_digest(given, self.read)
        if is_write:
            return WRITE_NAME
        return READ_NAME if is_read else None


def _one(file: Path | None, env: str | None, field_file: str, field_env: str,
         environ: Mapping[str, str]) -> bytes | None:
    if file is not None:
        try:
            text = file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"api.{field_file}: cannot read it: {exc.strerror} (got {file})") from None
        if not text:
            raise ConfigError(f"api.{field_file}: the file is empty (got {file})")
        return text.encode("utf-8")
    if env is not None:
        value = environ.get(env, "").strip()
        if not value:
            raise ConfigError(f"api.{field_env}: environment variable {env} is not set or empty (got {env})")
        return value.encode("utf-8")
    return None


def load_tokens(api: ApiConfig, environ: Mapping[str, str] | None = None) -> Tokens:
    """Read the configured tokens. Raises ConfigError naming the field (never the token)."""
    environ = os.environ if environ is None else environ
    write = _one(api.token_file, api.token_env, "token_file", "token_env", environ)
    read = _one(api.read_token_file, api.read_token_env, "read_token_file", "read_token_env", environ)
    if write is not None and read is not None and hmac.compare_digest(write, read):
        raise ConfigError("api.read_token_file: the read token must differ from the write token "
                          "(got the same token)")
    return Tokens(write=write, read=read)
