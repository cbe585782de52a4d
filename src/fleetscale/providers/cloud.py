"""What the cloud providers (``ec2``, ``libcloud``) share: the fleetscale tags, the order in
which instance types are tried when the cloud has no capacity, and bounded backoff.

Tags written on every instance a pool launches:

- ``fleetscale:pool`` — the pool's name; ``list()`` only ever sees (and ``terminate()`` only
  ever touches) instances carrying the pool's tag;
- ``fleetscale:request-id`` — the plan's request id, so a retried launch finds what the first
  attempt made instead of launching again;
- ``fleetscale:launch-type`` — the type the plan asked for (the instance's own type may be a
  fallback type);
- ``Name`` — ``{name_prefix}-{pool}``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from typing import TypeVar

from fleetscale.model import InstanceType

TAG_POOL = "fleetscale:pool"
TAG_REQUEST = "fleetscale:request-id"
TAG_LAUNCH_TYPE = "fleetscale:launch-type"
TAG_NAME = "Name"

T = TypeVar("T")


def launch_tags(pool: str, request_id: str, launch_type: str, name_prefix: str,
                extra: dict[str, str] | None = None) -> dict[str, str]:
    tags = dict(extra or {})
    tags.update({TAG_POOL: pool, TAG_REQUEST: request_id, TAG_LAUNCH_TYPE: launch_type,
                 TAG_NAME: f"{name_prefix}-{pool}"})
    return tags


def client_token(pool: str, request_id: str, type_name: str) -> str:
    """A deterministic idempotency token (EC2 allows 64 ASCII characters)."""
    digest = hashlib.sha256(f"{pool}\x00{request_id}\x00{type_name}".encode()).hexdigest()
    return f"fs-{digest[:60]}"


def fallback_order(types: Sequence[InstanceType], first: str, fallback: bool) -> list[InstanceType]:
    """``first``, then (if ``fallback``) the pool's other types, cheapest per unit first.

    A type the pool does not configure is tried alone with weight 1.
    """
    by_name = {t.name: t for t in types}
    head = by_name.get(first, InstanceType(first))
    if not fallback:
        return [head]
    rest = sorted((t for t in types if t.name != first), key=lambda t: (t.price / t.weight, t.name))
    return [head, *rest]


def count_for(units: int, weight: int) -> int:
    """Instances of a type of ``weight`` needed to cover ``units``."""
    return max(1, math.ceil(units / max(1, weight)))


def backoff_delays(retries: int, base: float, cap: float) -> list[float]:
    """Exponential delays for ``retries`` bounded retries: base, 2*base, ... capped."""
    return [min(cap, base * (2**i)) for i in range(retries)]


def with_retries(call: Callable[[], T], retryable: Callable[[Exception], bool],
                 delays: Sequence[float], sleep: Callable[[float], None],
                 on_retry: Callable[[Exception, float], None] | None = None) -> T:
    """Run ``call``; on a retryable error sleep the next delay and try again (bounded)."""
    for delay in delays:
        try:
            return call()
        except Exception as exc:
            if not retryable(exc):
                raise
            if on_retry is not None:
                on_retry(exc, delay)
            sleep(delay)
    return call()
