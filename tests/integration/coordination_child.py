"""A replica in its own process, for the SIGSTOP test: ``python -m
tests.integration.coordination_child SPEC_JSON``.

It ticks a Coordinator for pool ``p`` and, while ``may_act``, writes through the fence. It
prints one JSON line when it first holds the pool (then naps, outside any transaction, so the
parent's SIGSTOP most likely lands there), and one when it notices it was paused (an iteration
that took more than half the TTL): whether it may act, and what the store said to a write with
the last token it held. Then it exits.
"""

from __future__ import annotations

import json
import sys
import time

import structlog

from fleetscale.coordination.replica import Coordinator
from fleetscale.errors import FencingError
from tests.integration.coordination_support import Spec, guarded_write


def say(**fields: object) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def main() -> None:
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # stdout is ours
    spec = Spec(**json.loads(sys.argv[1]))
    backend, fence, engine = spec.backend(), spec.fence(), spec.state()
    me = Coordinator(backend, ["p"], replica="sleeper", ttl=spec.ttl, safety_margin=spec.margin, max_moves=1)
    told = False
    held = None  # the last lease this replica held, kept to try a write with it after waking
    previous_top: float | None = None
    last_tick = 0.0
    while True:
        now = time.monotonic()
        # stopped anywhere in the previous iteration (in a nap, or mid-tick): the gap shows here
        if told and previous_top is not None and now - previous_top > spec.ttl / 2:
            assert held is not None
            acting = me.may_act("p", now)
            try:
                guarded_write(engine, fence, "p", "sleeper", held.token)
                outcome = "accepted"
            except FencingError as exc:
                outcome = f"refused: {exc}"
            say(woke=True, may_act=acting, write=outcome, token=held.token)
            return
        previous_top = now
        if now - last_tick >= 0.2:
            me.tick()
            last_tick = time.monotonic()
        held = me.lease("p") or held
        nap = 0.02
        if me.may_act("p", time.monotonic()):
            assert held is not None
            guarded_write(engine, fence, "p", "sleeper", held.token)
            if not told:
                say(acquired=held.token)
                told = True
                nap = 0.8  # outside any transaction: the parent stops us now
        time.sleep(nap)


if __name__ == "__main__":
    main()
