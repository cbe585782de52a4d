"""Source ``sqs``: the backlog of one or more Amazon SQS queues (boto3).

Each read asks every queue for its approximate counts (``GetQueueAttributes``) and emits
two pool-wide observations with the same value, the total number of messages:

- ``backlog``: what a backlog-per-instance policy divides by the current dynos/instances;
- ``load``: the same total, for policies that read the default metric.

Which counts make up the total (as KEDA's ``aws-sqs-queue`` scaler):

- ``ApproximateNumberOfMessages`` (visible, waiting): always;
- ``ApproximateNumberOfMessagesNotVisible`` (in flight: received, not yet deleted):
  ``in_flight`` (default **true**, as KEDA's ``scaleOnInFlight``). A message a worker holds
  is work still to do; leaving it out lets the pool shrink under busy workers;
- ``ApproximateNumberOfMessagesDelayed``: ``delayed`` (default false, as KEDA's
  ``scaleOnDelayed``): not yet deliverable, so no worker could take it now.

A failed read (missing queue, bad credentials, timeout) never raises: it becomes an error
Observation for ``backlog`` and ``load`` that names the queue, and the pool holds.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import boto3
import structlog
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, SecretStr

from fleetscale.errors import SourceError
from fleetscale.model import Observation

log = structlog.get_logger(__name__)

VISIBLE = "ApproximateNumberOfMessages"
IN_FLIGHT = "ApproximateNumberOfMessagesNotVisible"
DELAYED = "ApproximateNumberOfMessagesDelayed"


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: queue names (resolved with GetQueueUrl) or full queue URLs
    queues: tuple[str, ...] = Field(min_length=1)
    region: str | None = None
    #: e.g. http://127.0.0.1:5000 for moto; None = AWS (or AWS_ENDPOINT_URL_SQS)
    endpoint_url: str | None = None
    #: explicit keys; else read from the environment variables named below; else boto3's chain
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    access_key_env: str | None = None
    secret_key_env: str | None = None
    in_flight: bool = True
    delayed: bool = False
    #: seconds for connect and for read, per call
    timeout: PositiveFloat = Field(default=5.0, le=300)
    name: str = "sqs"


def _credentials(settings: Settings, environ: Any) -> dict[str, str]:
    key = settings.access_key_id.get_secret_value() if settings.access_key_id else None
    secret = settings.secret_access_key.get_secret_value() if settings.secret_access_key else None
    if key is None and settings.access_key_env:
        key = environ.get(settings.access_key_env) or None
    if secret is None and settings.secret_key_env:
        secret = environ.get(settings.secret_key_env) or None
    if key and secret:
        return {"aws_access_key_id": key, "aws_secret_access_key": secret}
    return {}  # boto3's own chain (AWS_ACCESS_KEY_ID, profiles, instance roles)


def make_client(settings: Settings, environ: Any = os.environ) -> Any:
    config = BotoConfig(
        connect_timeout=settings.timeout,
        read_timeout=settings.timeout,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    # a private session: boto3's default session caches credentials process-wide
    return boto3.session.Session().client(
        "sqs",
        region_name=settings.region,
        endpoint_url=settings.endpoint_url,
        config=config,
        **_credentials(settings, environ),
    )


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'error')}: {err.get('Message', '')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


class SqsSource:
    """Reads queue depths. ``client`` is a boto3 SQS client (injected in tests)."""

    def __init__(self, settings: Settings, client: Any) -> None:
        self.settings = settings
        self.client = client
        self._urls: dict[str, str] = {}

    def _url(self, queue: str) -> str:
        if queue.startswith(("https://", "http://")):
            return queue
        if queue not in self._urls:
            url = self.client.get_queue_url(QueueName=queue).get("QueueUrl")
            if not isinstance(url, str) or not url:
                raise SourceError(f"sqs queue {queue}: the answer to GetQueueUrl has no QueueUrl")
            self._urls[queue] = url
        return self._urls[queue]

    def depth(self, queue: str) -> int:
        """Messages counted for ``queue``; raises SourceError naming the queue."""
        names = [VISIBLE]
        if self.settings.in_flight:
            names.append(IN_FLIGHT)
        if self.settings.delayed:
            names.append(DELAYED)
        try:
            attrs = self.client.get_queue_attributes(QueueUrl=self._url(queue), AttributeNames=names)
        except (ClientError, BotoCoreError, ResponseParserError) as exc:
            self._urls.pop(queue, None)  # a deleted and recreated queue gets a new URL
            raise SourceError(f"sqs queue {queue}: {_describe(exc)}") from exc
        values = attrs.get("Attributes", {}) if isinstance(attrs, dict) else None
        try:
            counts = [int(values.get(n, 0)) for n in names]  # type: ignore[union-attr]
        except (AttributeError, TypeError, ValueError) as exc:
            raise SourceError(f"sqs queue {queue}: unreadable counts {values!r}") from exc
        if any(c < 0 for c in counts):
            raise SourceError(f"sqs queue {queue}: negative counts {values!r}")
        return sum(counts)

    def read(self, pool: str, now: datetime) -> list[Observation]:
        total = 0
        for queue in self.settings.queues:
            try:
                total += self.depth(queue)
            except SourceError as exc:
                log.warning("sqs_read_failed", pool=pool, queue=queue, error=str(exc))
                return [Observation(self.settings.name, m, None, now, error=str(exc))
                        for m in ("backlog", "load")]
        return [Observation(self.settings.name, m, float(total), now) for m in ("backlog", "load")]

    def close(self) -> None:
        """Release the client's HTTP connections (the wiring calls it at shutdown)."""
        self.client.close()


def build(settings: Settings, ctx: Any) -> SqsSource:
    return SqsSource(settings, make_client(settings))
