"""One replica process for the three-replica test: ``python -m
tests.integration.coordination_replica SPEC_JSON NAME MAX_MOVES POOL...``.

It runs a Coordinator in a thread and, every 50 ms, prints one JSON line: its monotonic time and
the pools it may act on now (with their tokens). SIGTERM stops it cleanly (releases its pools).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from types import FrameType

import structlog

from fleetscale.coordination.replica import Coordinator
from tests.integration.coordination_support import Spec


def main() -> None:
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # stdout is ours
    spec = Spec(**json.loads(sys.argv[1]))
    name, max_moves, pools = sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    me = Coordinator(spec.backend(), pools, replica=name, ttl=spec.ttl, safety_margin=spec.margin,
                     max_moves=max_moves)
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()
    signal.signal(signal.SIGTERM, on_term)
    loop = threading.Thread(target=me.run, args=(stop, 0.3))
    loop.start()
    while not stop.is_set():
        now = time.monotonic()
        acting = {p: lease.token for p, lease in me.owned().items() if me.may_act(p, now)}
        sys.stdout.write(json.dumps({"t": now, "acting": acting}) + "\n")
        sys.stdout.flush()
        stop.wait(0.05)
    loop.join(timeout=30)
    sys.stdout.write(json.dumps({"t": time.monotonic(), "acting": {}, "stopped": True}) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
