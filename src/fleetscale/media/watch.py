"""The media source's watch: the pool's ``<prefix>events`` channel -> notifications.

The media Lua scripts (``fleetscale/lua/media_*.lua``) PUBLISH every placement, release,
participants change, registration, removal and state change of a pool on its channel
(``KeySchema.events``), inside the script, so every writer that follows the protocol is
heard, whatever its language. ``MediaWatch`` subscribes on its own connection, in a thread,
and calls ``notify`` for each message. When Redis goes away it resubscribes (0.2 s doubling
up to 5 s) and notifies once subscribed again, since messages may have been missed (Redis
pub/sub does not keep them).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import redis
import structlog

from fleetscale.reconnect import keep_connected

log = structlog.get_logger(__name__)


class MediaWatch:
    def __init__(self, client: redis.Redis, channel: str, notify: Callable[[str], None], name: str,
                 max_backoff: float = 5.0) -> None:
        self._client = client
        self.channel = channel
        self._notify = notify
        self._max_backoff = max_backoff
        self._stop = threading.Event()
        #: subscriptions made so far (tests read it)
        self.subscriptions = 0
        self._thread = threading.Thread(target=self._loop, name=f"fleetscale-media-{name}", daemon=True)

    def start(self) -> MediaWatch:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        def lost(exc: BaseException) -> None:
            log.warning("media events unavailable; retrying", channel=self.channel, error=str(exc))

        keep_connected(self._session, self._stop, (redis.RedisError, OSError), lost, self._max_backoff)

    def _session(self) -> None:
        pubsub: Any = self._client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(self.channel)
            self.subscriptions += 1
            self._notify("media_redis: subscribed")
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=0.5)
                if message and message.get("type") == "message":
                    data = message.get("data")
                    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
                    self._notify(f"media_redis: {text[:200]}")
        finally:
            pubsub.close()
