"""Acting with write-ahead intents, and recovering after a crash.

``WriteAhead`` wraps one pool's provider and drainer. Each action writes its intent first,
acts, then marks the intent done (``journal/intents.py``). ``recover()`` (called on start and at
the top of each reconcile) replays pending intents idempotently:

- launch    -> ``provider.launch`` again with the same request id: the provider finds the
               instances the first attempt made (request-id tag / ClientToken), no duplicate;
- terminate -> ``provider.terminate`` again: terminating a gone instance is a no-op (only
               after a crash: a terminate the provider refused is closed as failed, and
               the next cycle decides again from a fresh view);
- drain     -> on the first recovery after a start, ``drainer.begin`` again (re-begin) while
               the instance exists, so a drain is never forgotten (``draining()`` lists it);
               a drain whose instance is gone is closed;
- cancel    -> ``drainer.cancel`` again, then the drain is closed.

A drainer that refuses during the replay (its database unreachable) is an error of the
recovery (``Recovery.errors``), never an exception: the cancel or re-begin is retried by the
next recovery, and the rest of the replay goes on.

``JournaledProvider`` / ``JournaledDrainer`` present a ``WriteAhead`` as the ordinary Provider
and Drainer ports, so a controller gains write-ahead intents without changing how it acts;
``recover_into(store, listed)`` replays and then brings the controller's own durable state
(known instances, drains; ``controller.Store``) in line with what was replayed. Unknown
tagged instances are left to the reconciler's ``unknown_instances`` policy: recovery first
makes every instance a killed launch made known, so only true strangers remain unknown.

Crash points for tests: ``crash_at`` names one step (e.g. ``after-launch-request``); when the
step is reached the process kills itself with SIGKILL. Steps: ``after-launch-intent``,
``after-launch-request``, ``after-launch-done``, ``after-drain-intent``, ``after-drain-begin``,
``after-cancel-intent``, ``after-terminate-intent``, ``after-terminate-request``,
``after-terminate-done``.
"""

from __future__ import annotations

import builtins
import os
import signal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import structlog

from fleetscale.errors import CapacityError
from fleetscale.journal.intents import RETENTION, IntentLog
from fleetscale.model import Instance, InstanceState
from fleetscale.ports import Clock, Drainer, Provider

log = structlog.get_logger(__name__)

CRASH_ENV = "FLEETSCALE_CRASH_AT"


def crash_at_from_env() -> str | None:
    """The crash step named in ``FLEETSCALE_CRASH_AT`` (read once, by the wiring)."""
    return os.environ.get(CRASH_ENV) or None


