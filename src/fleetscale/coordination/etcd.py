"""The ``etcd`` lease backend: etcd leases and transactions through ``etcd3gw`` (etcd's HTTP
JSON gateway; the ``etcd3`` gRPC client does not import with current protobuf).

Keys, under ``prefix`` (default ``/fleetscale``)::

    PREFIX/leases/POOL      value: the holder's name, attached to the holder's etcd lease
    PREFIX/replicas/NAME    membership, attached to the same etcd lease

Each replica keeps **one** etcd lease (TTL = the coordination TTL) and refreshes it once per
heartbeat; every pool key it holds hangs on that lease, so renewing all its pools is one
keep-alive, and when the replica stops refreshing, etcd deletes all its keys at once.

Taking a pool is one transaction: ``if create_revision(key) == 0 then put(key, me, lease) else
range(key)``. The fencing token is the key's ``mod_revision``: etcd's revision is global and only
grows, so a new holder's token is higher than every earlier one, and a renewal (a keep-alive)
does not change it. Writes kept in etcd are fenced with ``put_if_current`` (``compare
mod_revision(key) == token`` in the same txn); writes kept in SQL use ``fence.TokenFence``.

The local deadline of every lease is the monotonic time read before the last grant or
keep-alive request plus the TTL *asked for*; etcd may round a lease's TTL up, never down.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from etcd3gw.client import Etcd3Client
from etcd3gw.exceptions import ConnectionFailedError, ConnectionTimeoutError, Etcd3Exception
from etcd3gw.utils import _decode, _encode

from fleetscale.coordination.lease import Holder, Lease
from fleetscale.errors import ConfigError, CoordinationError, FencingError


@dataclass(frozen=True, slots=True)
class _Grant:
    """One replica's etcd lease and the local time its last grant/keep-alive was sent."""

    id: int
    ttl: float
    sent_at: float


def _range_end(prefix: str) -> str:
    raw = bytearray(prefix.encode())
    raw[-1] += 1
    return _encode(bytes(raw))


