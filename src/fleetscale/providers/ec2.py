"""Provider ``ec2``: AWS EC2 instances through boto3.

- ``launch(type, count, request_id)`` tags instances (see ``providers/cloud.py``) and sends a
  ``ClientToken`` derived from pool, request id and type, so AWS itself returns the first
  attempt's instances to a retried call. Before launching it also lists instances carrying the
  request id (and the requested type): if there are any, it returns them and launches nothing.
  That check is what makes launches idempotent against moto, which ignores ``ClientToken``.
- ``InsufficientInstanceCapacity`` on a type: the provider itself falls back to the pool's
  next type (cheapest per unit first), launching enough instances to cover the same capacity
  units; when every type is out, it raises ``CapacityError``. ``fallback: false`` turns that off
  (then ``CapacityError`` is raised for the type asked and the controller decides).
- Throttling (``RequestLimitExceeded``, ``Throttling``), 5xx answers (``InternalError``,
  ``Unavailable``...) and transport faults (connection reset, timeout): botocore's own retry
  mode (``standard`` by default, ``adaptive`` on request; ``max_attempts`` calls in all) first,
  then a bounded exponential backoff of our own (``throttle_retries``). A ``RunInstances`` that
  failed in a way that may have taken effect (anything but throttling) is followed, before it is
  sent again, by a look for the request's instances: a launch whose answer was lost is found,
  not repeated (AWS also dedups by ``ClientToken``; moto does not).
- An instance is ``pending`` until it runs *and* has its address; ``list()`` never returns
  terminated instances; ``terminate()`` of an unknown or foreign id is a no-op.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

import boto3
import structlog
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveFloat, PositiveInt, SecretStr

from fleetscale.errors import CapacityError, ProviderError
from fleetscale.model import Instance, InstanceState, InstanceType
from fleetscale.providers import cloud

log = structlog.get_logger(__name__)

THROTTLING = frozenset({"RequestLimitExceeded", "Throttling", "ThrottlingException"})
NO_CAPACITY = frozenset({"InsufficientInstanceCapacity", "InsufficientCapacity"})
#: server-side faults worth another attempt (the call may or may not have taken effect)
TRANSIENT = frozenset({"InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable"})
LIVE_STATES = ("pending", "running", "shutting-down", "stopping", "stopped")


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_id: str = Field(min_length=1)
    region: str = "us-east-1"
    #: e.g. ``http://127.0.0.1:5000`` for moto; None = AWS
    endpoint_url: str | None = None
    subnet_id: str | None = None
    security_group_ids: tuple[str, ...] = ()
    key_name: str | None = None
    user_data: str | None = None
    #: None = the default credential chain (environment, profile, instance role)
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    #: which address makes an instance ready (and is reported as its address)
    address: Literal["private", "public"] = "private"
    name_prefix: str = "fleetscale"
    tags: dict[str, str] = Field(default_factory=dict)
    #: fall back to the pool's other instance types on InsufficientInstanceCapacity
    fallback: bool = True
    #: botocore retry mode: "standard" (AWS recommended) or "adaptive" (adds client-side rate limiting)
    retry_mode: Literal["standard", "adaptive"] = "standard"
    #: botocore's attempts per call, the first included (its own retry, before ours)
    max_attempts: PositiveInt = Field(default=4, le=20)
    #: our bounded retries after botocore gave up (throttling, 5xx, transport faults)
    throttle_retries: NonNegativeInt = Field(default=3, le=20)
    backoff_base: PositiveFloat = Field(default=1.0, le=300)
    backoff_max: PositiveFloat = Field(default=20.0, le=3600)
    connect_timeout: PositiveFloat = Field(default=5.0, le=300)
    read_timeout: PositiveFloat = Field(default=30.0, le=3600)


def make_client(settings: Settings, botocore_session: Any = None) -> Any:
    """A boto3 EC2 client; ``botocore_session`` lets callers share loaded service models."""
    # total_max_attempts: botocore's "max_attempts" counts the retries only (one call more)
    config = Config(retries={"mode": settings.retry_mode, "total_max_attempts": settings.max_attempts},
                    connect_timeout=settings.connect_timeout, read_timeout=settings.read_timeout)
    secret = settings.secret_access_key.get_secret_value() if settings.secret_access_key else None
    session = boto3.session.Session(aws_access_key_id=settings.access_key_id,
                                    aws_secret_access_key=secret, region_name=settings.region,
                                    botocore_session=botocore_session)
    return session.client("ec2", endpoint_url=settings.endpoint_url, config=config)


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def retryable(exc: BaseException) -> bool:
    """Throttling, a 5xx fault, or a transport fault (reset, timeout, refused)."""
    return (error_code(exc) in THROTTLING | TRANSIENT
            or isinstance(exc, HTTPClientError | BotoConnectionError))


STATE_MAP = {
    "pending": InstanceState.PENDING,
    "running": InstanceState.READY,
    "shutting-down": InstanceState.TERMINATING,
    "terminated": InstanceState.GONE,
    "stopping": InstanceState.FAILED,
    "stopped": InstanceState.FAILED,
}


def to_instance(raw: dict[str, Any], types: dict[str, InstanceType], address: str) -> Instance:
    """Map one ``describe_instances`` / ``run_instances`` item to an Instance."""
    tags = {t["Key"]: t["Value"] for t in raw.get("Tags", [])}
    addr = raw.get("PrivateIpAddress") if address == "private" else raw.get("PublicIpAddress")
    state = STATE_MAP.get(raw.get("State", {}).get("Name", ""), InstanceState.PENDING)
    if state is InstanceState.READY and not addr:
        state = InstanceState.PENDING
    type_name = str(raw.get("InstanceType", ""))
    launched = raw.get("LaunchTime")
    return Instance(
        id=str(raw["InstanceId"]), type=type_name, state=state,
        weight=types[type_name].weight if type_name in types else 1,
        launched_at=launched if isinstance(launched, datetime) else None,
        address=addr or None, tags=tags,
    )


class EC2Provider:
    def __init__(self, settings: Settings, pool: str, types: Sequence[InstanceType], client: Any,
                 sleep: Callable[[float], None]) -> None:
        self.settings = settings
        self.pool = pool
        self.types = {t.name: t for t in types}
        self.client = client
        self._sleep = sleep

    # --- the Provider port ---------------------------------------------------------

    def list(self) -> builtins.list[Instance]:
        raws = self._describe([{"Name": f"tag:{cloud.TAG_POOL}", "Values": [self.pool]},
                               {"Name": "instance-state-name", "Values": list(LIVE_STATES)}])
        return [self._typed(r) for r in raws]

    def launch(self, type: str, count: int, request_id: str) -> builtins.list[Instance]:
        if count <= 0:
            return []
        existing = self._describe([{"Name": f"tag:{cloud.TAG_POOL}", "Values": [self.pool]},
                                   {"Name": f"tag:{cloud.TAG_REQUEST}", "Values": [request_id]},
                                   {"Name": f"tag:{cloud.TAG_LAUNCH_TYPE}", "Values": [type]}])
        if existing:
            log.info("launch already done", pool=self.pool, request_id=request_id, type=type,
                     instances=[r["InstanceId"] for r in existing])
            return [i for i in map(self._typed, existing) if i.state is not InstanceState.GONE]
        order = cloud.fallback_order(list(self.types.values()), type, self.settings.fallback)
        units = count * order[0].weight
        refused: builtins.list[str] = []
        for candidate in order:
            n = count if candidate is order[0] else cloud.count_for(units, candidate.weight)
            try:
                return self._run(candidate.name, n, request_id, type)
            except CapacityError as exc:
                refused.append(candidate.name)
                log.warning("no capacity", pool=self.pool, type=candidate.name, error=str(exc))
        raise CapacityError(f"ec2: no capacity for {', '.join(refused)} (pool {self.pool}, "
                            f"request {request_id})")

    def terminate(self, ids: Sequence[str], request_id: str) -> None:
        if not ids:
            return
        ours = self._describe([{"Name": f"tag:{cloud.TAG_POOL}", "Values": [self.pool]},
                               {"Name": "instance-id", "Values": list(ids)},
                               {"Name": "instance-state-name", "Values": list(LIVE_STATES)}])
        found = [r["InstanceId"] for r in ours]
        skipped = sorted(set(ids) - set(found))
        if skipped:
            log.info("terminate: not ours or already gone", pool=self.pool, ids=skipped)
        if found:
            self._call("terminate_instances", InstanceIds=found)
            log.info("terminated", pool=self.pool, request_id=request_id, ids=found)

    def close(self) -> None:
        self.client.close()

    # --- internals -----------------------------------------------------------------

    def _typed(self, raw: dict[str, Any]) -> Instance:
        return to_instance(raw, self.types, self.settings.address)

    def _run(self, type_name: str, n: int, request_id: str, launch_type: str) -> builtins.list[Instance]:
        tags = cloud.launch_tags(self.pool, request_id, launch_type, self.settings.name_prefix,
                                 self.settings.tags)
        params: dict[str, Any] = {
            "ImageId": self.settings.image_id, "InstanceType": type_name, "MinCount": n, "MaxCount": n,
            "ClientToken": cloud.client_token(self.pool, request_id, type_name),
            "TagSpecifications": [{"ResourceType": "instance",
                                   "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
        }
        if self.settings.subnet_id:
            params["SubnetId"] = self.settings.subnet_id
        if self.settings.security_group_ids:
            params["SecurityGroupIds"] = list(self.settings.security_group_ids)
        if self.settings.key_name:
            params["KeyName"] = self.settings.key_name
        if self.settings.user_data:
            params["UserData"] = self.settings.user_data
        def made_already() -> Any:
            raws = self._describe([{"Name": f"tag:{cloud.TAG_POOL}", "Values": [self.pool]},
                                   {"Name": f"tag:{cloud.TAG_REQUEST}", "Values": [request_id]},
                                   {"Name": f"tag:{cloud.TAG_LAUNCH_TYPE}", "Values": [launch_type]},
                                   {"Name": "instance-type", "Values": [type_name]}])
            return {"Instances": raws} if raws else None

        out = self._call("run_instances", before_retry=made_already, **params)
        made = [self._typed(r) for r in out.get("Instances", [])]
        log.info("launched", pool=self.pool, request_id=request_id, type=type_name,
                 ids=[i.id for i in made])
        return made

    def _describe(self, filters: builtins.list[dict[str, Any]]) -> builtins.list[dict[str, Any]]:
        raws: builtins.list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(1000):  # bounded pagination
            kwargs: dict[str, Any] = {"Filters": filters, "MaxResults": 1000}
            if token:
                kwargs["NextToken"] = token
            page = self._call("describe_instances", **kwargs)
            for res in page.get("Reservations", []):
                raws.extend(res.get("Instances", []))
            token = page.get("NextToken")
            if not token:
                break
        return raws

    def _call(self, op: str, before_retry: Callable[[], Any] | None = None, **kwargs: Any) -> Any:
        """One API call, retried (bounded, exponential) on throttling and transient faults.
        ``before_retry`` runs before a call that failed in a way that may have taken effect is
        sent again; an answer other than None is taken as the call's result."""
        s = self.settings
        delays = cloud.backoff_delays(s.throttle_retries, s.backoff_base, s.backoff_max)
        for attempt in range(len(delays) + 1):
            try:
                return getattr(self.client, op)(**kwargs)
            except (ClientError, BotoCoreError) as exc:
                if attempt == len(delays) or not retryable(exc):
                    raise self._error(op, exc, attempt + 1) from exc
                code = error_code(exc) or type(exc).__name__
                log.warning("ec2 call failed; retrying", pool=self.pool, op=op, code=code,
                            retry_in=delays[attempt])
                self._sleep(delays[attempt])
                if before_retry is not None and error_code(exc) not in THROTTLING:
                    found = before_retry()
                    if found is not None:
                        log.info("ec2 call had taken effect", pool=self.pool, op=op)
                        return found
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, op: str, exc: ClientError | BotoCoreError, attempts: int) -> ProviderError:
        code = error_code(exc)
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        if code in NO_CAPACITY:
            return CapacityError(f"ec2 {op}: {code}: {exc}")
        if code:
            return ProviderError(f"ec2 {op} failed{tries}: {code}: {exc}")
        return ProviderError(f"ec2 {op} failed{tries}: {type(exc).__name__}: {exc}")


def build(settings: Settings, ctx: Any) -> EC2Provider:
    return EC2Provider(settings, ctx.pool.name, ctx.pool.types(), make_client(settings), ctx.clock.sleep)
