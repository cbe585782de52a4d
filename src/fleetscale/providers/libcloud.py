"""Provider ``libcloud``: the Provider port over any Apache Libcloud compute driver.

The pool's instance types are the driver's *size* ids (``t3.small``, ``m1.small``,
``e2-standard-2``, ...), each with the pool's capacity weight and price. Libcloud has no
common tag or idempotency API, so this provider carries what it needs in the node **name**,
which every driver supports: ``{name_prefix}-{pool}-{key}-{slot}``, where ``key`` is a hash of
(request id, requested type) and ``slot`` numbers the nodes of that launch. A retried launch
lists nodes first and creates only the slots that do not exist yet: no duplicates, even when
the first attempt was interrupted half-way. Where the driver takes tags (``tags_kwarg``,
``ex_metadata`` for EC2 and OpenStack) the fleetscale tags are written too.

No capacity (an error naming one of ``capacity_errors``) on a type: the next type of the mix
is tried for the units still missing, as the ``ec2`` provider does. Throttling (an error naming
one of ``throttle_errors``), a 5xx answer (an HTTP error of status 500 or more, or one naming
one of ``transient_errors``) and transport faults (connection reset or refused, timeout):
bounded exponential backoff (``throttle_retries``). Before a ``create_node`` that failed in a way
that may have taken effect is sent again, the node is looked for by its name: a node whose
answer was lost is found, not created twice. A launch that stops part-way (fewer nodes than
asked) raises a ProviderError saying how many units were made; the write-ahead replay of the
same request (or the next cycle) creates only the missing slots.

Against moto (tests only) the EC2 driver needs ``driver_args: {signature_version: "4", host:
127.0.0.1, port: PORT, secure: false}`` plus a namespace patch that stays in the tests; see
``docs/cloud-providers.md``.
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any, Literal

import structlog
from libcloud.compute.base import Node, NodeImage, NodeSize
from libcloud.compute.providers import get_driver
from libcloud.compute.types import NodeState
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveFloat, SecretStr

from fleetscale.errors import CapacityError, ProviderError
from fleetscale.model import Instance, InstanceState, InstanceType
from fleetscale.providers import cloud

log = structlog.get_logger(__name__)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: a libcloud compute Provider name: ``ec2``, ``openstack``, ``gce``, ``azure_arm``, ...
    driver: str = Field(min_length=1)
    key: str
    secret: SecretStr | None = None
    #: extra driver constructor arguments (``region``, ``host``, ``port``, ``secure``, ...)
    driver_args: dict[str, Any] = Field(default_factory=dict)
    image_id: str = Field(min_length=1)
    location_id: str | None = None
    #: extra ``create_node`` arguments (``ex_keyname``, ``ex_security_group_ids``, ``ex_subnet``)
    create_args: dict[str, Any] = Field(default_factory=dict)
    #: the create_node argument that takes a tag dict; None = names only
    tags_kwarg: str | None = "ex_metadata"
    tags: dict[str, str] = Field(default_factory=dict)
    name_prefix: str = Field(default="fleetscale", pattern=r"^[a-z][a-z0-9-]{0,30}$")
    address: Literal["private", "public"] = "private"
    fallback: bool = True
    capacity_errors: tuple[str, ...] = ("InsufficientInstanceCapacity", "InsufficientCapacity",
                                        "ZONE_RESOURCE_POOL_EXHAUSTED", "SkuNotAvailable")
    throttle_errors: tuple[str, ...] = ("RequestLimitExceeded", "Throttling", "RateLimit",
                                        "Too Many Requests")
    #: error words of server-side faults worth another attempt (besides any HTTP status >= 500)
    transient_errors: tuple[str, ...] = ("InternalError", "InternalFailure", "ServiceUnavailable",
                                         "Unavailable")
    #: bounded retries of throttling, transient and transport faults
    throttle_retries: NonNegativeInt = Field(default=3, le=20)
    backoff_base: PositiveFloat = Field(default=1.0, le=300)
    backoff_max: PositiveFloat = Field(default=20.0, le=3600)


STATE_MAP = {
    NodeState.PENDING: InstanceState.PENDING, NodeState.STARTING: InstanceState.PENDING,
    NodeState.REBOOTING: InstanceState.PENDING, NodeState.UNKNOWN: InstanceState.PENDING,
    NodeState.RECONFIGURING: InstanceState.PENDING, NodeState.MIGRATING: InstanceState.PENDING,
    NodeState.UPDATING: InstanceState.PENDING, NodeState.RUNNING: InstanceState.READY,
    NodeState.NORMAL: InstanceState.READY, NodeState.STOPPING: InstanceState.FAILED,
    NodeState.STOPPED: InstanceState.FAILED, NodeState.SUSPENDED: InstanceState.FAILED,
    NodeState.PAUSED: InstanceState.FAILED, NodeState.ERROR: InstanceState.FAILED,
    NodeState.TERMINATED: InstanceState.GONE,
}


def launch_key(request_id: str, launch_type: str) -> str:
    return hashlib.sha256(f"{request_id}\x00{launch_type}".encode()).hexdigest()[:10]


class LibcloudProvider:
    def __init__(self, settings: Settings, pool: str, types: Sequence[InstanceType], driver: Any,
                 sleep: Callable[[float], None]) -> None:
        self.settings = settings
        self.pool = pool
        self.types = {t.name: t for t in types}
        self.driver = driver
        self._sleep = sleep
        self._names = re.compile(rf"^{re.escape(settings.name_prefix)}-{re.escape(pool)}"
                                 rf"-(?P<key>[0-9a-f]{{10}})-(?P<slot>\d+)$")
        self._sizes: dict[str, NodeSize] | None = None

    # --- the Provider port ---------------------------------------------------------

    def list(self) -> builtins.list[Instance]:
        return [i for i in map(self.to_instance, self._ours()) if i.state is not InstanceState.GONE]

    def launch(self, type: str, count: int, request_id: str) -> builtins.list[Instance]:
        if count <= 0:
            return []
        key = launch_key(request_id, type)
        existing = [n for n in self._ours() if self._slot(n)[0] == key]
        order = cloud.fallback_order(list(self.types.values()), type, self.settings.fallback)
        wanted = count * order[0].weight
        covered = sum(self._weight(n) for n in existing)
        slot = max((self._slot(n)[1] for n in existing), default=-1) + 1
        made: builtins.list[Node] = []
        refused: builtins.list[str] = []
        for candidate in order:
            while covered < wanted:
                try:
                    made.append(self._create(candidate.name, key, slot, request_id, type))
                except CapacityError as exc:
                    refused.append(candidate.name)
                    log.warning("no capacity", pool=self.pool, type=candidate.name, error=str(exc))
                    break
                except ProviderError as exc:
                    raise ProviderError(f"{exc} (partial launch: {covered}/{wanted} units made for "
                                        f"request {request_id}; a retry makes only the rest)") from exc
                covered += candidate.weight
                slot += 1
            if covered >= wanted:
                break
        if covered < wanted:
            raise CapacityError(f"libcloud: no capacity for {', '.join(refused)} (pool {self.pool}, "
                                f"request {request_id}; {covered}/{wanted} units launched)")
        if existing and not made:
            log.info("launch already done", pool=self.pool, request_id=request_id, type=type)
        out = [self.to_instance(n) for n in [*existing, *made]]
        return [i for i in out if i.state is not InstanceState.GONE]

    def terminate(self, ids: Sequence[str], request_id: str) -> None:
        wanted = set(ids)
        if not wanted:
            return
        found = [n for n in self._ours() if n.id in wanted and n.state != NodeState.TERMINATED]
        for node in found:
            self._call("destroy_node", functools.partial(self.driver.destroy_node, node))
        skipped = sorted(wanted - {n.id for n in found})
        if skipped:
            log.info("terminate: not ours or already gone", pool=self.pool, ids=skipped)
        if found:
            log.info("terminated", pool=self.pool, request_id=request_id, ids=[n.id for n in found])

    # --- mapping -------------------------------------------------------------------

    def to_instance(self, node: Node) -> Instance:
        extra = node.extra or {}
        tags = extra.get("tags") if isinstance(extra.get("tags"), dict) else extra.get("metadata")
        tags = {str(k): str(v) for k, v in (tags or {}).items()} if isinstance(tags, dict) else {}
        ips = node.private_ips if self.settings.address == "private" else node.public_ips
        addr = ips[0] if ips else None
        state = STATE_MAP.get(node.state, InstanceState.PENDING)
        if extra.get("status") == "shutting-down":  # EC2's driver maps it to UNKNOWN
            state = InstanceState.TERMINATING
        if state is InstanceState.READY and not addr:
            state = InstanceState.PENDING
        type_name = self._type_of(node, tags)
        return Instance(id=str(node.id), type=type_name, state=state,
                        weight=self.types[type_name].weight if type_name in self.types else 1,
                        launched_at=getattr(node, "created_at", None), address=addr,
                        tags={**tags, "Name": node.name})

    # --- internals -----------------------------------------------------------------

    def _ours(self) -> builtins.list[Node]:
        nodes = self._call("list_nodes", self.driver.list_nodes)
        return [n for n in nodes if self._names.match(n.name or "")]

    def _slot(self, node: Node) -> tuple[str, int]:
        m = self._names.match(node.name or "")
        return (m["key"], int(m["slot"])) if m else ("", -1)

    def _type_of(self, node: Node, tags: dict[str, str]) -> str:
        extra = node.extra or {}
        for value in (getattr(node.size, "id", None), extra.get("instance_type"),
                      extra.get("flavorId"), extra.get("machineType"), tags.get(cloud.TAG_LAUNCH_TYPE)):
            if value:
                return str(value).rsplit("/", 1)[-1]
        return "unknown"

    def _weight(self, node: Node) -> int:
        t = self.types.get(self._type_of(node, {}))
        return t.weight if t else 1

    def _size(self, name: str) -> NodeSize:
        if self._sizes is None:
            self._sizes = {s.id: s for s in self._call("list_sizes", self.driver.list_sizes)}
        return self._sizes.get(name) or NodeSize(id=name, name=name, ram=0, disk=0, bandwidth=None,
                                                 price=0.0, driver=self.driver)

    def _create(self, type_name: str, key: str, slot: int, request_id: str, launch_type: str) -> Node:
        s = self.settings
        kwargs: dict[str, Any] = dict(s.create_args)
        if s.location_id:
            locations = self._call("list_locations", self.driver.list_locations)
            kwargs["location"] = next((loc for loc in locations if loc.id == s.location_id), None)
        if s.tags_kwarg:
            tags = cloud.launch_tags(self.pool, request_id, launch_type, s.name_prefix, s.tags)
            tags.pop(cloud.TAG_NAME)  # the node name is the Name
            kwargs[s.tags_kwarg] = tags
        name = f"{s.name_prefix}-{self.pool}-{key}-{slot}"
        image = NodeImage(id=s.image_id, name=s.image_id, driver=self.driver)

        def made_already() -> Node | None:
            return next((n for n in self._ours() if n.name == name and n.state != NodeState.TERMINATED),
                        None)

        node: Node = self._call("create_node", lambda: self.driver.create_node(
            name=name, size=self._size(type_name), image=image, **kwargs), before_retry=made_already)
        log.info("launched", pool=self.pool, request_id=request_id, type=type_name, id=node.id, name=name)
        return node

    def _matches(self, exc: Exception, words: Sequence[str]) -> bool:
        text = f"{type(exc).__name__}: {exc}"
        return any(w in text for w in words)

    def _transient(self, exc: Exception) -> bool:
        """A 5xx answer or a transport fault: the call may or may not have taken effect."""
        code = getattr(exc, "code", None)
        return (isinstance(exc, OSError)  # requests' ConnectionError and Timeout are OSErrors
                or (isinstance(code, int) and code >= 500)
                or self._matches(exc, self.settings.transient_errors))

    def _call(self, op: str, call: Callable[[], Any],
              before_retry: Callable[[], Any] | None = None) -> Any:
        """``call``, retried (bounded, exponential) on throttling and transient faults;
        ``before_retry`` runs before a call that may have taken effect is sent again, and an
        answer other than None is taken as the call's result."""
        s = self.settings
        delays = cloud.backoff_delays(s.throttle_retries, s.backoff_base, s.backoff_max)
        for attempt in range(len(delays) + 1):
            try:
                return call()
            except Exception as exc:
                if self._matches(exc, s.capacity_errors):
                    raise CapacityError(f"libcloud {op}: {exc}") from exc
                throttled = self._matches(exc, s.throttle_errors)
                if attempt == len(delays) or not (throttled or self._transient(exc)):
                    tries = f" (after {attempt + 1} attempts)" if attempt else ""
                    raise ProviderError(f"libcloud {op} failed{tries}: {type(exc).__name__}: {exc}") from exc
                log.warning("libcloud call failed; retrying", pool=self.pool, op=op, error=str(exc),
                            retry_in=delays[attempt])
                self._sleep(delays[attempt])
                if before_retry is not None and not throttled:
                    found = before_retry()
                    if found is not None:
                        log.info("libcloud call had taken effect", pool=self.pool, op=op)
                        return found
        raise AssertionError("unreachable")  # pragma: no cover


def make_driver(settings: Settings) -> Any:
    try:
        cls = get_driver(settings.driver)
    except AttributeError as exc:
        raise ProviderError(f"libcloud: unknown driver {settings.driver!r}") from exc
    secret = settings.secret.get_secret_value() if settings.secret else None
    args = (settings.key, secret) if secret is not None else (settings.key,)
    return cls(*args, **settings.driver_args)


def build(settings: Settings, ctx: Any) -> LibcloudProvider:
    return LibcloudProvider(settings, ctx.pool.name, ctx.pool.types(), make_driver(settings), ctx.clock.sleep)