def parse_endpoint(url: str) -> tuple[str, str, int]:
    """``http://host:port`` -> (protocol, host, port); a ConfigError names the bad endpoint."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"coordination.endpoints: expected http://HOST:PORT (got {url})")
    try:
        port = parts.port or 2379
    except ValueError:
        raise ConfigError(f"coordination.endpoints: bad port (got {url})") from None
    return parts.scheme, parts.hostname, port


class EtcdLeases:
    """``LeaseBackend`` on etcd. ``endpoints`` are tried in turn when one cannot be reached."""

    def __init__(self, endpoints: Sequence[str], *, prefix: str = "/fleetscale", timeout: float = 2.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if not endpoints:
            raise ConfigError("coordination.endpoints: the etcd backend needs at least one endpoint")
        self._clients = [Etcd3Client(host=h, port=p, protocol=s, api_path="/v3/", timeout=timeout)
                         for s, h, p in map(parse_endpoint, endpoints)]
        self._current = 0
        self.prefix = prefix.rstrip("/")
        self._monotonic = monotonic
        self._grants: dict[str, _Grant] = {}
        self._registered: dict[str, int] = {}

    # --- plumbing ---------------------------------------------------------------------

    def _post(self, what: str, path: str, body: Mapping[str, Any]) -> Any:
        last: Exception | None = None
        for _ in range(len(self._clients)):
            client = self._clients[self._current]
            try:
                return client.post(client.get_url(path), json=body)
            except (ConnectionFailedError, ConnectionTimeoutError) as exc:
                last = exc
                self._current = (self._current + 1) % len(self._clients)
            except Etcd3Exception as exc:
                raise CoordinationError(f"etcd: {what} failed: {exc}") from exc
        raise CoordinationError(f"etcd: {what} failed: no endpoint answered ({last})") from last

    def _key(self, kind: str, name: str) -> str:
        return f"{self.prefix}/{kind}/{name}"

    def _range(self, kind: str) -> list[dict[str, Any]]:
        start = f"{self.prefix}/{kind}/"
        body = {"key": _encode(start), "range_end": _range_end(start)}
        return list(self._post(f"list {kind}", "/kv/range", body).get("kvs", []))

    def _name(self, kind: str, kv: Mapping[str, Any]) -> str:
        return _decode(kv["key"]).decode()[len(f"{self.prefix}/{kind}/"):]

    def _grant(self, replica: str, ttl: float, *, refresh: bool) -> _Grant:
        """The replica's etcd lease: granted if missing or expired; kept alive if ``refresh`` or
        if its last keep-alive is older than half the TTL."""
        grant = self._grants.get(replica)
        sent = self._monotonic()
        if grant is not None and grant.ttl == ttl and not refresh and sent < grant.sent_at + ttl / 2:
            return grant
        if grant is not None and grant.ttl == ttl:
            alive = self._post("keep-alive", "/lease/keepalive", {"ID": grant.id})
            if int(alive.get("result", {}).get("TTL", -1)) > 0:
                grant = _Grant(grant.id, ttl, sent)
                self._grants[replica] = grant
                return grant
        reply = self._post("grant lease", "/lease/grant", {"TTL": max(1, int(-(-ttl // 1)))})
        grant = _Grant(int(reply["ID"]), ttl, sent)
        self._grants[replica] = grant
        return grant

    # --- leases -----------------------------------------------------------------------

    def acquire_or_renew(self, pool: str, replica: str, ttl: float) -> Lease | None:
        grant = self._grant(replica, ttl, refresh=False)
        key = _encode(self._key("leases", pool))
        reply = self._post(f"take {pool}", "/kv/txn", {
            "compare": [{"key": key, "result": "EQUAL", "target": "CREATE", "create_revision": 0}],
            "success": [{"request_put": {"key": key, "value": _encode(replica), "lease": grant.id}}],
            "failure": [{"request_range": {"key": key}}],
        })
        if reply.get("succeeded"):
            return Lease(pool, replica, int(reply["header"]["revision"]), grant.sent_at + ttl)
        kvs = reply["responses"][0]["response_range"].get("kvs", [])
        if not kvs:  # deleted between compare and range: cannot happen in one txn; be safe
            return None
        kv = kvs[0]
        if _decode(kv["value"]).decode() == replica and int(kv.get("lease", 0)) == grant.id:
            return Lease(pool, replica, int(kv["mod_revision"]), grant.sent_at + ttl)
        return None

    def acquire_many(self, pools: Sequence[str], replica: str, ttl: float) -> Mapping[str, Lease]:
        """One transaction per pool (etcd's txn is all-or-nothing, so pools cannot share one)."""
        got: dict[str, Lease] = {}
        for pool in pools:
            lease = self.acquire_or_renew(pool, replica, ttl)
            if lease is not None:
                got[pool] = lease
        return got

    def renew_all(self, replica: str, ttl: float) -> Mapping[str, Lease]:
        grant = self._grant(replica, ttl, refresh=True)
        return {self._name("leases", kv): Lease(self._name("leases", kv), replica, int(kv["mod_revision"]),
                                                grant.sent_at + ttl)
                for kv in self._range("leases")
                if int(kv.get("lease", 0)) == grant.id and _decode(kv["value"]).decode() == replica}

    def release(self, pool: str, replica: str, token: int) -> None:
        key = _encode(self._key("leases", pool))
        self._post(f"release {pool}", "/kv/txn", {
            "compare": [{"key": key, "result": "EQUAL", "target": "MOD", "mod_revision": token},
                        {"key": key, "result": "EQUAL", "target": "VALUE", "value": _encode(replica)}],
            "success": [{"request_delete_range": {"key": key}}],
            "failure": [],
        })

    def release_many(self, tokens: Mapping[str, int], replica: str) -> None:
        """One transaction per pool (each compares its own revision)."""
        for pool, token in tokens.items():
            self.release(pool, replica, token)

    def holders(self) -> Mapping[str, Holder]:
        return {self._name("leases", kv): Holder(_decode(kv["value"]).decode(), int(kv["mod_revision"]))
                for kv in self._range("leases")}

    def check(self, pool: str, token: int) -> bool:
        reply = self._post(f"check {pool}", "/kv/range", {"key": _encode(self._key("leases", pool))})
        kvs = reply.get("kvs", [])
        return bool(kvs) and int(kvs[0]["mod_revision"]) == token

    def put_if_current(self, pool: str, token: int, key: str, value: str) -> None:
        """Write ``key`` (any key) only while ``token`` is ``pool``'s current token, in one txn;
        raises ``FencingError`` otherwise. For state kept in etcd."""
        lease_key = _encode(self._key("leases", pool))
        reply = self._post(f"fenced write for {pool}", "/kv/txn", {
            "compare": [{"key": lease_key, "result": "EQUAL", "target": "MOD", "mod_revision": token}],
            "success": [{"request_put": {"key": _encode(key), "value": _encode(value)}}],
            "failure": [],
        })
        if not reply.get("succeeded"):
            raise FencingError(f"pool {pool}: write with lease token {token} refused: "
                               "another replica holds the pool or the lease expired")

    # --- membership -------------------------------------------------------------------

    def register_replica(self, replica: str, ttl: float) -> None:
        grant = self._grant(replica, ttl, refresh=True)
        if self._registered.get(replica) != grant.id:
            key = _encode(self._key("replicas", replica))
            self._post("register", "/kv/put", {"key": key, "value": _encode(replica), "lease": grant.id})
            self._registered[replica] = grant.id

    def deregister_replica(self, replica: str) -> None:
        """Revoke the replica's etcd lease: its membership and any pool it still holds go at once."""
        grant = self._grants.pop(replica, None)
        self._registered.pop(replica, None)
        if grant is not None:
            self._post("revoke lease", "/lease/revoke", {"ID": grant.id})
        self._post("leave", "/kv/deleterange", {"key": _encode(self._key("replicas", replica))})

    def live_replicas(self) -> frozenset[str]:
        return frozenset(self._name("replicas", kv) for kv in self._range("replicas"))

    def close(self) -> None:
        for client in self._clients:
            client.session.close()
