"""Keeping an event connection up (I/O shell): run a session until it ends or fails, then
connect again after a pause that doubles from 0.2 s up to a cap; stop when asked. One warning
per run of failures, so a long outage logs one line, not one per attempt. Used by the
Kamailio evapi watch and the Redis media watch."""

from __future__ import annotations

import threading
from collections.abc import Callable

FIRST_PAUSE = 0.2


def keep_connected(session: Callable[[], None], stop: threading.Event,
                   errors: tuple[type[BaseException], ...], on_failure: Callable[[BaseException], None],
                   max_backoff: float) -> None:
    """Run ``session`` again and again until ``stop`` is set. ``errors`` are the failures of a
    lost connection (anything else is a bug and propagates); ``on_failure`` is told the first
    of each run of them."""
    backoff, failing = FIRST_PAUSE, False
    while not stop.is_set():
        try:
            session()
            backoff, failing = FIRST_PAUSE, False
        except errors as exc:
            if not failing and not stop.is_set():
                on_failure(exc)
            failing = True
        if stop.wait(backoff):
            return
        backoff = min(max_backoff, backoff * 2)
