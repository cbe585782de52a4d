"""Acting with write-ahead intents, and recovering after a crash.

``WriteAhead`` wraps one pool's provider and drainer. Each action writes its intent first,
then acts; the intent stays open until the controller has saved the state that records the
action's effect (``commit()``, called after ``StateStore.save``), so a process killed anywhere
between the intent and the saved state replays the action on restart instead of losing it.
An action that fails is closed as failed at once (a failed launch that may still have
happened stays open: the replay finds what it made).

``recover(listed, drains)`` (the first thing a cycle does after listing) replays the pool's
open intents idempotently and reports what it did as a ``Recovery``; ``recovered(state, ...)``
folds that into the ``FleetState`` (pure):

- launch    -> ``provider.launch`` again with the same request id: the provider finds the
               instances the first attempt made (request-id tag / ClientToken), no duplicate;
- terminate -> ``provider.terminate`` again: terminating a gone instance is a no-op; a
               terminate the provider refuses is closed as failed, and the next cycle decides
               again from a fresh view;
- drain     -> ``drainer.begin`` again while the instance exists (a drain is never forgotten);
- cancel    -> ``drainer.cancel`` again.

On the first recovery after a start, every drain the saved state holds is begun again too
(idempotent), in case the drainer lost it. A drainer that refuses during the replay is an
error of the recovery (``Recovery.errors``), never an exception; it is retried by the next one.

Crash points for tests: ``crash_at`` names one step (e.g. ``after-launch-request``); when the
step is reached the process kills itself with SIGKILL. Steps: ``after-launch-intent``,
``after-launch-request``, ``after-launch-done``, ``after-drain-intent``, ``after-drain-begin``,
``after-cancel-intent``, ``after-terminate-intent``, ``after-terminate-request``,
``after-terminate-done`` (the ``-done`` steps come after the state is saved and the intents
closed).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from fleetscale.errors import CapacityError
from fleetscale.journal.intents import RETENTION, Intent, IntentLog
from fleetscale.model import Instance, InstanceState
from fleetscale.ports import Clock, Drainer, Provider
from fleetscale.state import FleetState

log = structlog.get_logger(__name__)

CRASH_ENV = "FLEETSCALE_CRASH_AT"


def crash_at_from_env() -> str | None:
    """The crash step named in ``FLEETSCALE_CRASH_AT`` (read once, by the wiring)."""
    return os.environ.get(CRASH_ENV) or None


@dataclass
class Recovery:
    """What ``recover()`` replayed (for the cycle's journal record)."""

    launched: list[Instance] = field(default_factory=list)
    terminated: list[str] = field(default_factory=list)
    redrained: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def changed_fleet(self) -> bool:
        return bool(self.launched or self.terminated)

    def lines(self) -> tuple[str, ...]:
        out = [f"recovered launch: {', '.join(i.id for i in self.launched)}"] if self.launched else []
        out += [f"recovered terminate: {', '.join(self.terminated)}"] if self.terminated else []
        out += [f"recovered drain: {', '.join(self.redrained)}"] if self.redrained else []
        out += [f"recovered cancel: {', '.join(self.cancelled)}"] if self.cancelled else []
        return tuple(out)


def recovered(state: FleetState, rec: Recovery, now: datetime) -> FleetState:
    """``state`` with what a recovery replayed (pure)."""
    state = state.launched(rec.launched, now)
    state = state.gone(rec.terminated)
    state = state.forget_drains(rec.cancelled)
    for iid in rec.redrained:
        if iid not in state.drains:
            state = state.drain_recorded(iid, now)
    return state


class WriteAhead:
    def __init__(self, pool: str, provider: Provider, drainer: Drainer, intents: IntentLog,
                 crash_at: str | None = None, clock: Clock | None = None) -> None:
        self.pool = pool
        self.clock = clock
        self.provider = provider
        self.drainer = drainer
        self.intents = intents
        self.crash_at = crash_at
        self.started = False
        #: intents acted on (or replayed) whose effect is not yet in a saved state
        self._open: list[tuple[int, str]] = []
        #: intents left open by a failure (a launch that may have happened, a refused cancel):
        #: replayed by the next recovery (after the first, recovery reads no database)
        self._retry: list[Intent] = []
        #: drains to begin again after this start (None until the first recovery); one the
        #: drainer refused stays here and is retried by the next recovery
        self._rebegin: set[str] | None = None
        self._seq = 0

    # --- acting --------------------------------------------------------------------

    def launch(self, type: str, count: int, request_id: str) -> list[Instance]:
        intent = self.intents.begin(self.pool, request_id, "launch", type, {"count": count})
        self._step("after-launch-intent")
        try:
            made: list[Instance] = list(self.provider.launch(type, count, request_id))
        except CapacityError as exc:  # nothing was launched: the intent is closed
            self.intents.fail([intent.id], str(exc))
            raise
        except Exception:
            self._retry.append(intent)
            raise
        # any other error leaves the intent open: the launch may have happened, and the next
        # recovery replays it with the same request id
        self._step("after-launch-request")
        self._open.append((intent.id, "launch"))
        return made

    def begin_drain(self, instance: Instance) -> None:
        intent = self.intents.begin(self.pool, self._request_id("drain", instance), "drain", instance.id,
                                    {"type": instance.type})
        self._step("after-drain-intent")
        try:
            self.drainer.begin(instance)
        except Exception as exc:  # not draining: a restart must not begin it on its own
            self.intents.fail([intent.id], f"{type(exc).__name__}: {exc}")
            raise
        self._step("after-drain-begin")
        self._open.append((intent.id, "drain"))

    def cancel_drain(self, instance: Instance) -> None:
        intent = self.intents.begin(self.pool, self._request_id("cancel", instance), "cancel", instance.id)
        self._step("after-cancel-intent")
        try:
            self.drainer.cancel(instance)
        except Exception:  # left open: the next recovery retries it
            self._retry.append(intent)
            raise
        self._open.append((intent.id, "cancel"))

    def terminate(self, ids: Sequence[str], request_id: str) -> None:
        if not ids:
            return
        written = [self.intents.begin(self.pool, request_id, "terminate", i) for i in ids]
        self._step("after-terminate-intent")
        try:
            self.provider.terminate(list(ids), request_id)
        except Exception as exc:
            # closed, not left open: a replay next cycle would act on a decision taken before
            # the instances could change; the controller decides again from a fresh view
            self.intents.fail((i.id for i in written), f"{type(exc).__name__}: {exc}")
            raise
        self._step("after-terminate-request")
        self._open.extend((i.id, "terminate") for i in written)

    def commit(self) -> None:
        """Close the intents whose effect the controller has now saved in its state."""
        if not self._open:
            return
        kinds = {k for _, k in self._open}
        self.intents.finish(i for i, _ in self._open)
        self._open.clear()
        if "launch" in kinds:
            self._step("after-launch-done")
        if "terminate" in kinds:
            self._step("after-terminate-done")

    # --- recovery ------------------------------------------------------------------

    def recover(self, listed: Iterable[Instance], drains: Mapping[str, datetime],
                now: datetime | None = None) -> Recovery:
        """Replay this pool's open intents; ``listed`` is a fresh ``provider.list()`` and
        ``drains`` the drains of the loaded state."""
        done = Recovery()
        startup = not self.started
        self.started = True
        if self._rebegin is None:
            self._rebegin = set(drains)
        pending = self.intents.pending(self.pool) if startup else self._retry
        self._retry = []
        open_ids = {i for i, _ in self._open}
        pending = [i for i in pending if i.id not in open_ids]
        for intent in (i for i in pending if i.action == "launch"):
            try:
                count = int(intent.args.get("count", 0))
                again: list[Instance] = list(self.provider.launch(intent.target, count, intent.request_id))
            except CapacityError as exc:
                self.intents.fail([intent.id], str(exc))
                done.errors.append(f"replay launch {intent.request_id}/{intent.target}: {exc}")
                continue
            except Exception as exc:  # the cycle goes on; the intent stays open for next time
                done.errors.append(f"replay launch {intent.request_id}/{intent.target}: {exc}")
                self._retry.append(intent)
                continue
            self._open.append((intent.id, "launch"))
            done.launched += again
        by_request: dict[str, list[tuple[int, str]]] = {}
        for i in pending:
            if i.action == "terminate":
                by_request.setdefault(i.request_id, []).append((i.id, i.target))
        for request_id, items in by_request.items():
            ids = [t for _, t in items]
            try:
                self.provider.terminate(ids, request_id)
            except Exception as exc:  # closed as in terminate(): the next cycle decides again
                self.intents.fail((i for i, _ in items), f"{type(exc).__name__}: {exc}")
                done.errors.append(f"replay terminate {ids}: {exc}")
                continue
            self._open.extend((i, "terminate") for i, _ in items)
            done.terminated += ids
        current = {i.id: i for i in listed}
        for intent in (i for i in pending if i.action == "cancel"):
            inst = current.get(intent.target)
            try:
                if inst is not None:
                    self.drainer.cancel(inst)
            except Exception as exc:  # stays open: retried by the next recovery
                done.errors.append(f"replay cancel {intent.target}: {exc}")
                self._retry.append(intent)
                continue
            self._open.append((intent.id, "cancel"))
            self._rebegin.discard(intent.target)
            done.cancelled.append(intent.target)
        for intent in (i for i in pending if i.action == "drain"):
            inst = current.get(intent.target)
            if inst is None or inst.state in (InstanceState.GONE, InstanceState.TERMINATING):
                self.intents.finish([intent.id])  # nothing left to drain
                continue
            try:
                self.drainer.begin(inst)
            except Exception as exc:
                done.errors.append(f"replay drain {intent.target}: {exc}")
                self._retry.append(intent)
                continue
            self._open.append((intent.id, "drain"))
            self._rebegin.discard(intent.target)
            done.redrained.append(intent.target)
        for target in sorted(self._rebegin):
            inst = current.get(target)
            if inst is None or inst.state in (InstanceState.GONE, InstanceState.TERMINATING):
                self._rebegin.discard(target)
                continue
            try:
                self.drainer.begin(inst)
            except Exception as exc:  # kept: retried by the next recovery
                done.errors.append(f"replay drain {target}: {exc}")
                continue
            self._rebegin.discard(target)
        if startup and now is not None:
            self.intents.prune(self.pool, now - RETENTION)
        if done.lines() or done.errors:
            log.info("recovered", pool=self.pool, done=done.lines(), errors=done.errors)
        return done

    # --- internals -----------------------------------------------------------------

    def _request_id(self, what: str, instance: Instance) -> str:
        self._seq += 1
        when = self.clock.now().strftime("%Y%m%dT%H%M%S.%f") if self.clock else "-"
        return f"{what}:{instance.id}:{when}:{self._seq}"

    def _step(self, name: str) -> None:
        if self.crash_at == name:
            log.warning("crash point reached, killing this process", step=name)
            os.kill(os.getpid(), signal.SIGKILL)
