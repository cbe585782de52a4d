"""Kamailio's events over evapi: fleetscale connects as a client and reads them.

The shipped ``kamailio.cfg`` loads ``evapi`` (package ``kamailio-extra-modules``) with
``netstring_format 1`` and relays, to every connected client, one JSON object per event::

    57:{"event":"register","user":"gw-1","ts":1796078093.163399},
    73:{"event":"call-start","dst":"sip:127.0.0.1:34275","ts":1796078094.257303},

Events: ``register`` (``save()`` inserted a contact), ``unregister`` (deleted one),
``expired`` (usrloc's timer dropped it), ``call-start`` (a call was routed to a gateway and
counts in its dialog profile), ``call-end``, ``call-failed``. ``ts`` is Kamailio's clock
(``$TV(Sn)``). An event is only a hint that something changed: fleetscale reads the truth
from the database and RPC in the cycle it triggers.

``NetstringDecoder`` is pure (bytes in, payloads out). ``EvapiWatch`` runs one thread: it
connects, decodes, hands each event to ``on_event``, and on any failure (Kamailio restarted,
connection refused, garbage framing) closes, waits (0.2 s doubling up to 5 s) and connects
again; every (re)connection calls ``on_connect`` since events may have been missed.
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from fleetscale.reconnect import keep_connected

log = structlog.get_logger(__name__)

#: a Kamailio event is a few hundred bytes; anything far larger is a framing error
MAX_PAYLOAD = 65536


class NetstringError(ValueError):
    """The byte stream is not netstring-framed (``<length>:<payload>,``)."""


class NetstringDecoder:
    """Incremental netstring decoder: ``feed(bytes) -> complete payloads``."""

    def __init__(self, max_size: int = MAX_PAYLOAD) -> None:
        self._buf = b""
        self._max = max_size

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while self._buf:
            colon = self._buf.find(b":", 0, len(str(self._max)) + 1)
            if colon < 0:
                if len(self._buf) > len(str(self._max)) or not self._buf.isdigit():
                    raise NetstringError(f"no length prefix in {self._buf[:20]!r}")
                break  # the length is still arriving
            head = self._buf[:colon]
            if not head.isdigit() or (len(head) > 1 and head.startswith(b"0")):
                raise NetstringError(f"bad length {head[:20]!r}")
            size = int(head)
            if size > self._max:
                raise NetstringError(f"payload of {size} bytes (at most {self._max})")
            end = colon + 1 + size
            if len(self._buf) <= end:
                break  # the payload (or its trailing comma) is still arriving
            if self._buf[end:end + 1] != b",":
                raise NetstringError("payload not followed by ','")
            out.append(self._buf[colon + 1:end])
            self._buf = self._buf[end + 1:]
        return out


@dataclass(frozen=True, slots=True)
class KamailioEvent:
    kind: str
    #: the AOR user of a registration event
    user: str | None = None
    #: the dispatcher destination of a call event (``sip:host:port``)
    dst: str | None = None
    #: Kamailio's clock, epoch seconds
    ts: float | None = None


def parse_event(payload: bytes) -> KamailioEvent:
    """One event; raises ValueError (naming what is wrong) on anything else."""
    try:
        doc = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON: {payload[:80]!r}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("event"), str) or not doc["event"]:
        raise ValueError(f"no event name: {payload[:80]!r}")

    def text(name: str) -> str | None:
        value = doc.get(name)
        return value if isinstance(value, str) and value else None

    ts = doc.get("ts")
    stamp = float(ts) if isinstance(ts, int | float) and not isinstance(ts, bool) else None
    return KamailioEvent(doc["event"][:64], text("user"), text("dst"),
                         stamp if stamp is not None and math.isfinite(stamp) else None)


def split_address(value: str) -> tuple[str, int]:
    """``host:port`` -> (host, port); raises ValueError naming what is wrong."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected host:port with a port 1-65535 (got {value!r})")
    return host.strip("[]"), int(port)


class EvapiWatch:
    """A thread reading Kamailio's evapi events until ``close()``."""

    def __init__(self, address: str, on_event: Callable[[KamailioEvent], None],
                 on_connect: Callable[[], None], on_garbage: Callable[[str], None],
                 name: str = "evapi", connect_timeout: float = 2.0, max_backoff: float = 5.0) -> None:
        self.host, self.port = split_address(address)
        self._on_event = on_event
        self._on_connect = on_connect
        self._on_garbage = on_garbage
        self._timeout = connect_timeout
        self._max_backoff = max_backoff
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        #: connections made so far (tests and the log read it)
        self.connections = 0
        self._thread = threading.Thread(target=self._loop, name=f"fleetscale-{name}", daemon=True)

    def start(self) -> EvapiWatch:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        def lost(exc: BaseException) -> None:
            log.warning("kamailio events unavailable; retrying", address=f"{self.host}:{self.port}",
                        error=f"{type(exc).__name__}: {exc}")

        keep_connected(self._session, self._stop, (OSError, NetstringError), lost, self._max_backoff)

    def _session(self) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=self._timeout)
        with self._lock:
            self._sock = sock
        try:
            sock.settimeout(0.5)
            self.connections += 1
            log.info("kamailio events connected", address=f"{self.host}:{self.port}")
            self._on_connect()
            decoder = NetstringDecoder()
            while not self._stop.is_set():
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    raise ConnectionResetError("kamailio closed the connection")
                for payload in decoder.feed(data):
                    try:
                        event = parse_event(payload)
                    except ValueError as exc:
                        self._on_garbage(str(exc))
                        continue
                    self._on_event(event)
        finally:
            with self._lock:
                self._sock = None
            sock.close()