@dataclass
class Recovery:
    """What ``recover()`` replayed (for the cycle's journal record)."""

    launched: list[str] = field(default_factory=list)
    terminated: list[str] = field(default_factory=list)
    redrained: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    #: instances whose record the controller's store lacked (killed after an intent was done)
    resynced: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def lines(self) -> tuple[str, ...]:
        out = [f"recovered launch: {', '.join(self.launched)}"] if self.launched else []
        out += [f"recovered terminate: {', '.join(self.terminated)}"] if self.terminated else []
        out += [f"recovered drain: {', '.join(self.redrained)}"] if self.redrained else []
        out += [f"recovered cancel: {', '.join(self.cancelled)}"] if self.cancelled else []
        out += [f"resynced journal: {', '.join(self.resynced)}"] if self.resynced else []
        return tuple(out)


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
        #: drains to begin again after this start (None until the first recovery lists them);
        #: one the drainer refused stays here and is retried by the next recovery
        self._rebegin: set[str] | None = None

    # --- acting --------------------------------------------------------------------

    def launch(self, type: str, count: int, request_id: str) -> list[Instance]:
        intent = self.intents.begin(self.pool, request_id, "launch", type, {"count": count})
        self._step("after-launch-intent")
        try:
            made: builtins.list[Instance] = list(self.provider.launch(type, count, request_id))
        except CapacityError as exc:  # nothing was launched: the intent is closed
            self.intents.fail([intent.id], str(exc))
            raise
        # any other error leaves the intent pending: the launch may have happened, and
        # recover() replays it with the same request id
        self._step("after-launch-request")
        self.intents.finish([intent.id], {"ids": [i.id for i in made]})
        self._step("after-launch-done")
        return made

    def begin_drain(self, instance: Instance, request_id: str) -> None:
        intent = self.intents.begin(self.pool, request_id, "drain", instance.id, {"type": instance.type})
        self._step("after-drain-intent")
        try:
            self.drainer.begin(instance)
        except Exception as exc:  # not draining: a restart must not begin it on its own
            self.intents.fail([intent.id], f"{type(exc).__name__}: {exc}")
            raise
        self._step("after-drain-begin")

    def cancel_drain(self, instance: Instance, request_id: str) -> None:
        intent = self.intents.begin(self.pool, request_id, "cancel", instance.id)
        self._step("after-cancel-intent")
        self.drainer.cancel(instance)
        self._close_drains([instance.id])
        self.intents.finish([intent.id])

    def terminate(self, ids: Sequence[str], request_id: str) -> None:
        if not ids:
            return
        written = [self.intents.begin(self.pool, request_id, "terminate", i) for i in ids]
        self._step("after-terminate-intent")
        try:
            self.provider.terminate(list(ids), request_id)
        except Exception as exc:
            # closed, not left pending: a replay next cycle would act on a decision taken before
            # the instances could change (a pending one booted and took sessions); the
            # controller decides again from a fresh view (a crash, not an error, is replayed)
            self.intents.fail((i.id for i in written), f"{type(exc).__name__}: {exc}")
            raise
        self._step("after-terminate-request")
        self._close_drains(ids)
        self.intents.finish(i.id for i in written)
        self._step("after-terminate-done")

    def draining(self) -> set[str]:
        """Instance ids whose drain is under way (survives restarts)."""
        return self.intents.draining(self.pool)

    # --- recovery ------------------------------------------------------------------

    def recover(self, listed: Iterable[Instance] | None = None) -> Recovery:
        """Replay this pool's pending intents; ``listed`` is a fresh ``provider.list()``."""
        done = Recovery()
        pending = self.intents.pending(self.pool)
        if not pending:
            self.started = True
            if self._rebegin is None:
                self._rebegin = set()
            return done
        for intent in (i for i in pending if i.action == "launch"):
            try:
                count = int(intent.args.get("count", 0))
                again: builtins.list[Instance] = list(self.provider.launch(intent.target, count,
                                                                           intent.request_id))
            except CapacityError as exc:
                self.intents.fail([intent.id], str(exc))
                done.errors.append(f"replay launch {intent.request_id}/{intent.target}: {exc}")
                continue
            except Exception as exc:  # the cycle goes on; the intent stays pending for next time
                done.errors.append(f"replay launch {intent.request_id}/{intent.target}: {exc}")
                continue
            self.intents.finish([intent.id], {"ids": [i.id for i in again]})
            done.launched += [i.id for i in again]
        terms = [i for i in pending if i.action == "terminate"]
        if terms:
            by_request: dict[str, list[int]] = {}
            for i in terms:
                by_request.setdefault(i.request_id, []).append(i.id)
            for request_id, intent_ids in by_request.items():
                ids = [i.target for i in terms if i.request_id == request_id]
                try:
                    self.provider.terminate(ids, request_id)
                except Exception as exc:  # closed as in terminate(): the next cycle decides again
                    self.intents.fail(intent_ids, f"{type(exc).__name__}: {exc}")
                    done.errors.append(f"replay terminate {ids}: {exc}")
                    continue
                self._close_drains(ids)
                self.intents.finish(intent_ids)
                done.terminated += ids
        current = {i.id: i for i in (listed if listed is not None else self.provider.list())}
        for intent in (i for i in pending if i.action == "cancel"):
            inst = current.get(intent.target)
            try:
                if inst is not None:
                    self.drainer.cancel(inst)
            except Exception as exc:  # the intent stays pending: retried by the next recovery
                done.errors.append(f"replay cancel {intent.target}: {exc}")
                continue
            self._close_drains([intent.target])
            self.intents.finish([intent.id])
            done.cancelled.append(intent.target)
        draining = sorted(self.intents.draining(self.pool))
        if self._rebegin is None:  # after a (re)start: a drain may never have reached the drainer
            self._rebegin = set(draining)
        self.started = True
        for target in draining:
            inst = current.get(target)
            if inst is None or inst.state in (InstanceState.GONE, InstanceState.TERMINATING):
                self._close_drains([target])  # nothing left to drain
                self._rebegin.discard(target)
                continue
            if target in self._rebegin:
                try:
                    self.drainer.begin(inst)
                except Exception as exc:  # kept in _rebegin: retried by the next recovery
                    done.errors.append(f"replay drain {target}: {exc}")
                    continue
                self._rebegin.discard(target)
                done.redrained.append(target)
        if done.lines() or done.errors:
            log.info("recovered", pool=self.pool, done=done.lines(), errors=done.errors)
        return done

    # --- internals -----------------------------------------------------------------

    def _close_drains(self, ids: Iterable[str]) -> None:
        wanted = set(ids)
        self.intents.finish(i.id for i in self.intents.pending(self.pool, "drain") if i.target in wanted)

    def _step(self, name: str) -> None:
        if self.crash_at == name:
            log.warning("crash point reached, killing this process", step=name)
            os.kill(os.getpid(), signal.SIGKILL)


