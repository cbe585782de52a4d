"""Kamailio's RPC over JSON-RPC 2.0/HTTP (module ``jsonrpcs`` behind ``xhttp``).

One method per RPC fleetscale uses. Every failure (connection, HTTP status, a JSON-RPC
``error`` member, a reply of the wrong shape) raises ``RpcError``; callers wrap it in their
own error type. ``dispatcher.reload`` is rate-limited by the dispatcher's ``reload_delta``
(default 5 s): Kamailio answers ``500 Ongoing reload``, and ``reload_dispatcher`` retries
within a bounded time.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import httpx

from fleetscale.errors import FleetscaleError

ONGOING_RELOAD = "Ongoing reload"


class RpcError(FleetscaleError):
    """A Kamailio RPC failed. ``message`` is Kamailio's text when it answered."""

    def __init__(self, method: str, message: str) -> None:
        self.method = method
        self.message = message
        super().__init__(f"kamailio rpc {method}: {message}")


class KamailioRpc:
    def __init__(self, url: str, timeout: float = 5.0, client: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = url
        self._client = client or httpx.Client(timeout=timeout)
        self._ids = itertools.count(1)
        self._sleep = sleep

    def call(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "method": method, "params": list(params), "id": next(self._ids)}
        try:
            response = self._client.post(self.url, json=body)
            response.raise_for_status()
            reply = response.json()
        except httpx.HTTPStatusError as exc:  # its text quotes the URL, credentials and all
            status = exc.response
            raise RpcError(method, f"HTTP {status.status_code} {status.reason_phrase}") from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise RpcError(method, f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(reply, dict):
            raise RpcError(method, f"reply is not a JSON object (got {type(reply).__name__})")
        if "error" in reply:
            err = reply["error"]
            message = err.get("message", str(err)) if isinstance(err, dict) else str(err)
            raise RpcError(method, str(message))
        return reply.get("result")

    # --- dialog -------------------------------------------------------------------------

    def profile_size(self, profile: str, value: str | None = None) -> int:
        """Active dialogs in ``profile`` (with ``value``: for one gateway; without: all)."""
        params = (profile,) if value is None else (profile, value)
        result = self.call("dlg.profile_get_size", *params)
        if isinstance(result, bool) or not isinstance(result, int) or result < 0:
            raise RpcError("dlg.profile_get_size", f"expected a count (got {result!r})")
        return result

    def active_dialogs(self) -> int:
        result = self.call("stats.get_statistics", "active_dialogs")
        for line in result if isinstance(result, list) else []:
            name, _, value = str(line).partition(" = ")
            if name.strip() == "dialog:active_dialogs" and value.strip().isdigit():
                return int(value)
        raise RpcError("stats.get_statistics", f"no dialog:active_dialogs in {result!r}")

    # --- dispatcher -----------------------------------------------------------------------

    def set_state(self, state: str, setid: int, uri: str) -> None:
        """``state``: ``a`` active, ``i`` inactive, ``d`` disabled, ``p`` probing. In memory only."""
        self.call("dispatcher.set_state", state, setid, uri)

    def reload_dispatcher(self, budget: float = 12.0, pause: float = 0.5) -> None:
        """Reload the dispatcher from its table, retrying ``Ongoing reload`` for ``budget`` s."""
        attempts = max(1, int(budget / pause) + 1)
        for attempt in range(attempts):
            try:
                self.call("dispatcher.reload")
                return
            except RpcError as exc:
                if ONGOING_RELOAD not in exc.message or attempt == attempts - 1:
                    raise
                self._sleep(pause)

    def dispatcher_states(self) -> dict[tuple[int, str], str]:
        """``{(setid, uri): flags}`` from ``dispatcher.list`` (flags like ``AX``, ``IX``, ``DX``)."""
        result = self.call("dispatcher.list")
        states: dict[tuple[int, str], str] = {}
        records = result.get("RECORDS", []) if isinstance(result, dict) else []
        for record in records or []:
            group = record.get("SET", {})
            for target in group.get("TARGETS", []) or []:
                dest = target.get("DEST", {})
                states[(int(group.get("ID", 0)), str(dest.get("URI")))] = str(dest.get("FLAGS", ""))
        return states

    def close(self) -> None:
        self._client.close()
