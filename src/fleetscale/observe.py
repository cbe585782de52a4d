"""The controller's reads for one cycle (I/O): sources, the provider's listing, and the live
sessions of draining instances. Nothing here raises for a failed read: a source that fails is
an error observation, a listing that fails is ``None`` with its error, a drainer that cannot
count is an unknown count (busy)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime

from fleetscale.model import Instance, InstanceState, Observation, session_count
from fleetscale.ports import Drainer, Provider, Source

_GONE = InstanceState.GONE


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def read_sources(sources: Iterable[Source], pool: str, now: datetime) -> list[Observation]:
    """Every source's observations; a source that raises becomes an error observation, and so
    does a garbage reading (NaN, infinite, negative: every metric counts something), so that
    the pool holds *and* the record says why."""
    out: list[Observation] = []
    for src in sources:
        try:
            out.extend(src.read(pool, now))
        except Exception as exc:
            metric = str(getattr(src, "metric", "load"))
            out.append(Observation(type(src).__name__, metric, None, now, error=describe(exc)))
    for k, o in enumerate(out):
        v = o.value
        if v is not None and o.error is None and not (v >= 0 and math.isfinite(v)):
            out[k] = Observation(o.source, o.metric, None, o.at, o.instance_id,
                                 error=f"garbage reading {v!r} (not a finite count >= 0)")
    return out


def source_errors(observations: Iterable[Observation]) -> list[str]:
    return [f"source {o.source} {o.metric}: {o.error}" for o in observations if o.error]


def list_instances(provider: Provider, last: tuple[Instance, ...] = ()
                   ) -> tuple[tuple[Instance, ...] | None, str | None]:
    """The provider's live instances, or (None, error) when it cannot list. ``last`` is the
    listing this returned before: the very same tuple again is not checked again."""
    try:
        listed = provider.list()
    except Exception as exc:
        return None, f"provider list failed: {describe(exc)}; holding"
    if isinstance(listed, tuple) and (listed is last or not any(i.state is _GONE for i in listed)):
        return listed, None  # a provider that hands out one tuple while nothing changes
    return tuple(i for i in listed if i.state is not _GONE), None


def read_sessions(drainer: Drainer, draining: Sequence[Instance], observations: list[Observation],
                  now: datetime) -> tuple[dict[str, int | None], list[str]]:
    """Live sessions of draining instances: the drainer's count and a source's ``sessions``
    reading, the larger when both are known; None (busy) when neither is. A count only the
    drainer knew is added to ``observations`` (for the journal)."""
    if not draining:
        return {}, []
    from_sources = {o.instance_id: n for o in observations
                    if o.metric == "sessions" and o.instance_id and (n := session_count(o)) is not None}
    out: dict[str, int | None] = {}
    errors: list[str] = []
    for inst in draining:
        try:
            n = drainer.sessions(inst)
        except Exception as exc:
            errors.append(f"drainer sessions {inst.id}: {describe(exc)}")
            n = None
        seen = from_sources.get(inst.id)
        if n is None:
            n = seen
        elif seen is not None:
            n = max(n, seen)  # two counts disagree: trust the busier one
        else:
            observations.append(Observation("drainer", "sessions", float(n), now, instance_id=inst.id))
        out[inst.id] = n
    return out, errors