class DurableState(Protocol):
    """The part of the controller's durable state recovery keeps in line (``controller.Store``)."""

    def drains(self, pool: str) -> dict[str, datetime]: ...
    def known(self, pool: str) -> set[str]: ...
    def add_drain(self, pool: str, instance_id: str, at: datetime) -> None: ...
    def remove_drains(self, pool: str, ids: Sequence[str]) -> None: ...
    def add_known(self, pool: str, ids: Sequence[str], how: str, at: datetime) -> None: ...
    def forget(self, pool: str, ids: Sequence[str]) -> None: ...


def recover_into(wa: WriteAhead, store: DurableState, listed: list[Instance],
                 now: datetime) -> tuple[list[Instance], Recovery]:
    """Replay ``wa``'s pending intents, update ``store``, and return a fresh listing if the
    replay launched or terminated anything (else ``listed``).

    On the first call after a start it also closes the gap between an intent marked done and
    the controller's own record of it (killed in between): live instances the intents launched
    become known, and instances the intents terminated are forgotten.
    """
    startup = not wa.started
    rec = wa.recover(listed)
    if startup:
        live = {i.id for i in listed}
        known = store.known(wa.pool)
        unrecorded = sorted((wa.intents.known(wa.pool) & live) - known - set(rec.launched))
        if unrecorded:
            store.add_known(wa.pool, unrecorded, "launched", now)
            rec.resynced += unrecorded
        gone = sorted(known & wa.intents.finished(wa.pool, "terminate") - live)
        if gone:
            store.remove_drains(wa.pool, gone)
            store.forget(wa.pool, gone)
            rec.resynced += gone
        wa.intents.prune(wa.pool, now - RETENTION)
    if rec.launched:
        store.add_known(wa.pool, rec.launched, "launched", now)
    if rec.terminated:
        store.remove_drains(wa.pool, rec.terminated)
        store.forget(wa.pool, rec.terminated)
    drains = store.drains(wa.pool)
    for iid in rec.redrained:
        if iid not in drains:
            store.add_drain(wa.pool, iid, now)
    if rec.cancelled:
        store.remove_drains(wa.pool, rec.cancelled)
    if rec.launched or rec.terminated:
        listed = [i for i in wa.provider.list() if i.state is not InstanceState.GONE]
    return listed, rec


class JournaledProvider:
    """The Provider port over a WriteAhead: launch and terminate write intents first."""

    def __init__(self, wa: WriteAhead) -> None:
        self.wa = wa

    def list(self) -> builtins.list[Instance]:
        return self.wa.provider.list()

    def launch(self, type: str, count: int, request_id: str) -> builtins.list[Instance]:
        return self.wa.launch(type, count, request_id)

    def terminate(self, ids: Sequence[str], request_id: str) -> None:
        self.wa.terminate(ids, request_id)

    def close(self) -> Any:
        close = getattr(self.wa.provider, "close", None)
        return close() if callable(close) else None

    def __getattr__(self, name: str) -> Any:
        """Anything else (optional hooks, e.g. the simulated provider's ``drainer()``) is the
        wrapped provider's."""
        return getattr(self.wa.provider, name)


class JournaledDrainer:
    """The Drainer port over a WriteAhead: begin and cancel write intents first."""

    def __init__(self, wa: WriteAhead) -> None:
        self.wa = wa
        self._seq = 0

    def begin(self, instance: Instance) -> None:
        self.wa.begin_drain(instance, self._request_id("drain", instance))

    def cancel(self, instance: Instance) -> None:
        self.wa.cancel_drain(instance, self._request_id("cancel", instance))

    def sessions(self, instance: Instance) -> int | None:
        return self.wa.drainer.sessions(instance)

    def close(self) -> Any:
        close = getattr(self.wa.drainer, "close", None)
        return close() if callable(close) else None

    def __getattr__(self, name: str) -> Any:
        """Anything else (optional hooks, e.g. ``media_redis``'s ``reconcile``) is the wrapped
        drainer's."""
        return getattr(self.wa.drainer, name)

    def _request_id(self, what: str, instance: Instance) -> str:
        self._seq += 1
        when = self.wa.clock.now().strftime("%Y%m%dT%H%M%S.%f") if self.wa.clock else "-"
        return f"{what}:{instance.id}:{when}:{self._seq}"
