"""The kamailio source's watch: Kamailio's evapi events -> notifications and dispatcher sync.

- A registration event (``register``, ``unregister``, ``expired``) of a gateway with the
  pool's prefix brings the dispatcher set in line at once, on this watch's own thread (the
  registration path: the gateway joins the set within a second of registering, not at the
  next cycle), and notifies the pool (an extra cycle sees it registered and ready).
- A call event (``call-start``, ``call-end``, ``call-failed``) on one of the pool's gateways
  (or on any gateway while the pool's gateways are not known yet) notifies the pool.
- (Re)connecting notifies and syncs too: events may have been missed meanwhile. An event that
  cannot be read is logged and notifies (something changed).

Syncs are coalesced: one worker thread runs them one after another, and any number of events
arriving during a sync cause one more sync after it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

from fleetscale.kamailio.address import address_of
from fleetscale.kamailio.evapi import EvapiWatch, KamailioEvent

log = structlog.get_logger(__name__)

REGISTRATION_EVENTS = frozenset({"register", "unregister", "expired"})
CALL_EVENTS = frozenset({"call-start", "call-end", "call-failed"})


class KamailioWatch:
    def __init__(self, address: str, pool: str, notify: Callable[[str], None], prefix: str,
                 known: Callable[[], frozenset[str] | None], sync: Callable[[], None] | None) -> None:
        """``known()``: the pool's gateway addresses as last read (None: unknown); ``sync()``:
        bring the dispatcher set in line with the registrations now (None: not kept)."""
        self.pool = pool
        self._notify = notify
        self._prefix = prefix
        self._known = known
        self._sync = sync
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._syncer = threading.Thread(target=self._sync_loop, name=f"fleetscale-sync-{pool}", daemon=True)
        self._events = EvapiWatch(address, self._on_event, self._on_connect, self._on_garbage,
                                  f"evapi-{pool}")
        #: syncs run so far (tests read it)
        self.syncs = 0

    @property
    def connections(self) -> int:
        return self._events.connections

    def start(self) -> KamailioWatch:
        if self._sync is not None:
            self._syncer.start()
        self._events.start()
        return self

    def close(self) -> None:
        self._events.close()
        self._stop.set()
        self._wake.set()
        if self._syncer.is_alive():
            self._syncer.join(timeout=15)

    # --- events -------------------------------------------------------------------------

    def _on_event(self, event: KamailioEvent) -> None:
        if event.kind in REGISTRATION_EVENTS:
            if event.user is None or not event.user.startswith(self._prefix):
                return
            self._wake.set()
            self._notify(f"kamailio: {event.kind} {event.user}")
        elif event.kind in CALL_EVENTS:
            address = address_of(event.dst) if event.dst else None
            known = self._known()
            if known is not None and address not in known:
                return
            self._notify(f"kamailio: {event.kind} {address or '?'}")

    def _on_connect(self) -> None:
        self._wake.set()
        self._notify("kamailio: events connected")

    def _on_garbage(self, problem: str) -> None:
        log.warning("unreadable kamailio event", pool=self.pool, problem=problem)
        self._notify("kamailio: unreadable event")

    # --- dispatcher sync ----------------------------------------------------------------

    def _sync_loop(self) -> None:
        assert self._sync is not None
        while True:
            self._wake.wait()
            if self._stop.is_set():
                return
            self._wake.clear()
            try:
                self._sync()
                self.syncs += 1
            except Exception as exc:  # the next cycle syncs again; never kill the thread
                log.warning("dispatcher sync on a registration event failed", pool=self.pool, error=str(exc))
